package translate

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman/telemetry"
	"github.com/dragoman-gw/dragoman/upstream"
)

// Caller is the authenticated client of a request.
type Caller interface {
	// Name identifies the key; it becomes the owner of what it creates.
	Name() string
	CanRead(collection string) bool
	CanEdit(collection string) bool
}

// Authenticator checks a presented secret and returns its caller.
type Authenticator interface {
	Authenticate(secret string) (Caller, bool)
}

// Forwarder passes a request on unchanged but for credentials, and
// returns a canonical error only when the upstream could not be reached.
// ctx is the request's store context: it ends when the client goes away
// (with WatchClients) or at shutdown's cut-off, and the call with it.
type Forwarder interface {
	Forward(ctx context.Context, c *fiber.Ctx) error
}

// Limiter decides whether a caller may make one more request now.
type Limiter interface {
	Allow(callerName string) bool
}

// Options configure a Gateway.
type Options struct {
	Store upstream.Store
	Auth  Authenticator
	// Limiter, if set, rate-limits each key.
	Limiter Limiter
	// Signer, if set, makes presigned download links for link routes.
	Signer *Signer
	// Forward maps a dialect to where requests it does not model go (a
	// same-dialect upstream); without one they are not found.
	Forward map[string]Forwarder
	Logger  *slog.Logger
	// Telemetry, if set, names each request's route for the metrics and
	// the access log; its Wrap must be in front of the app.
	Telemetry *telemetry.Telemetry
	// CORS, if set, answers preflights and marks answers for browsers.
	CORS *CORS
	// Stop ends the context of every request's store work when it closes:
	// the end of a graceful shutdown's grace. Nil: never.
	Stop <-chan struct{}
	// PresignTTL, above zero, answers a download of a route with
	// response.redirect: presigned, and a presigned link, with a 307 to
	// the store's own URL of the bytes, valid that long, when the content
	// has one (upstream.PresignedContent) and the request is not
	// conditional; otherwise the bytes stream as always.
	PresignTTL time.Duration
	// WatchClients ends a bodiless request's store work when its client
	// goes away (a goroutine per request: for a store whose calls can take
	// long, a remote upstream).
	WatchClients bool
}

// Gateway serves every dialect of a Config over one store.
type Gateway struct {
	cfg  *Config
	opts Options
	log  *slog.Logger
	// renderBufs recycles the buffers JSON answers are rendered into.
	renderBufs sync.Pool
	// lastOrigin is the origin last answered (originOf).
	lastOrigin atomic.Pointer[cachedOrigin]
}

// NewGateway builds a gateway; the config is already compiled, so nothing
// here can fail per request for reasons of configuration.
func NewGateway(cfg *Config, opts Options) *Gateway {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	g := &Gateway{cfg: cfg, opts: opts, log: log}
	g.renderBufs.New = func() any { b := make([]byte, 0, 4096); return &b }
	return g
}

// Mount registers every dialect's routes on app, then a catch-all per mount
// so that unknown paths get the dialect's own not-found answer.
func (g *Gateway) Mount(app fiber.Router) {
	if g.opts.CORS != nil {
		app.Use(g.opts.CORS.mark)
		g.mountPreflights(app)
	}
	link := g.probe("", telemetry.RouteLink, "", nil)
	app.Get(LinkPath+":token", headLength(func(c *fiber.Ctx) error {
		telemetry.FromContext(c.Context()).SetRoute(link)
		return g.serveLink(c)
	}))
	for _, d := range g.cfg.dialects {
		for _, r := range d.routes {
			app.Add(r.spec.Method, r.fullPath, g.handler(r))
			if r.spec.Method == fiber.MethodGet {
				// HEAD is GET without the body (RFC 9110 9.3.2): same
				// status and headers, Content-Length included.
				app.Add(fiber.MethodHead, r.fullPath, headLength(g.handler(r)))
			}
		}
	}
	// Longest mount first: "/api/v1" must win over "/api".
	ds := append([]*compiledDialect(nil), g.cfg.dialects...)
	sort.SliceStable(ds, func(i, j int) bool { return len(ds[i].spec.Mount) > len(ds[j].spec.Mount) })
	for _, d := range ds {
		d := d
		unmatched := g.probe(d.name, telemetry.RouteUnmatched, "", d)
		rest := func(c *fiber.Ctx) error {
			telemetry.FromContext(c.Context()).SetRoute(unmatched)
			err := upstream.Errorf(upstream.KindNotFound, "no such endpoint")
			if pc := precheckOf(c); pc != nil {
				return g.refuse(c, pc, d, nil, err)
			}
			discardBody(c)
			return g.writeError(c, d, nil, err)
		}
		if fwd := g.opts.Forward[d.name]; fwd != nil {
			rest = g.forwarder(d, fwd)
		}
		app.All(d.spec.Mount, headLength(rest))
		app.All(d.spec.Mount+"/*", headLength(rest))
	}
}

// headLength gives a HEAD answer GET's Content-Length when its body is
// empty: fasthttp writes the length of a skipped body only when it has
// some, so an empty error answer would lose its "Content-Length: 0".
func headLength(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := h(c)
		resp := c.Response()
		if c.Method() == fiber.MethodHead && resp.Header.ContentLength() == 0 && len(resp.Body()) == 0 && !resp.IsBodyStream() {
			resp.Header.SetContentLength(0)
		}
		return err
	}
}

