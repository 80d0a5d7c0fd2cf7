package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/valyala/fasthttp"

	"github.com/dragoman-gw/dragoman/connguard"
	"github.com/dragoman-gw/dragoman/console"
	"github.com/dragoman-gw/dragoman/telemetry"
	"github.com/dragoman-gw/dragoman/translate"
)

// server is one running gateway: its telemetry and store last the
// process; its routes (an app built from one compiled routes.yaml) are
// swapped whole by a reload, for new requests only.
type server struct {
	sc    serveConfig
	args  []string // the command line, read again by a reload
	log   *slog.Logger
	tel   *telemetry.Telemetry
	store pinger
	// primary is the store under a --mirror, whose readiness /readyz says.
	primary pinger
	opts    translate.Options
	// proxies are the trusted proxies (--trusted-proxies); holdBodies the
	// memory budget's middleware, one for every routes file served.
	proxies    []string
	holdBodies fiber.Handler

	current atomic.Pointer[mounted]
	// reloadMu makes reloads one at a time.
	reloadMu sync.Mutex
	// stop closes when a shutdown's grace is over: every request's store
	// work ends then.
	stop     chan struct{}
	stopOnce sync.Once
	// active counts requests being handled.
	active atomic.Int64
	conns  connTracker
	// serving is the handler chain the listener runs, built once.
	serving fasthttp.RequestHandler
	// console is served on --admin, or on the main listener without one.
	console *console.Console
}

// mounted is one compiled routes.yaml, ready to serve.
type mounted struct {
	app     *fiber.App
	gw      *translate.Gateway
	handler fasthttp.RequestHandler
	cfg     *translate.Config
}

// build mounts cfg on a new app. Nothing in it can fail: cfg is compiled.
func (s *server) build(cfg *translate.Config, cors *translate.CORS) *mounted {
	opts := s.opts
	opts.Telemetry, opts.CORS, opts.Stop = s.tel, cors, s.stop
	gw := translate.NewGateway(cfg, opts)
	log := s.log
	app := fiber.New(fiber.Config{
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		BodyLimit:                    s.sc.bufferLimit,
		DisableStartupMessage:        true,
		IdleTimeout:                  120 * time.Second,
		ReadBufferSize:               16 << 10,
		// X-Forwarded-* (in c.Protocol, c.Hostname) only from these.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          s.proxies,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			var fe *fiber.Error
			if errors.As(err, &fe) {
				// fiber's own messages quote the request ("Cannot GET
				// /path"): only the status's text goes back.
				return c.Status(fe.Code).SendString(utils.StatusMessage(fe.Code))
			}
			log.Error("unhandled error", "request_id", telemetry.RequestID(c.Context()), "path", c.Path(), "err", err)
			return c.Status(fiber.StatusInternalServerError).SendString("internal error")
		},
	})
	// A panic in one handler answers 500 instead of ending every request.
	app.Use(recover.New())
	app.Use(func(c *fiber.Ctx) error {
		if f := connguard.CheckFraming(&c.Request().Header); f != nil {
			return gw.WriteConnError(c, c.Path(), f.Status, f.Text)
		}
		return c.Next()
	})
	if s.holdBodies != nil {
		app.Use(s.holdBodies)
	}
	store := s.store
	app.Get("/healthz", func(c *fiber.Ctx) error {
		if err := store.Ping(c.Context()); err != nil {
			return c.Status(fiber.StatusServiceUnavailable).SendString("store unavailable")
		}
		return c.SendString("ok")
	})
	app.Get("/readyz", readyz(s.primary))
	if h := s.tel.MetricsHandler(); h != nil && s.sc.admin == "" {
		app.Get("/metrics", fasthttpHandler(h))
	}
	if s.console != nil && s.sc.admin == "" {
		s.console.Mount(app)
	}
	gw.Mount(app)
	return &mounted{app: app, gw: gw, handler: app.Handler(), cfg: cfg}
}

func fasthttpHandler(h fasthttp.RequestHandler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		h(c.Context())
		return nil
	}
}

// handle serves one request with the routes current when it arrived.
func (s *server) handle(ctx *fasthttp.RequestCtx) {
	s.active.Add(1)
	defer s.active.Add(-1)
	s.serving(ctx)
}

func (s *server) dispatch(ctx *fasthttp.RequestCtx) { s.current.Load().handler(ctx) }

