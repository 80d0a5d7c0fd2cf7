package telemetry

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// MirrorStats is what a serve --mirror reports, for the mirror metrics.
type MirrorStats struct {
	// QueueDepth is how many acknowledged writes wait for the mirror;
	// QueueOldest how long the oldest has waited (0 when none).
	QueueDepth  int
	QueueOldest time.Duration
	// Applied, Retries and Dropped count the dual-write's writes taken,
	// tries refused for now, and writes the mirror can never take.
	Applied, Retries, Dropped uint64
	// Compared and Diffs count shadow comparisons, and those that
	// differed, by operation; ShadowSkipped the reads not compared.
	Compared, Diffs map[string]uint64
	ShadowSkipped   uint64
}

// WatchMirror adds the dragoman_mirror_* families, read from stats at
// each scrape (docs/operations.md lists them).
func (t *Telemetry) WatchMirror(stats func() MirrorStats) {
	if t.m == nil {
		return
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	t.m.reg.MustRegister(&mirrorCollector{stats: stats,
		depth:    d("dragoman_mirror_queue_depth", "Acknowledged writes waiting for the mirror (dual-write)."),
		oldest:   d("dragoman_mirror_queue_oldest_seconds", "How long the oldest queued write has waited (0: none)."),
		applied:  d("dragoman_mirror_applied_total", "Writes the mirror took (dual-write)."),
		retries:  d("dragoman_mirror_retries_total", "Tries of a write the mirror refused for now (dual-write)."),
		dropped:  d("dragoman_mirror_dropped_total", "Writes the mirror can never take, logged and dropped (dual-write)."),
		compared: d("dragoman_mirror_compared_total", "Reads compared with the mirror's answer, by operation (shadow).", "op"),
		diffs:    d("dragoman_mirror_diffs_total", "Reads whose mirror answer differed, by operation (shadow).", "op"),
		skipped:  d("dragoman_mirror_shadow_skipped_total", "Reads not compared: their record's writes were queued, or the workers busy (shadow)."),
	})
}

type mirrorCollector struct {
	stats                                                              func() MirrorStats
	depth, oldest, applied, retries, dropped, compared, diffs, skipped *prometheus.Desc
}

func (c *mirrorCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.depth, c.oldest, c.applied, c.retries, c.dropped, c.compared, c.diffs, c.skipped} {
		ch <- d
	}
}

func (c *mirrorCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.stats()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(c.depth, float64(st.QueueDepth))
	gauge(c.oldest, st.QueueOldest.Seconds())
	counter(c.applied, st.Applied)
	counter(c.retries, st.Retries)
	counter(c.dropped, st.Dropped)
	counter(c.skipped, st.ShadowSkipped)
	for op, n := range st.Compared {
		counter(c.compared, n, op)
	}
	for op, n := range st.Diffs {
		counter(c.diffs, n, op)
	}
}
