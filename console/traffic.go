package console

import (
	"bytes"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	dto "github.com/prometheus/client_model/go"

	"github.com/dragoman-gw/dragoman/telemetry"
)

// The metric families the traffic page reads: the ones /metrics serves.
const (
	requestsFamily = "dragoman_requests_total"
	durationFamily = "dragoman_request_duration_seconds"
	inflightFamily = "dragoman_inflight_requests"
)

// trafficAnswer is GET /api/traffic: counts since start, which the page
// turns into rates by the difference between two answers, and quantiles
// over the last minute.
type trafficAnswer struct {
	// Metrics is false with --metrics=false: there is nothing to show.
	Metrics bool `json:"metrics"`
	// Time is when the numbers were read, in Unix milliseconds.
	Time int64 `json:"time"`
	// WindowS is the seconds the quantiles cover, up to quantileWindow
	// (longer when no call came within it); null on the first call, when
	// they are since start.
	WindowS  *float64      `json:"window_s"`
	Inflight float64       `json:"inflight"`
	Dialects []trafficRow  `json:"dialects"`
	Routes   []trafficRow  `json:"routes"`
	Recent   []requestView `json:"recent"`
}

// trafficRow is one route's, or one dialect's, counts since start and
// quantiles over the answer's window.
type trafficRow struct {
	Dialect string `json:"dialect"`
	Route   string `json:"route,omitempty"`
	// Requests and Errors (status 400 and up) count answers.
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	// P50 and P99 are estimated from the duration histogram's requests
	// of the window as Prometheus's histogram_quantile does; null without
	// requests in it.
	P50ms *float64 `json:"p50_ms"`
	P99ms *float64 `json:"p99_ms"`

	buckets []bucket
}

type bucket struct {
	upper float64
	count uint64 // cumulative
}

// requestView is one of the last requests.
type requestView struct {
	RequestID  string  `json:"request_id"`
	Time       string  `json:"time"`
	Dialect    string  `json:"dialect"`
	Route      string  `json:"route"`
	Method     string  `json:"method"`
	Path       string  `json:"path"`
	Status     int     `json:"status"`
	DurationMS float64 `json:"duration_ms"`
	Key        string  `json:"key"`
}

// recentShown caps the requests an answer carries.
const recentShown = 50

func (c *Console) traffic(f *fiber.Ctx) error {
	now := c.o.Now()
	ans := trafficAnswer{Time: now.UnixMilli(), Dialects: []trafficRow{}, Routes: []trafficRow{}, Recent: []requestView{}}
	g := c.o.Telemetry.Gatherer()
	if g == nil {
		return f.JSON(ans)
	}
	ans.Metrics = true
	families, err := g.Gather()
	if err != nil {
		// Gather returns what it could with the error; the page shows it.
		c.o.Logger.Warn("console: gather metrics", "err", err)
	}
	ans.Routes, ans.Dialects, ans.Inflight, ans.WindowS = trafficRows(families, c.latency, now)
	// The console's own polling would crowd out the requests worth seeing.
	all := f.Query("all") == "1"
	for _, r := range c.o.Telemetry.Recent() {
		if len(ans.Recent) == recentShown {
			break
		}
		if !all && (r.Path == Prefix || strings.HasPrefix(r.Path, Prefix+"/")) {
			continue
		}
		ans.Recent = append(ans.Recent, viewOf(r))
	}
	return f.JSON(ans)
}

func viewOf(r telemetry.Record) requestView {
	return requestView{RequestID: r.RequestID, Time: r.Start.UTC().Format(time.RFC3339Nano), Dialect: r.Dialect, Route: r.Route,
		Method: r.Method, Path: r.Path, Status: r.Status, DurationMS: float64(r.Duration.Microseconds()) / 1000, Key: r.Key}
}