// reload reads the command line, --config and the routes file again,
// checks them fully and swaps the new routes in; on any error the old
// ones keep serving and the log says why.
func (s *server) reload(source string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	cfg, cors, name, err := s.reread()
	s.tel.Reloaded(err == nil)
	if err != nil {
		s.log.Error("reload refused; the routes in use keep serving", "source", source, "err", err)
		return err
	}
	s.current.Store(s.build(cfg, cors))
	s.log.Info("reloaded", "source", source, "routes", name)
	return nil
}

func (s *server) reread() (*translate.Config, *translate.CORS, string, error) {
	var sc serveConfig
	fs := serveFlags("serve", &sc, io.Discard, io.Discard)
	if _, _, ok := fs.parse(s.args); !ok {
		return nil, nil, "", errors.New("the command line no longer parses")
	}
	if err := applySettings(fs.FlagSet, sc.config, os.LookupEnv); err != nil {
		return nil, nil, "", err
	}
	cfg, name, err := loadRoutes(sc.routes)
	if err != nil {
		return nil, nil, name, fmt.Errorf("%s: %w", name, err)
	}
	cors, err := translate.ParseCORSOrigins(sc.corsOrigins)
	if err != nil {
		return nil, nil, name, fmt.Errorf("cors_origins: %w", err)
	}
	if restartOnly(s.sc) != restartOnly(sc) {
		s.log.Warn("settings other than routes and cors_origins changed; they take effect only at restart")
	}
	return cfg, cors, name, nil
}

// restartOnly is every setting but those a reload applies, to tell
// whether any of them changed.
func restartOnly(sc serveConfig) string {
	sc.routes, sc.corsOrigins, sc.config = "", "", ""
	return fmt.Sprintf("%+v", sc)
}

// startAdmin serves /metrics, POST /reload and /openapi/NAME.json on addr;
// the returned func stops it and waits for it.
func (s *server) startAdmin(addr string) (func(), error) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if h := s.tel.MetricsHandler(); h != nil {
		app.Get("/metrics", fasthttpHandler(h))
	}
	app.Post("/reload", func(c *fiber.Ctx) error {
		if err := s.reload("POST /reload"); err != nil {
			return c.Status(fiber.StatusBadRequest).SendString(err.Error() + "\n")
		}
		return c.SendString("reloaded\n")
	})
	app.Get("/openapi/:file", s.serveOpenAPI)
	if s.console != nil {
		s.console.Mount(app)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--admin %s: %w", addr, err)
	}
	s.log.Info("admin listening", "addr", ln.Addr().String())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := app.Listener(ln); err != nil {
			s.log.Error("admin listener", "err", err)
		}
	}()
	return func() {
		_ = app.ShutdownWithTimeout(5 * time.Second)
		<-done
	}, nil
}

// shutdown stops accepting, lets requests in flight finish within the
// grace, then ends what is left: their store work is cancelled (an upload
// cut off leaves nothing behind) and their connections closed. Draining
// first, as connguard does, closes every connection not in a request and
// refuses new ones with 503, and keeps fasthttp's own shutdown (which
// would cancel its request contexts) until the requests are done.
func (s *server) shutdown(srv *fasthttp.Server, ln *connguard.Listener, served <-chan error) error {
	grace := s.sc.shutdownTimeout
	if grace <= 0 {
		grace = 30 * time.Second // a config built in code, without the flag's default
	}
	s.log.Info("shutting down", "grace", grace.String(), "inflight", s.active.Load())
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	err := ln.Drain(ctx)
	cancel()
	if err != nil {
		s.log.Warn("shutdown grace over; cutting off requests in flight", "inflight", s.active.Load())
		s.stopOnce.Do(func() { close(s.stop) })
		s.conns.closeAll()
		deadline := time.Now().Add(10 * time.Second)
		for s.active.Load() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	s.stopOnce.Do(func() { close(s.stop) })
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := srv.ShutdownWithContext(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	select {
	case err := <-served:
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
	case <-time.After(5 * time.Second):
	}
	s.log.Info("stopped")
	return nil
}

// connTracker knows the open client connections, so that a shutdown whose
// grace is over can close them (a handler blocked reading a slow client's
// body returns only then).
type connTracker struct {
	mu    sync.Mutex
	conns map[net.Conn]struct{}
}

func (t *connTracker) state(c net.Conn, st fasthttp.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch st {
	case fasthttp.StateNew:
		if t.conns == nil {
			t.conns = map[net.Conn]struct{}{}
		}
		t.conns[c] = struct{}{}
	case fasthttp.StateClosed, fasthttp.StateHijacked:
		delete(t.conns, c)
	}
}

func (t *connTracker) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.conns {
		_ = c.Close()
	}
}
