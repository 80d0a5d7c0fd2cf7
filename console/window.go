package console

import (
	"slices"
	"sort"
	"sync"
	"time"
)

// quantileWindow is how far back the traffic page's p50 and p99 look, as
// histogram_quantile(q, rate(...[60s])) would.
const quantileWindow = 60 * time.Second

// snapshotSpacing is the least time between two kept snapshots, which
// bounds the ring at about quantileWindow/snapshotSpacing entries however
// often the API is polled.
const snapshotSpacing = time.Second

// seriesKey names one route's duration histogram.
type seriesKey struct{ dialect, route string }

// snapshot is every route's cumulative bucket counts at one moment.
type snapshot struct {
	at     time.Time
	counts map[seriesKey][]uint64
}

// latencyWindow keeps the duration histograms as the traffic handler's
// own calls read them, over the last window, so that the quantiles are of
// the requests of the window rather than since start. It owns no
// goroutine: the calls that read the histograms also keep the snapshots.
type latencyWindow struct {
	span    time.Duration
	spacing time.Duration

	mu    sync.Mutex
	snaps []snapshot // oldest first
}

func newLatencyWindow(span, spacing time.Duration) *latencyWindow {
	return &latencyWindow{span: span, spacing: spacing}
}

// narrow replaces each route's cumulative buckets by those of the
// requests since a baseline: the oldest snapshot taken within the span
// before now, or, when no call came within it, the newest one before it
// (the window is then longer, and says so). It returns the seconds the
// buckets now cover, or nil when there is no earlier snapshot (the first
// call): the buckets stay since start. It keeps now's counts for the
// calls to come.
func (w *latencyWindow) narrow(now time.Time, routes []trafficRow) *float64 {
	cur := make(map[seriesKey][]uint64, len(routes))
	for _, r := range routes {
		counts := make([]uint64, len(r.buckets))
		for i, b := range r.buckets {
			counts[i] = b.count
		}
		cur[seriesKey{r.Dialect, r.Route}] = counts
	}
	base, ok := w.observe(now, cur)
	if !ok {
		return nil
	}
	for i := range routes {
		r := &routes[i]
		old := base.counts[seriesKey{r.Dialect, r.Route}]
		if old == nil {
			// The series was born after the baseline: all its requests
			// are within the window.
			continue
		}
		if !below(old, r.buckets) {
			continue // a reset, or other bounds: since start is all there is
		}
		for j := range r.buckets {
			r.buckets[j].count -= old[j]
		}
	}
	s := now.Sub(base.at).Seconds()
	return &s
}

// below reports whether old can be subtracted from cur: the same buckets,
// none of them counting fewer now.
func below(old []uint64, cur []bucket) bool {
	if len(old) != len(cur) {
		return false
	}
	for i := range old {
		if old[i] > cur[i].count {
			return false
		}
	}
	return true
}

// observe returns the baseline for now (ok false when no snapshot is
// strictly before now), drops the snapshots no later call can use, and
// keeps cur unless the newest kept one is younger than the spacing.
func (w *latencyWindow) observe(now time.Time, cur map[seriesKey][]uint64) (base snapshot, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// A snapshot of this very moment (another tab's poll) is no baseline.
	before := sort.Search(len(w.snaps), func(i int) bool { return !w.snaps[i].at.Before(now) })
	if before > 0 {
		edge := now.Add(-w.span)
		first := sort.Search(before, func(i int) bool { return !w.snaps[i].at.Before(edge) })
		if first == before {
			first-- // none within the span: the newest before it
		}
		// The edge only moves on, so the ones before the baseline are done.
		w.snaps = slices.Delete(w.snaps, 0, first)
		base, ok = w.snaps[0], true
	}
	if n := len(w.snaps); n == 0 || now.Sub(w.snaps[n-1].at) >= w.spacing {
		w.snaps = append(w.snaps, snapshot{at: now, counts: cur})
	}
	return base, ok
}
