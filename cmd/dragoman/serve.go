package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"

	"github.com/dragoman-gw/dragoman/heapfloor"
	"github.com/dragoman-gw/dragoman/keys"
	"github.com/dragoman-gw/dragoman/proxy"
	"github.com/dragoman-gw/dragoman/ratelimit"
	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/remote"
)

// serveConfig is everything `dragoman serve` takes from its flags.
type serveConfig struct {
	listen        string
	data          string
	routes        string
	upstream      string
	upstreamToken string
	rateLimit     float64
	rateBurst     int
	// bufferLimit is the largest request body fasthttp reads into memory
	// before handing it over as a stream; caps are enforced per route.
	bufferLimit int
	linkTTL     time.Duration
	unlinkedTTL time.Duration
	// upstreamTimeouts bound every exchange with a remote upstream.
	upstreamTimeouts remote.Timeouts
	// heapFloor is the least heap the collector lets grow before it
	// collects (0: Go's default pacing).
	heapFloor int64
	mirror    mirrorConfig
}

func serve(args []string, stderr io.Writer) int {
	var sc serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&sc.listen, "listen", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&sc.data, "data", "./data", "data directory (store, blobs, keys)")
	fs.StringVar(&sc.routes, "routes", "", "routes.yaml replacing the embedded one")
	fs.StringVar(&sc.upstream, "upstream", "bundled", "the store behind the gateway: bundled, or DIALECT+URL")
	fs.StringVar(&sc.upstreamToken, "upstream-token", "", "credential for a remote upstream")
	fs.Float64Var(&sc.rateLimit, "rate-limit", 200, "requests per second per key (0: no limit)")
	fs.IntVar(&sc.rateBurst, "rate-burst", 400, "requests a key may make at once before the rate applies")
	fs.IntVar(&sc.bufferLimit, "buffer-limit", 1<<20, "request bodies up to this size are read into memory; larger ones stream")
	fs.DurationVar(&sc.linkTTL, "link-ttl", 15*time.Minute, "how long a presigned download link works")
	fs.DurationVar(&sc.unlinkedTTL, "unlinked-ttl", 24*time.Hour, "how long an attachment never linked to a record is kept, and a chunked upload in front of an upstream waits for its next chunk")
	fs.DurationVar(&sc.upstreamTimeouts.Connect, "upstream-connect-timeout", remote.DefaultTimeouts.Connect, "how long to wait for a connection to the upstream")
	fs.DurationVar(&sc.upstreamTimeouts.FirstByte, "upstream-timeout", remote.DefaultTimeouts.FirstByte, "how long to wait for the upstream's answer to begin")
	sc.heapFloor = 16 << 20
	fs.Func("heap-floor", "let the heap grow to this before collecting garbage, e.g. 64MiB (0: Go's default; ignored when GOGC is set) (default 16MiB)", func(v string) (err error) {
		sc.heapFloor, err = translate.ParseByteSize(v)
		return err
	})
	fs.DurationVar(&sc.upstreamTimeouts.Idle, "upstream-idle-timeout", remote.DefaultTimeouts.Idle, "how long a transfer to or from the upstream may stall")
	sc.mirror.addFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if err := runServer(sc, log); err != nil {
		log.Error("serve failed", "err", err)
		return 1
	}
	return 0
}

