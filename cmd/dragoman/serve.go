package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dragoman-gw/dragoman/connguard"
	"github.com/dragoman-gw/dragoman/heapfloor"
	"github.com/dragoman-gw/dragoman/keys"
	"github.com/dragoman-gw/dragoman/membudget"
	"github.com/dragoman-gw/dragoman/proxy"
	"github.com/dragoman-gw/dragoman/ratelimit"
	"github.com/dragoman-gw/dragoman/telemetry"
	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/bundled"
	"github.com/dragoman-gw/dragoman/upstream/pgstore"
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
	// conn bounds what clients can hold at the connection level.
	conn connguard.Limits
	// publicURL, if set, is the origin of the links the gateway writes.
	publicURL string
	// trustedProxies are the addresses whose X-Forwarded-* are believed.
	trustedProxies string
	// memoryBudget bounds the request bodies held whole in memory at once.
	memoryBudget int64
	// onListening, if set, is told the address once the server listens
	// (tests that run the server in-process listen on port 0).
	onListening func(net.Addr)
	mirror      mirrorConfig
	// config is the settings file (--config).
	config string
	// admin is the admin listener's address; empty: none.
	admin       string
	logFormat   string
	accessLog   bool
	metrics     bool
	corsOrigins string
	// shutdownTimeout is the grace requests in flight get on SIGTERM.
	shutdownTimeout time.Duration
	// migrateStatus is the status file of a migration the console shows.
	migrateStatus string
	// blobs, s3Endpoint, sweepGrace and blobsPresign configure a
	// postgres:// upstream.
	blobs, s3Endpoint string
	sweepGrace        time.Duration
	blobsPresign      time.Duration
}

