package telemetry

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"
)

// Options configure Telemetry.
type Options struct {
	// Metrics turns the Prometheus metrics, the per-route counts and the
	// recent-requests ring on.
	Metrics bool
	// AccessLog, when set, gets one line per request.
	AccessLog *slog.Logger
	// Recent is how many of the last requests are kept for the console
	// (default 200; metrics on only).
	Recent int
}

// Telemetry gives every request an id and a Record, and emits each
// Record to the metrics, the access log and the recent ring when its
// request is done.
type Telemetry struct {
	ids    *idSource
	log    *slog.Logger
	m      *metrics // nil: metrics off
	recent *ring
	pool   sync.Pool

	// idKey is RequestIDHeader in the canonical form fasthttp keeps.
	idKey []byte

	mu     sync.Mutex
	routes map[routeKey]*Route
	other  *Route
}

type routeKey struct{ dialect, name string }

// New builds the telemetry of one process.
func New(opts Options) *Telemetry {
	t := &Telemetry{ids: newIDSource(), log: opts.AccessLog, routes: map[routeKey]*Route{}, idKey: []byte(RequestIDHeader)}
	if opts.Metrics {
		t.m = newMetrics()
		n := opts.Recent
		if n <= 0 {
			n = 200
		}
		t.recent = newRing(n)
	}
	t.pool.New = func() any { return &Request{t: t} }
	t.other = t.Route("", RouteOther, "", nil)
	return t
}

// Route returns the telemetry of one route, resolving its metric children
// for the statuses it is expected to answer; mounting the same route again
// (a reload) returns the same Route.
func (t *Telemetry) Route(dialect, name, op string, statuses []int) *Route {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := routeKey{dialect, name}
	if r, ok := t.routes[k]; ok && r.Op == op {
		return r
	}
	r := newRoute(t.m, dialect, name, op, statuses)
	t.routes[k] = r
	return r
}

// Wrap gives each request handled by next its Request, keeps or makes its
// id, and emits its Record when next returns.
func (t *Telemetry) Wrap(next fasthttp.RequestHandler) fasthttp.RequestHandler {
	return func(ctx *fasthttp.RequestCtx) {
		r := t.begin(ctx)
		defer t.finish(ctx, r) // also when next panics past its recover
		next(ctx)
	}
}

func (t *Telemetry) begin(ctx *fasthttp.RequestCtx) *Request {
	r := t.pool.Get().(*Request)
	r.rec.Start = time.Now()
	if id := ctx.Request.Header.Peek(RequestIDHeader); ValidRequestID(id) {
		r.rec.RequestID = string(id)
	} else {
		r.idBuf = t.ids.next(r.idBuf[:0])
		r.rec.RequestID = string(r.idBuf)
	}
	if t.m != nil {
		t.m.inflight.Add(1)
	}
	ctx.SetUserValue(requestKey{}, r)
	return r
}

func (t *Telemetry) finish(ctx *fasthttp.RequestCtx, r *Request) {
	ctx.RemoveUserValue(requestKey{})
	// Set last: a pass-through answer's headers replace the response's.
	// The key is canonical already and the id checked (or made) at begin:
	// Set's normalising and scanning were half of its cost, and it runs
	// on every answer. SetCanonical copies the value.
	id := r.rec.RequestID
	ctx.Response.Header.SetCanonical(t.idKey, unsafe.Slice(unsafe.StringData(id), len(id)))
	if t.m != nil {
		t.m.inflight.Add(-1)
	}
	if r.discard || (t.m == nil && t.log == nil) {
		r.reset()
		t.pool.Put(r)
		return
	}
	rec := r.snapshot()
	rec.Duration = time.Since(rec.Start)
	rec.Status = ctx.Response.StatusCode()
	if n := ctx.Request.Header.ContentLength(); n > 0 {
		rec.BytesIn = int64(n)
	}
	if ctx.Response.IsBodyStream() {
		if n := ctx.Response.Header.ContentLength(); n > 0 {
			rec.BytesOut = int64(n)
		}
	} else {
		rec.BytesOut = int64(len(ctx.Response.Body()))
	}
	rt := r.route
	if rt == nil {
		rt = t.other
		rec.Route = rt.Name
	}
	if t.m != nil {
		rt.observe(&rec)
	}
	if t.log != nil {
		t.logLine(ctx, &rec)
	}
	if t.recent != nil {
		t.recent.add(rec, ctx.Method(), ctx.Path())
	}
	r.reset()
	t.pool.Put(r)
}