// trafficRows reads the requests counter and the duration histogram into
// one row per route and one per dialect, in dialect and route order, with
// the quantiles of the requests of w's window before now; window is the
// seconds it covers, nil for since start.
func trafficRows(families []*dto.MetricFamily, w *latencyWindow, now time.Time) (routes, dialects []trafficRow, inflight float64, window *float64) {
	routes, inflight = readRows(families)
	window = w.narrow(now, routes)
	perDialect := map[string]*trafficRow{}
	for i := range routes {
		r := &routes[i]
		d, ok := perDialect[r.Dialect]
		if !ok {
			d = &trafficRow{Dialect: r.Dialect}
			perDialect[r.Dialect] = d
		}
		d.Requests += r.Requests
		d.Errors += r.Errors
		d.buckets = addBuckets(d.buckets, r.buckets)
		r.P50ms, r.P99ms = quantileMS(0.5, r.buckets), quantileMS(0.99, r.buckets)
	}
	for _, d := range perDialect {
		d.P50ms, d.P99ms = quantileMS(0.5, d.buckets), quantileMS(0.99, d.buckets)
		dialects = append(dialects, *d)
	}
	sort.Slice(routes, func(i, j int) bool {
		if routes[i].Dialect != routes[j].Dialect {
			return routes[i].Dialect < routes[j].Dialect
		}
		return routes[i].Route < routes[j].Route
	})
	sort.Slice(dialects, func(i, j int) bool { return dialects[i].Dialect < dialects[j].Dialect })
	return routes, dialects, inflight, window
}

// readRows reads one row per route, with its counts and cumulative
// buckets since start.
func readRows(families []*dto.MetricFamily) (routes []trafficRow, inflight float64) {
	type key struct{ dialect, route string }
	rows := map[key]*trafficRow{}
	row := func(m *dto.Metric) *trafficRow {
		k := key{label(m, "dialect"), label(m, "route")}
		r, ok := rows[k]
		if !ok {
			r = &trafficRow{Dialect: k.dialect, Route: k.route}
			rows[k] = r
		}
		return r
	}
	for _, fam := range families {
		switch fam.GetName() {
		case requestsFamily:
			for _, m := range fam.GetMetric() {
				r := row(m)
				n := int64(m.GetCounter().GetValue())
				r.Requests += n
				if s, _ := strconv.Atoi(label(m, "status")); s >= 400 {
					r.Errors += n
				}
			}
		case durationFamily:
			for _, m := range fam.GetMetric() {
				r := row(m)
				for _, b := range m.GetHistogram().GetBucket() {
					r.buckets = append(r.buckets, bucket{b.GetUpperBound(), b.GetCumulativeCount()})
				}
				r.buckets = append(r.buckets, bucket{math.Inf(1), m.GetHistogram().GetSampleCount()})
			}
		case inflightFamily:
			for _, m := range fam.GetMetric() {
				inflight += m.GetGauge().GetValue()
			}
		}
	}
	routes = make([]trafficRow, 0, len(rows))
	for _, r := range rows {
		routes = append(routes, *r)
	}
	return routes, inflight
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// addBuckets sums two histograms of the same bounds (every route's are).
func addBuckets(sum, b []bucket) []bucket {
	if len(sum) == 0 {
		return append([]bucket(nil), b...)
	}
	if len(sum) != len(b) {
		return sum
	}
	for i := range b {
		sum[i].count += b[i].count
	}
	return sum
}

// quantileMS estimates the q-quantile of a cumulative histogram in
// milliseconds, by linear interpolation within the bucket it falls in,
// as histogram_quantile does: the lowest bucket starts at 0, and a
// quantile in the +Inf bucket is the highest finite bound. Nil without
// observations.
func quantileMS(q float64, buckets []bucket) *float64 {
	if len(buckets) == 0 {
		return nil
	}
	total := buckets[len(buckets)-1].count
	if total == 0 {
		return nil
	}
	rank := q * float64(total)
	lower, below := 0.0, uint64(0)
	for i, b := range buckets {
		if float64(b.count) >= rank {
			if math.IsInf(b.upper, 1) {
				if i == 0 {
					return nil
				}
				v := buckets[i-1].upper * 1000
				return &v
			}
			in := float64(b.count - below)
			v := lower
			if in > 0 {
				v = lower + (b.upper-lower)*(rank-float64(below))/in
			}
			v *= 1000
			return &v
		}
		lower, below = b.upper, b.count
	}
	return nil
}

// requestLine answers a recent request's access-log line.
func (c *Console) requestLine(f *fiber.Ctx) error {
	id := f.Params("id")
	for _, r := range c.o.Telemetry.Recent() {
		if r.RequestID != id {
			continue
		}
		var b bytes.Buffer
		var h slog.Handler = slog.NewTextHandler(&b, nil)
		if c.o.LogJSON {
			h = slog.NewJSONHandler(&b, nil)
		}
		if err := telemetry.WriteLogLine(h, r); err != nil {
			return apiError(f, fiber.StatusInternalServerError, "cannot render the log line")
		}
		return f.JSON(fiber.Map{"request_id": r.RequestID, "line": strings.TrimSuffix(b.String(), "\n"), "request": viewOf(r)})
	}
	return apiError(f, fiber.StatusNotFound, "no such request among the last ones kept")
}
