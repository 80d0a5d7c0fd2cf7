package translate

import (
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"
	fiberrecover "github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/dragoman-gw/dragoman/upstream"
)

// testCaller is a key of the fake authenticator.
type testCaller struct {
	name        string
	readOnly    bool
	collections []string // empty: every collection
}

func (c testCaller) Name() string { return c.name }
func (c testCaller) CanRead(col string) bool {
	return len(c.collections) == 0 || slices.Contains(c.collections, col)
}
func (c testCaller) CanEdit(col string) bool { return !c.readOnly && c.CanRead(col) }

// testAuth maps a presented secret to its caller.
type testAuth map[string]testCaller

func (a testAuth) Authenticate(secret string) (Caller, bool) {
	c, ok := a[secret]
	return c, ok
}

// testKeys are the keys every gateway test knows.
var testKeys = testAuth{
	"tester-secret":    {name: "tester"},
	"auditor-secret":   {name: "auditor", readOnly: true},
	"sales-secret":     {name: "sales", collections: []string{"sales"}},
	"throttled-secret": {name: "throttled"},
}

// testLimiter refuses every request of the key named "throttled".
type testLimiter struct{}

func (testLimiter) Allow(name string) bool { return name != "throttled" }

var (
	routesOnce sync.Once
	routesCfg  *Config
	routesErr  error
)

// testConfig is ../routes.yaml, compiled once per test binary.
func testConfig(tb testing.TB) *Config {
	tb.Helper()
	routesOnce.Do(func() {
		data, err := os.ReadFile("../routes.yaml")
		if err != nil {
			routesErr = err
			return
		}
		routesCfg, routesErr = Load(data)
	})
	if routesErr != nil {
		tb.Fatalf("routes.yaml: %v", routesErr)
	}
	return routesCfg
}

// newTestApp serves cfg over store the way the server does, with the
// fake keys and limiter.
func newTestApp(cfg *Config, store upstream.Store, use ...fiber.Handler) *fiber.App {
	return newTestAppBuffering(0, cfg, store, use...)
}

// newTestAppBuffering is newTestApp where request bodies over limit bytes
// stream instead of being read whole first (0: fiber's default, 4 MiB), as
// the server's --buffer-limit makes them.
func newTestAppBuffering(limit int, cfg *Config, store upstream.Store, use ...fiber.Handler) *fiber.App {
	app := fiber.New(fiber.Config{
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		DisableStartupMessage:        true,
		BodyLimit:                    limit,
	})
	for _, h := range use {
		app.Use(h)
	}
	NewGateway(cfg, Options{Store: store, Auth: testKeys, Limiter: testLimiter{}}).Mount(app)
	return app
}

// testRoute finds a compiled route by dialect and route name.
func testRoute(tb testing.TB, cfg *Config, dialect, name string) *compiledRoute {
	tb.Helper()
	for _, d := range cfg.dialects {
		if d.name != dialect {
			continue
		}
		for _, r := range d.routes {
			if r.spec.Name == name {
				return r
			}
		}
	}
	tb.Fatalf("routes.yaml has no route %s.%s", dialect, name)
	return nil
}

// panicCatcher turns a handler's panic into a 500 answer (fiber does not
// recover on its own: a panic would end the test binary) and keeps the
// panic and its stack for the test to report.
type panicCatcher struct {
	mu    sync.Mutex
	val   any
	stack []byte
}

func (p *panicCatcher) middleware() fiber.Handler {
	return fiberrecover.New(fiberrecover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(_ *fiber.Ctx, e any) {
			p.mu.Lock()
			defer p.mu.Unlock()
			p.val, p.stack = e, debug.Stack()
		},
	})
}

// take returns the panic caught since the last call, as text, or "".
func (p *panicCatcher) take() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.val == nil {
		return ""
	}
	s := fmt.Sprintf("panic: %v\n%s", p.val, p.stack)
	p.val, p.stack = nil, nil
	return s
}