// logLine writes the access-log line; docs/operations.md lists its fields.
func (t *Telemetry) logLine(ctx *fasthttp.RequestCtx, rec *Record) {
	var buf [16]slog.Attr
	attrs := appendLogAttrs(buf[:0], rec, string(ctx.Method()), string(ctx.Path()))
	t.log.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
}

// appendLogAttrs appends the access-log line's fields of rec, in the
// line's order, to attrs.
func appendLogAttrs(attrs []slog.Attr, rec *Record, method, path string) []slog.Attr {
	attrs = append(attrs,
		slog.String("request_id", rec.RequestID),
		slog.String("dialect", rec.Dialect),
		slog.String("route", rec.Route),
		slog.String("op", rec.Op),
		slog.String("method", method),
		slog.String("path", path),
		slog.Int("status", rec.Status),
		slog.Int64("bytes_in", rec.BytesIn),
		slog.Int64("bytes_out", rec.BytesOut),
		slog.Float64("duration_ms", durationMS(rec.Duration)),
		slog.String("key", rec.Key),
	)
	if rec.UpstreamCalls > 0 {
		attrs = append(attrs, slog.Int("upstream_status", rec.UpstreamStatus),
			slog.Float64("upstream_duration_ms", durationMS(rec.UpstreamDuration)),
			slog.Int("upstream_calls", rec.UpstreamCalls))
	}
	if rec.ErrorKind != "" {
		attrs = append(attrs, slog.String("error", rec.ErrorKind))
	}
	return attrs
}

// durationMS is a duration in milliseconds, to the microsecond.
func durationMS(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// MetricsOn reports whether metrics are kept.
func (t *Telemetry) MetricsOn() bool { return t.m != nil }

// MetricsHandler serves GET /metrics in the Prometheus text format; nil
// with metrics off.
func (t *Telemetry) MetricsHandler() fasthttp.RequestHandler {
	if t.m == nil {
		return nil
	}
	return fasthttpadaptor.NewFastHTTPHandler(promhttp.HandlerFor(t.m.reg, promhttp.HandlerOpts{}))
}

// Reloaded counts one reload of the configuration, ok or not.
func (t *Telemetry) Reloaded(ok bool) {
	if t.m == nil {
		return
	}
	result := "error"
	if ok {
		result = "ok"
	}
	t.m.reloads.WithLabelValues(result).Inc()
}

// StoreStats reports what a store holds, for the store gauges.
type StoreStats func(ctx context.Context) (attachments, bytes int64, err error)

// WatchStore adds dragoman_store_attachments and dragoman_store_bytes,
// read from stats at each scrape.
func (t *Telemetry) WatchStore(stats StoreStats) {
	if t.m == nil {
		return
	}
	t.m.reg.MustRegister(&storeCollector{stats: stats,
		attachments: prometheus.NewDesc("dragoman_store_attachments", "Attachments in the store.", nil, nil),
		bytes:       prometheus.NewDesc("dragoman_store_bytes", "Bytes of content in the store.", nil, nil),
	})
}

type storeCollector struct {
	stats              StoreStats
	attachments, bytes *prometheus.Desc
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.attachments
	ch <- c.bytes
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, b, err := c.stats(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.attachments, err)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.attachments, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(b))
}

// Recent returns the last requests, newest first (metrics on only).
func (t *Telemetry) Recent() []Record {
	if t.recent == nil {
		return nil
	}
	return t.recent.list()
}

// Routes returns every mounted route's totals, in dialect and route order.
func (t *Telemetry) Routes() []RouteStats {
	t.mu.Lock()
	out := make([]RouteStats, 0, len(t.routes))
	for _, r := range t.routes {
		out = append(out, r.stats())
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Dialect != out[j].Dialect {
			return out[i].Dialect < out[j].Dialect
		}
		return out[i].Route < out[j].Route
	})
	return out
}