// serveFlags declares every flag of `dragoman serve` on a new flag set
// named name; the config file and the environment set them by the same
// names.
func serveFlags(name string, sc *serveConfig, stdout, stderr io.Writer) *flags {
	fs := newFlags(name, "[--config FILE] [--listen ADDR] [--data DIR] [--routes FILE] [--upstream bundled|DIALECT+URL] [flags]", stdout, stderr)
	fs.StringVar(&sc.config, "config", "", "YAML file of settings named like the flags (DRAGOMAN_<NAME> in the environment overrides it; flags win)")
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
	fs.IntVar(&sc.conn.MaxConns, "max-conns", connguard.DefaultMaxConns(), "client connections served at once; more are refused with 503 (0: no cap; the default leaves half the descriptor limit to files)")
	fs.IntVar(&sc.conn.MaxConnsPerIP, "max-conns-per-ip", 256, "client connections served at once from one address; more are refused with 429 (0: no cap)")
	fs.DurationVar(&sc.conn.HeaderTimeout, "read-header-timeout", 10*time.Second, "how long a client may take to send a request header (on a new connection, counted from its opening)")
	fs.DurationVar(&sc.conn.BodyIdle, "body-idle-timeout", 60*time.Second, "how long a request body may stall, or a client not read its answer, before the request is ended")
	fs.StringVar(&sc.publicURL, "public-url", "", "the gateway's public origin, e.g. https://files.example.com, for the links it writes (default: the origin each request came to)")
	fs.StringVar(&sc.trustedProxies, "trusted-proxies", "", "comma-separated addresses or CIDRs of proxies whose X-Forwarded-Proto and X-Forwarded-Host are believed (default: none)")
	sc.memoryBudget = 256 << 20
	fs.Func("memory-budget", "request bodies held whole in memory (base64 JSON uploads) at once, e.g. 1GiB; past it requests wait, then get 503 (default 256MiB)", func(v string) (err error) {
		sc.memoryBudget, err = translate.ParseByteSize(v)
		if err == nil && sc.memoryBudget <= 0 {
			err = errors.New("must be more than 0")
		}
		return err
	})
	fs.StringVar(&sc.admin, "admin", "", "address of the admin listener (/metrics, POST /reload, /openapi/NAME.json); without it /metrics is on --listen")
	fs.StringVar(&sc.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.BoolVar(&sc.accessLog, "access-log", true, "log one line per request")
	fs.BoolVar(&sc.metrics, "metrics", true, "keep Prometheus metrics and serve /metrics")
	fs.StringVar(&sc.corsOrigins, "cors-origins", "", "origins browsers may call from: a comma-separated list, or * (default: CORS off)")
	fs.DurationVar(&sc.shutdownTimeout, "shutdown-timeout", 30*time.Second, "how long SIGTERM or SIGINT lets requests in flight finish")
	fs.StringVar(&sc.migrateStatus, "migrate-status", "", "the --status file of a dragoman migrate, for the console to show its progress")
	fs.StringVar(&sc.blobs, "blobs", "", "with --upstream postgres://...: the S3 bucket of the bytes, s3://BUCKET[/PREFIX] (credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)")
	fs.StringVar(&sc.s3Endpoint, "s3-endpoint", "", "with --blobs: the S3 server's URL, e.g. http://127.0.0.1:7070 (default: AWS S3)")
	fs.DurationVar(&sc.sweepGrace, "sweep-grace", pgstore.DefaultGrace, "with --upstream postgres://...: how long an object no attachment names (an upload a crash abandoned) is kept before the sweeper removes it")
	fs.DurationVar(&sc.blobsPresign, "blobs-presign", 0, "with --blobs: answer downloads of routes with redirect: presigned, and presigned links, with a 307 to a presigned S3 URL valid this long, instead of streaming the bytes (default 0: off)")
	sc.mirror.addFlags(fs.FlagSet)
	return fs
}

func serve(args []string, stdout, stderr io.Writer) int {
	var sc serveConfig
	fs := serveFlags("serve", &sc, stdout, stderr)
	if _, code, ok := fs.parse(args); !ok {
		return code
	}
	if err := applySettings(fs.FlagSet, sc.config, os.LookupEnv); err != nil {
		fmt.Fprintf(stderr, "dragoman serve: %v\n", err)
		return 2
	}
	log, err := newLogger(sc.logFormat, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "dragoman serve: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := runServer(ctx, sc, args, log); err != nil {
		log.Error("serve failed", "err", err)
		return 1
	}
	return 0
}

// newLogger is the process's log on stderr, in the --log-format.
func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

// runServer serves until ctx ends, then drains and returns. args is the
// command line, read again by a reload.
func runServer(ctx context.Context, sc serveConfig, args []string, log *slog.Logger) error {
	cfg, name, err := loadRoutes(sc.routes)
	if err != nil {
		return fmt.Errorf("load %s: %w", name, err)
	}
	cors, err := translate.ParseCORSOrigins(sc.corsOrigins)
	if err != nil {
		return fmt.Errorf("--cors-origins: %w", err)
	}
	// GOGC in the environment is the operator's own choice of pacing.
	if _, set := os.LookupEnv("GOGC"); !set && sc.heapFloor > 0 {
		defer heapfloor.Start(uint64(sc.heapFloor)).Stop()
	}
	// The budget bounds what requests hold; the soft memory limit makes the
	// collector reclaim their garbage before the heap grows past it.
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && sc.memoryBudget > 0 {
		debug.SetMemoryLimit(sc.memoryBudget + memoryHeadroom)
	}
	if err := os.MkdirAll(sc.data, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if sc.blobsPresign < 0 || (sc.blobsPresign > 0 && !isPostgres(sc.upstream)) {
		return fmt.Errorf("--blobs-presign %v: needs --upstream postgres://... (the bytes must be in a bucket to be presigned) and a duration above zero", sc.blobsPresign)
	}
	store, err := openStore(sc, cfg)
	if err != nil {
		return err
	}
	bundledStore, isBundled := store.(*bundled.Store)
	if isBundled {
		if found, now := bundledStore.Schema(); found != now {
			log.Info("store schema upgraded", "from", found, "to", now)
		}
		if r, _ := bundledStore.Ready(context.Background()); r.Damaged > 0 {
			log.Error("store damaged: files missing or resized; run dragoman verify", "damaged", r.Damaged, "first", r.Problems[0].String())
		}
	}
	// Readiness is the primary's; withMirror closes it when it fails.
	primary := store
	if store, err = withMirror(sc, cfg, store, log); err != nil {
		return err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("close store", "err", err)
		}
	}()
	if isBundled {
		// Stopped, by the defer order, before the store closes.
		defer startControl(sc.data, bundledStore, log)()
	}
	// The PostgreSQL store keeps what gateways share (keys, the link
	// secret, rate limits) beside the attachments.
	pg, isPG := primary.(*pgstore.Store)
	var ring *keys.Ring
	var secret []byte
	if isPG {
		ring, secret, err = sharedState(pg)
	} else {
		ring, secret, err = localState(sc.data)
	}
	if err != nil {
		return err
	}
	signer := translate.NewSigner(secret, sc.linkTTL)
	if sc.publicURL != "" {
		u, err := translate.ParsePublicURL(sc.publicURL)
		if err != nil {
			return fmt.Errorf("--public-url: %w", err)
		}
		signer = signer.WithPublicURL(u)
	}
	proxies, err := parseTrustedProxies(sc.trustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	topts := telemetry.Options{Metrics: sc.metrics}
	if sc.accessLog {
		topts.AccessLog = log
	}
	tel := telemetry.New(topts)
	if st, ok := any(store).(interface {
		Stats(context.Context) (int64, int64, error)
	}); ok {
		tel.WatchStore(st.Stats)
	}
	watchMirror(tel, store)
	s := &server{sc: sc, args: args, log: log, tel: tel, store: store, primary: primary, stop: make(chan struct{}), proxies: proxies,
		opts: translate.Options{Store: store, Auth: keyAuth{ring}, Logger: log, Signer: signer, PresignTTL: sc.blobsPresign}}
	s.console = newConsole(s, store, sc.logFormat == "json")
	if sc.memoryBudget > 0 {
		// One budget across reloads: it bounds the process, not a routes file.
		s.holdBodies = translate.HoldBodiesWithin(membudget.New(sc.memoryBudget, memoryWait))
	}
	if dialect, _, ok := strings.Cut(sc.upstream, "+"); ok {
		// Same dialect on both sides: what the gateway does not model
		// passes through to the upstream.
		sp, err := cfg.Speaker(dialect)
		if err != nil {
			return err
		}
		header, _ := sp.Credential(sc.upstreamToken)
		// The store under any --mirror is the upstream's client: the
		// pass-through sends through it, one pool, one set of timeouts and
		// one breaker per upstream.
		up, ok := any(primary).(proxy.Upstream)
		if !ok {
			return fmt.Errorf("--upstream %s: the store has no client to pass requests through", sc.upstream)
		}
		popts := proxy.Options{Upstream: up, Credential: header}
		fwd, err := proxy.New(popts)
		if err != nil {
			return fmt.Errorf("--upstream: %w", err)
		}
		s.opts.Forward = map[string]translate.Forwarder{dialect: fwd}
		// An upstream call can take long: stop it when the client goes.
		s.opts.WatchClients = true
	}
	if sc.rateLimit > 0 {
		s.opts.Limiter = ratelimit.New(sc.rateLimit, sc.rateBurst)
		if isPG {
			s.opts.Limiter = pg.KeyStore().Limiter(sc.rateLimit, sc.rateBurst, log)
		}
	}
	first := s.build(cfg, cors)
	s.current.Store(first)
	// The first app's server is the one that listens; every app, this one
	// and those of reloads, handles requests through it.
	srv := first.app.Server()
	s.serving = tel.Wrap(s.dispatch)
	srv.Handler = s.handle
	// A request that waits for 100 Continue is refused, when it can be,
	// before its body is asked for.
	srv.ExpectHandler = translate.ExpectContinue(s.handle)

	inner, err := net.Listen("tcp", sc.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", sc.listen, err)
	}
	ln := connguard.New(inner, sc.conn, log)
	ln.SetRequestIDs(tel.NewRequestID)
	// What fasthttp cannot read is answered with a fixed text, in the
	// dialect's shape when the path names one; through the telemetry, so
	// that it has a request id (in its header, and in its body where the
	// dialect's errors have a place for one), a log line and its count.
	ln.Guard(srv, func(fctx *fasthttp.RequestCtx, path string, f connguard.Failure) {
		tel.Wrap(func(fctx *fasthttp.RequestCtx) {
			m := s.current.Load()
			c := m.app.AcquireCtx(fctx)
			defer m.app.ReleaseCtx(c)
			_ = m.gw.WriteConnError(c, path, f.Status, f.Text)
		})(fctx)
	})
	guardState := srv.ConnState
	srv.ConnState = func(c net.Conn, st fasthttp.ConnState) {
		guardState(c, st)
		s.conns.state(c, st)
	}
	log.Info("dragoman serving", "addr", ln.Addr().String(), "data", sc.data, "routes", name,
		"dialects", strings.Join(cfg.Dialects(), ","))

	ctx, stop := context.WithCancel(ctx)
	var workers sync.WaitGroup
	defer workers.Wait()
	defer stop()
	if sc.onListening != nil {
		sc.onListening(ln.Addr())
	}
	if isPG && sc.sweepGrace > 0 {
		workers.Go(func() { pg.RunSweeper(ctx, min(max(sc.sweepGrace/4, time.Second), 10*time.Minute), sc.sweepGrace, log) })
	}
	if exp, ok := any(store).(upstream.UnlinkedExpirer); ok && sc.unlinkedTTL > 0 {
		workers.Go(func() { expireUnlinked(ctx, exp, sc.unlinkedTTL, log) })
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	workers.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = s.reload("SIGHUP")
			}
		}
	})
	if sc.admin != "" {
		adm, err := s.startAdmin(sc.admin)
		if err != nil {
			return err
		}
		defer adm()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	return s.shutdown(srv, ln, served)
}