func runServer(sc serveConfig, log *slog.Logger) error {
	cfg, name, err := loadRoutes(sc.routes)
	if err != nil {
		return fmt.Errorf("load %s: %w", name, err)
	}
	// GOGC in the environment is the operator's own choice of pacing.
	if _, set := os.LookupEnv("GOGC"); !set && sc.heapFloor > 0 {
		defer heapfloor.Start(uint64(sc.heapFloor)).Stop()
	}
	if err := os.MkdirAll(sc.data, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	store, err := openStore(sc, cfg)
	if err != nil {
		return err
	}
	if store, err = withMirror(sc, cfg, store, log); err != nil {
		return err
	}
	defer store.Close()
	ring, err := keys.OpenRing(sc.data)
	if err != nil {
		return fmt.Errorf("open keys: %w", err)
	}
	secret, err := loadOrCreateSecret(filepath.Join(sc.data, "link.key"))
	if err != nil {
		return fmt.Errorf("link signing secret: %w", err)
	}
	opts := translate.Options{Store: store, Auth: keyAuth{ring}, Logger: log,
		Signer: translate.NewSigner(secret, sc.linkTTL)}
	if dialect, u, ok := strings.Cut(sc.upstream, "+"); ok {
		// Same dialect on both sides: what the gateway does not model
		// passes through to the upstream.
		sp, err := cfg.Speaker(dialect)
		if err != nil {
			return err
		}
		header, value := sp.Credential(sc.upstreamToken)
		fwd, err := proxy.New(proxy.Options{URL: u, Credential: header, CredentialValue: value,
			ConnectTimeout: sc.upstreamTimeouts.Connect, FirstByteTimeout: sc.upstreamTimeouts.FirstByte})
		if err != nil {
			return fmt.Errorf("--upstream: %w", err)
		}
		opts.Forward = map[string]translate.Forwarder{dialect: fwd}
	}
	if sc.rateLimit > 0 {
		opts.Limiter = ratelimit.New(sc.rateLimit, sc.rateBurst)
	}
	gw := translate.NewGateway(cfg, opts)

	app := fiber.New(fiber.Config{
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		BodyLimit:                    sc.bufferLimit,
		DisableStartupMessage:        true,
		IdleTimeout:                  120 * time.Second,
		ReadBufferSize:               16 << 10,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			var fe *fiber.Error
			if errors.As(err, &fe) {
				return c.Status(fe.Code).SendString(fe.Message)
			}
			log.Error("unhandled error", "path", c.Path(), "err", err)
			return c.Status(fiber.StatusInternalServerError).SendString("internal error")
		},
	})
	// A panic in one handler answers 500 instead of ending every request.
	app.Use(recover.New())
	app.Get("/healthz", func(c *fiber.Ctx) error {
		if err := store.Ping(c.Context()); err != nil {
			return c.Status(fiber.StatusServiceUnavailable).SendString("store unavailable")
		}
		return c.SendString("ok")
	})
	gw.Mount(app)

	ln, err := net.Listen("tcp", sc.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", sc.listen, err)
	}
	log.Info("dragoman serving", "addr", ln.Addr().String(), "data", sc.data, "routes", name,
		"dialects", strings.Join(cfg.Dialects(), ","))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if exp, ok := any(store).(upstream.UnlinkedExpirer); ok && sc.unlinkedTTL > 0 {
		sweeperDone := make(chan struct{})
		go func() {
			defer close(sweeperDone)
			expireUnlinked(ctx, exp, sc.unlinkedTTL, log)
		}()
		defer func() { stop(); <-sweeperDone }()
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	if err := app.ShutdownWithTimeout(30 * time.Second); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return <-served
}

// openStore opens the store behind the gateway: the bundled one, or an
// upstream named DIALECT+URL spoken to in that dialect.
func openStore(sc serveConfig, cfg *translate.Config) (pinger, error) {
	return openEndpoint(sc.upstream, cfg, endpointOptions{flag: "--upstream", token: sc.upstreamToken,
		dataDir: sc.data, timeouts: sc.upstreamTimeouts, heldTTL: sc.unlinkedTTL})
}

// expireUnlinked drops attachments never linked to a record once they are
// older than ttl, checking a few times per ttl until ctx ends.
func expireUnlinked(ctx context.Context, exp upstream.UnlinkedExpirer, ttl time.Duration, log *slog.Logger) {
	every := min(max(ttl/4, time.Second), 10*time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n, err := exp.ExpireUnlinked(ctx, now.Add(-ttl))
			if err != nil {
				log.Error("expire unlinked attachments", "err", err)
			} else if n > 0 {
				log.Info("expired unlinked attachments", "count", n)
			}
		}
	}
}

// loadOrCreateSecret reads a 32-byte secret, making it on first start.
func loadOrCreateSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != 32 {
			return nil, fmt.Errorf("%s: want 32 bytes, found %d", path, len(b))
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, err
	}
	return b, nil
}

// keyAuth adapts the key ring to the gateway's Authenticator.
type keyAuth struct{ ring *keys.Ring }

func (k keyAuth) Authenticate(secret string) (translate.Caller, bool) {
	key, ok := k.ring.Authenticate(secret)
	if !ok {
		return nil, false
	}
	return caller{key}, true
}

type caller struct{ key keys.Key }

func (c caller) Name() string                   { return c.key.Name }
func (c caller) CanRead(collection string) bool { return c.key.CanRead(collection) }
func (c caller) CanEdit(collection string) bool { return c.key.CanEdit(collection) }
