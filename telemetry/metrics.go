package telemetry

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// durationBuckets suit a gateway whose small requests take well under a
// millisecond and whose large transfers take seconds.
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// metrics are the Prometheus families; docs/operations.md lists each.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	reqBytes  *prometheus.CounterVec
	respBytes *prometheus.CounterVec
	// inflight is read by its gauge at each scrape: a request adds to it
	// with one atomic add each way, where a Gauge's Inc and Dec are
	// compare-and-swap loops on a float, retried when both cores collide.
	inflight atomic.Int64
	upReqs   *prometheus.CounterVec
	upDur    *prometheus.HistogramVec
	reloads  *prometheus.CounterVec

	mu       sync.Mutex
	upstream map[upstreamKey]prometheus.Counter
	upDurs   map[string]prometheus.Observer
}

type upstreamKey struct {
	name   string
	status int
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dragoman_requests_total", Help: "Requests answered, by dialect, route and status.",
		}, []string{"dialect", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dragoman_request_duration_seconds", Help: "Time from a request's arrival to its answer's headers, by dialect and route.",
			Buckets: durationBuckets,
		}, []string{"dialect", "route"}),
		reqBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dragoman_request_bytes_total", Help: "Request body bytes declared by clients, by dialect.",
		}, []string{"dialect"}),
		respBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dragoman_response_bytes_total", Help: "Response body bytes declared to clients, by dialect.",
		}, []string{"dialect"}),
		upReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dragoman_upstream_requests_total", Help: "Calls to an upstream made for client requests, by upstream dialect and status (error: no answer).",
		}, []string{"upstream", "status"}),
		upDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dragoman_upstream_duration_seconds", Help: "Time from sending a call to an upstream to its answer's headers.",
			Buckets: durationBuckets,
		}, []string{"upstream"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dragoman_config_reloads_total", Help: "Reloads of the routes and config files, by result (ok, error).",
		}, []string{"result"}),
		upstream: map[upstreamKey]prometheus.Counter{},
		upDurs:   map[string]prometheus.Observer{},
	}
	inflight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dragoman_inflight_requests", Help: "Requests being served now.",
	}, func() float64 { return float64(m.inflight.Load()) })
	m.reg.MustRegister(m.requests, m.duration, m.reqBytes, m.respBytes, inflight, m.upReqs, m.upDur, m.reloads,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Both results are visible from the start, so a rate() sees the first.
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("error")
	return m
}

func (m *metrics) observeUpstream(name string, status int, d time.Duration) {
	m.mu.Lock()
	c, ok := m.upstream[upstreamKey{name, status}]
	if !ok {
		label := "error"
		if status > 0 {
			label = strconv.Itoa(status)
		}
		c = m.upReqs.WithLabelValues(name, label)
		m.upstream[upstreamKey{name, status}] = c
	}
	o, ok := m.upDurs[name]
	if !ok {
		o = m.upDur.WithLabelValues(name)
		m.upDurs[name] = o
	}
	m.mu.Unlock()
	c.Inc()
	o.Observe(d.Seconds())
}
