package telemetry

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Route names of the gateway's own answers, outside any routes.yaml route.
// The leading underscore keeps them apart from routes.yaml's names.
const (
	// RouteUnmatched is a path under a dialect's mount that no route has.
	RouteUnmatched = "_unmatched"
	// RoutePassThrough is a request passed through to a same-dialect upstream.
	RoutePassThrough = "_passthrough"
	// RouteLink is a presigned download link.
	RouteLink = "_link"
	// RouteOther is anything else: health, metrics, unknown paths.
	RouteOther = "_other"
)

// Route is the telemetry of one route, with its metric children resolved
// when it is mounted so that a request only adds to them.
type Route struct {
	Dialect, Name, Op string

	// counts are what the console reads; kept only with metrics on.
	requests, errors, bytesIn, bytesOut, nanos atomic.Int64

	duration            prometheus.Observer
	reqBytes, respBytes prometheus.Counter
	vec                 *prometheus.CounterVec
	// statuses are resolved at mount for the statuses the route is known
	// to answer; any other is resolved once, on first sight, into extra.
	statuses []statusChild
	mu       sync.RWMutex
	extra    map[int]prometheus.Counter
}

type statusChild struct {
	status int
	c      prometheus.Counter
}

func newRoute(m *metrics, dialect, name, op string, statuses []int) *Route {
	r := &Route{Dialect: dialect, Name: name, Op: op}
	if m == nil {
		return r
	}
	r.duration = m.duration.WithLabelValues(dialect, name)
	r.reqBytes = m.reqBytes.WithLabelValues(dialect)
	r.respBytes = m.respBytes.WithLabelValues(dialect)
	r.vec = m.requests
	r.extra = map[int]prometheus.Counter{}
	for _, s := range statuses {
		if r.find(s) == nil {
			r.statuses = append(r.statuses, statusChild{s, m.requests.WithLabelValues(dialect, name, strconv.Itoa(s))})
		}
	}
	return r
}

func (r *Route) find(status int) prometheus.Counter {
	for i := range r.statuses {
		if r.statuses[i].status == status {
			return r.statuses[i].c
		}
	}
	return nil
}

// counter is the requests_total child of one status.
func (r *Route) counter(status int) prometheus.Counter {
	if c := r.find(status); c != nil {
		return c
	}
	r.mu.RLock()
	c, ok := r.extra[status]
	r.mu.RUnlock()
	if ok {
		return c
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok = r.extra[status]; !ok {
		c = r.vec.WithLabelValues(r.Dialect, r.Name, strconv.Itoa(status))
		r.extra[status] = c
	}
	return c
}

func (r *Route) observe(rec *Record) {
	if r.vec == nil {
		return // metrics off
	}
	r.requests.Add(1)
	if rec.Status >= 400 {
		r.errors.Add(1)
	}
	r.bytesIn.Add(rec.BytesIn)
	r.bytesOut.Add(rec.BytesOut)
	r.nanos.Add(int64(rec.Duration))
	r.counter(rec.Status).Inc()
	r.duration.Observe(rec.Duration.Seconds())
	if rec.BytesIn > 0 {
		r.reqBytes.Add(float64(rec.BytesIn))
	}
	if rec.BytesOut > 0 {
		r.respBytes.Add(float64(rec.BytesOut))
	}
}

// RouteStats are one route's totals since start.
type RouteStats struct {
	Dialect, Route, Op string
	// Requests counts answers; Errors those with a status of 400 or more.
	Requests, Errors  int64
	BytesIn, BytesOut int64
	// TotalNanos is the sum of the requests' durations.
	TotalNanos int64
}

func (r *Route) stats() RouteStats {
	return RouteStats{Dialect: r.Dialect, Route: r.Name, Op: r.Op, Requests: r.requests.Load(), Errors: r.errors.Load(),
		BytesIn: r.bytesIn.Load(), BytesOut: r.bytesOut.Load(), TotalNanos: r.nanos.Load()}
}