// memoryHeadroom is what the process may use beyond the memory budget
// (the live heap, buffers, streamed bodies) before the collector works
// harder; memoryWait is how long a request waits for room in the budget.
const (
	memoryHeadroom = 128 << 20
	memoryWait     = 5 * time.Second
)

// parseTrustedProxies checks a comma-separated list of addresses and
// CIDRs; fiber would drop a malformed entry without a word.
func parseTrustedProxies(list string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				return nil, fmt.Errorf("%q is neither an address nor a CIDR", p)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// openStore opens the store behind the gateway: the bundled one, or an
// upstream named DIALECT+URL spoken to in that dialect.
func openStore(sc serveConfig, cfg *translate.Config) (pinger, error) {
	return openEndpoint(sc.upstream, cfg, endpointOptions{flag: "--upstream", token: sc.upstreamToken,
		dataDir: sc.data, timeouts: sc.upstreamTimeouts, heldTTL: sc.unlinkedTTL, blobs: sc.blobs, s3Endpoint: sc.s3Endpoint})
}

// localState is the keys and link secret of one gateway's data dir.
func localState(data string) (*keys.Ring, []byte, error) {
	ring, err := keys.OpenRing(data)
	if err != nil {
		return nil, nil, fmt.Errorf("open keys: %w", err)
	}
	secret, err := loadOrCreateSecret(filepath.Join(data, "link.key"))
	if err != nil {
		return nil, nil, fmt.Errorf("link signing secret: %w", err)
	}
	return ring, secret, nil
}

// sharedState is the keys and link secret every gateway on one
// PostgreSQL store shares: a link one signs, any other serves.
func sharedState(pg *pgstore.Store) (*keys.Ring, []byte, error) {
	ring, err := pg.KeyStore().Ring()
	if err != nil {
		return nil, nil, fmt.Errorf("open keys: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	secret, err := pg.KeyStore().Secret(ctx, "link.key")
	if err != nil {
		return nil, nil, fmt.Errorf("link signing secret: %w", err)
	}
	return ring, secret, nil
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
	key, ok := k.ring.Lookup(secret)
	if !ok {
		return nil, false
	}
	return caller{key}, true
}

// AuthenticateHMAC checks a signed request (credential.hmac).
func (k keyAuth) AuthenticateHMAC(name string, message, mac []byte) (translate.Caller, bool) {
	key, ok := k.ring.AuthenticateHMAC(name, message, mac)
	if !ok {
		return nil, false
	}
	return caller{&key}, true
}

// caller is one pointer, so that making it a translate.Caller allocates
// nothing; the key is the ring's, read only.
type caller struct{ key *keys.Key }

func (c caller) Name() string                   { return c.key.Name }
func (c caller) CanRead(collection string) bool { return c.key.CanRead(collection) }
func (c caller) CanEdit(collection string) bool { return c.key.CanEdit(collection) }
func (c caller) ReadOnly() bool                 { return c.key.ReadOnly }
