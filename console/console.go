// Package console is the operator's web console: one small page, served
// from assets embedded in the binary, over a JSON API under the same
// prefix. It shows the dialects and their routes as the loaded routes.yaml
// compiles them, the matrix column of the upstream in use, live traffic
// from the metrics registry /metrics is served from, the store, a running
// migration and the mirror. docs/console.md describes it.
//
// Every API call needs a key of the key ring, sent as
// "Authorization: Bearer <secret>"; the page asks for it once and keeps it
// in the tab's sessionStorage. A key sees only the collections it may
// read, and only a key that may edit a collection can delete in it.
package console

import (
	"crypto/rand"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman/migrate"
	"github.com/dragoman-gw/dragoman/telemetry"
	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/mirror"
)

// Prefix is where the console is mounted, on the admin listener or the
// main one.
const Prefix = "/console"

// Options configure the console.
type Options struct {
	// Auth checks the key every API call presents.
	Auth translate.Authenticator
	// Routes returns the compiled routes in use (a reload swaps them).
	Routes func() *translate.Config
	// Upstream is what --upstream names: "bundled", or DIALECT+URL.
	Upstream string
	// Telemetry gives the recent requests and the metrics registry.
	Telemetry *telemetry.Telemetry
	// Store is the store behind the gateway, as the dialects see it.
	Store upstream.Store
	// Mirror, when a --mirror is configured, gives its counters;
	// MirrorURL and MirrorMode describe it.
	Mirror                interface{ Stats() mirror.Stats }
	MirrorURL, MirrorMode string
	// MigrateStatus is the status file of a migration to show (the
	// --status of `dragoman migrate`); empty: none.
	MigrateStatus string
	// LogJSON renders a request's log line as the json log format does;
	// otherwise as the text format.
	LogJSON bool
	// Logger gets the console's own errors.
	Logger *slog.Logger
	// DownloadTTL is how long a download link the console hands out works
	// (default 5 minutes).
	DownloadTTL time.Duration
	// Now is the clock (default time.Now); tests set it.
	Now func() time.Time
}

// Console serves the page and its API.
type Console struct {
	o Options
	// linkKey signs the console's download links; made at start, so a
	// link dies with the process.
	linkKey []byte
	// store's optional listing capabilities, asked once.
	enumerate migrate.Enumerator
	lister    upstream.RecordLister
	// latency keeps the histograms the traffic page's quantiles diff.
	latency *latencyWindow
}

// New builds the console.
func New(o Options) *Console {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DownloadTTL <= 0 {
		o.DownloadTTL = 5 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Upstream == "" {
		o.Upstream = "bundled"
	}
	o.Upstream, o.MirrorURL = withoutUserinfo(o.Upstream), withoutUserinfo(o.MirrorURL)
	c := &Console{o: o, linkKey: make([]byte, 32), latency: newLatencyWindow(quantileWindow, snapshotSpacing)}
	_, _ = rand.Read(c.linkKey)
	c.lister, _ = o.Store.(upstream.RecordLister)
	c.enumerate, _ = o.Store.(migrate.Enumerator)
	return c
}

// Mount adds the console's routes, under Prefix, to r.
func (c *Console) Mount(r fiber.Router) {
	g := r.Group(Prefix)
	g.Use(securityHeaders)
	// Without strict routing /console and /console/ are one route: the
	// page's relative links need the slash.
	g.Get("/", func(f *fiber.Ctx) error {
		if !strings.HasSuffix(f.Path(), "/") {
			return f.Redirect(Prefix+"/", fiber.StatusFound)
		}
		return c.page(f)
	})
	g.Get("/assets/:file", c.asset)
	g.Get("/download/:token", c.download)
	api := g.Group("/api", c.authenticate)
	api.Get("/session", c.session)
	api.Get("/dialects", c.dialects)
	api.Get("/traffic", c.traffic)
	api.Get("/requests/:id", c.requestLine)
	api.Get("/store", c.collections)
	api.Get("/store/records", c.records)
	api.Get("/store/attachments/:id", c.attachment)
	api.Post("/store/attachments/:id/link", c.downloadLink)
	api.Delete("/store/attachments/:id", c.deleteAttachment)
	api.Get("/migration", c.migration)
	api.Get("/mirror", c.mirror)
	// Anything else under the API is a JSON 404, not the page.
	api.Use(func(f *fiber.Ctx) error { return apiError(f, fiber.StatusNotFound, "no such console API") })
}

// securityHeaders keep the page to its own assets and out of frames.
func securityHeaders(f *fiber.Ctx) error {
	f.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	f.Set("X-Content-Type-Options", "nosniff")
	f.Set("Referrer-Policy", "no-referrer")
	f.Set("Cache-Control", "no-store")
	return f.Next()
}

// callerKey finds the authenticated caller among a request's locals.
const callerKey = "console.caller"

// authenticate lets an API call through with a key of the ring.
func (c *Console) authenticate(f *fiber.Ctx) error {
	secret, ok := strings.CutPrefix(f.Get(fiber.HeaderAuthorization), "Bearer ")
	if !ok || secret == "" {
		f.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="dragoman console"`)
		return apiError(f, fiber.StatusUnauthorized, "a key is needed: Authorization: Bearer <key>")
	}
	caller, ok := c.o.Auth.Authenticate(secret)
	if !ok {
		f.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="dragoman console"`)
		return apiError(f, fiber.StatusUnauthorized, "unknown key")
	}
	if r := telemetry.FromContext(f.Context()); r != nil {
		r.SetKey(caller.Name())
	}
	f.Locals(callerKey, caller)
	return f.Next()
}

func callerOf(f *fiber.Ctx) translate.Caller {
	caller, _ := f.Locals(callerKey).(translate.Caller)
	return caller
}

// readOnly reports whether the caller's key is read-only everywhere.
func readOnly(caller translate.Caller) bool {
	if ro, ok := caller.(interface{ ReadOnly() bool }); ok {
		return ro.ReadOnly()
	}
	return false
}

// apiError answers {"error": msg} with status.
func apiError(f *fiber.Ctx, status int, msg string) error {
	return f.Status(status).JSON(fiber.Map{"error": msg})
}

// session says which key the page is using and what it may do.
func (c *Console) session(f *fiber.Ctx) error {
	caller := callerOf(f)
	return f.JSON(fiber.Map{"key": caller.Name(), "read_only": readOnly(caller)})
}

// migrationStatus is what the console knows of a migration.
type migrationStatus struct {
	// Configured is false when serve was given no --migrate-status.
	Configured bool   `json:"configured"`
	File       string `json:"file,omitempty"`
	// Found is false while the file does not exist (no migration has run).
	Found bool `json:"found"`
	// Running: the state is running and the file was updated lately;
	// Stale: it says running but has not been updated for a while (the
	// migrate process was killed).
	Running bool            `json:"running"`
	Stale   bool            `json:"stale"`
	Status  *migrate.Status `json:"status,omitempty"`
	Error   string          `json:"error,omitempty"`
}

// withoutUserinfo drops a user and password from a DIALECT+URL, which the
// page would otherwise show.
func withoutUserinfo(spec string) string {
	dialect, raw, ok := strings.Cut(spec, "+")
	if !ok {
		return spec
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return spec
	}
	u.User = nil
	return dialect + "+" + u.String()
}