// forwarder passes on what the gateway does not model. The caller still
// needs a gateway key; since the gateway cannot tell which collection an
// unmodelled request touches, only keys unlimited by collection pass, and
// only keys that may edit pass anything but GET and HEAD.
func (g *Gateway) forwarder(d *compiledDialect, fwd Forwarder) fiber.Handler {
	probe := g.probe(d.name, telemetry.RoutePassThrough, "", d)
	return func(c *fiber.Ctx) error {
		req := telemetry.FromContext(c.Context())
		req.SetRoute(probe)
		caller, err := g.authenticate(c, d)
		if err == nil {
			req.SetKey(caller.Name())
		}
		pc := precheckOf(c)
		if err == nil && pc == nil && g.opts.Limiter != nil && !g.opts.Limiter.Allow(caller.Name()) {
			err = upstream.Errorf(upstream.KindRateLimited, "rate limit exceeded")
		}
		if err == nil && !caller.CanRead("") {
			err = upstream.Errorf(upstream.KindForbidden, "this key is limited to some collections and cannot pass requests through")
		}
		if err == nil && c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead && !caller.CanEdit("") {
			err = upstream.Errorf(upstream.KindForbidden, "this key is read-only")
		}
		if pc != nil {
			if err != nil {
				return g.refuse(c, pc, d, nil, err)
			}
			return accept(c, pc)
		}
		if err == nil {
			if d.signed != nil {
				// A signature made with a gateway key is the gateway's, not
				// the upstream's (the forwarder swaps the plain header).
				c.Request().Header.Del(d.signed.header)
			}
			var rc requestContext
			ctx, stop := g.watchedStoreContext(c, &rc)
			err = fwd.Forward(ctx, c)
			stop()
		}
		if err != nil {
			discardBody(c)
			return g.writeError(c, d, nil, err)
		}
		return nil
	}
}

// handler builds the pipeline of one route: auth, limits, decode,
// operation, encode. Everything route-specific was compiled already.
func (g *Gateway) handler(r *compiledRoute) fiber.Handler {
	probe := g.probe(r.d.name, r.spec.Name, string(r.spec.Op), r.d, r.status)
	return func(c *fiber.Ctx) error {
		req := telemetry.FromContext(c.Context())
		req.SetRoute(probe)
		caller, err := g.authenticate(c, r.d)
		if err == nil {
			req.SetKey(caller.Name())
		}
		if pc := precheckOf(c); pc != nil {
			if err == nil {
				err = r.checkHeaders(c, caller)
			}
			if err != nil {
				return g.refuse(c, pc, r.d, r, err)
			}
			return accept(c, pc)
		}
		if err == nil && g.opts.Limiter != nil && !g.opts.Limiter.Allow(caller.Name()) {
			err = upstream.Errorf(upstream.KindRateLimited, "rate limit exceeded")
		}
		var b *bound
		if err == nil {
			b, err = r.decode(c)
		}
		if err == nil {
			b.headOnly = r.rawContent && c.Method() == fiber.MethodHead
		}
		if err == nil {
			err = checkScope(r, b, caller)
		}
		var res *result
		if err == nil {
			ctx, stop := g.watchedStoreContext(c, &b.rc)
			res, err = r.run(ctx, g.opts.Store, g.opts.Signer, b, caller)
			stop()
		}
		if err != nil {
			discardBody(c)
			return g.writeError(c, r.d, r, err)
		}
		return g.respond(c, r, b, res)
	}
}

// probe resolves a route's telemetry at mount: its metric children for
// the statuses it answers (its own, and its dialect's error statuses).
func (g *Gateway) probe(dialect, name, op string, d *compiledDialect, statuses ...int) *telemetry.Route {
	if g.opts.Telemetry == nil {
		return nil
	}
	if d != nil {
		for _, s := range d.errStatus {
			statuses = append(statuses, s)
		}
	}
	return g.opts.Telemetry.Route(dialect, name, op, statuses)
}

// authenticate reads the dialect's credential header.
func (g *Gateway) authenticate(c *fiber.Ctx, d *compiledDialect) (Caller, error) {
	cred := d.spec.Credential
	v := strings.TrimSpace(c.Get(cred.Header))
	if v == "" && d.signed != nil {
		if sv := c.Get(d.signed.header); sv != "" {
			return g.authenticateSigned(c, d, sv)
		}
		return nil, upstream.Errorf(upstream.KindUnauthorized, "missing credentials in %s or %s", cred.Header, d.signed.header)
	}
	if v == "" {
		return nil, upstream.Errorf(upstream.KindUnauthorized, "missing credentials in %s", cred.Header)
	}
	if cred.Scheme != "" {
		scheme, rest, ok := strings.Cut(v, " ")
		switch {
		case ok && strings.EqualFold(scheme, cred.Scheme):
			v = strings.TrimSpace(rest)
		case !cred.SchemeOptional:
			return nil, upstream.Errorf(upstream.KindUnauthorized, "credentials must be %s <token>", cred.Scheme)
		}
	}
	caller, ok := g.opts.Auth.Authenticate(v)
	if !ok {
		return nil, upstream.Errorf(upstream.KindUnauthorized, "invalid credentials")
	}
	return caller, nil
}

// checkScope enforces the key's read/edit scope on the collection the
// request names; operations by id check the attachment's own collection
// again once they have found it.
func checkScope(r *compiledRoute, b *bound, caller Caller) error {
	col, named := b.strs.get("record.collection")
	if r.spec.Scope == "edit" {
		if !named && r.op.Addresses {
			// By id: the attachment's collection is checked once found;
			// here only a key that may edit nowhere is refused. Asking
			// CanEdit("") would refuse every collection-limited key.
			if readOnly(caller) {
				return errReadOnly()
			}
			return nil
		}
		if !caller.CanEdit(col) {
			if named && !caller.CanRead(col) {
				return forbidden()
			}
			return errReadOnly()
		}
		return nil
	}
	if named && !caller.CanRead(col) {
		return forbidden()
	}
	return nil
}
