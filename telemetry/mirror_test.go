package telemetry

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// The mirror families carry what the stats say at each scrape, the shadow
// counts by operation; with metrics off, watching a mirror does nothing.
func TestWatchMirrorExportsTheStats(t *testing.T) {
	tel := New(Options{Metrics: true})
	st := MirrorStats{QueueDepth: 3, QueueOldest: 1500 * time.Millisecond, Applied: 7, Retries: 2, Dropped: 1,
		Compared: map[string]uint64{"list": 5, "download": 4}, Diffs: map[string]uint64{"list": 1, "download": 2}, ShadowSkipped: 6}
	tel.WatchMirror(func() MirrorStats { return st })
	fams, err := tel.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			got[key] = value(m)
		}
	}
	for k, want := range map[string]float64{
		"dragoman_mirror_queue_depth": 3, "dragoman_mirror_queue_oldest_seconds": 1.5,
		"dragoman_mirror_applied_total": 7, "dragoman_mirror_retries_total": 2, "dragoman_mirror_dropped_total": 1,
		"dragoman_mirror_shadow_skipped_total":    6,
		"dragoman_mirror_compared_total{op=list}": 5, "dragoman_mirror_compared_total{op=download}": 4,
		"dragoman_mirror_diffs_total{op=list}": 1, "dragoman_mirror_diffs_total{op=download}": 2,
	} {
		if v, ok := got[k]; !ok || v != want {
			t.Errorf("%s = %v (present: %v), want %v", k, v, ok, want)
		}
	}
	st.Diffs["list"] = 4
	st.QueueDepth = 0
	fams, _ = tel.Gatherer().Gather()
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			if f.GetName() == "dragoman_mirror_queue_depth" && value(m) != 0 {
				t.Errorf("queue depth %v after it drained, want 0", value(m))
			}
			if f.GetName() == "dragoman_mirror_diffs_total" && m.GetLabel()[0].GetValue() == "list" && value(m) != 4 {
				t.Errorf("list diffs %v at the second scrape, want 4", value(m))
			}
		}
	}
	New(Options{}).WatchMirror(func() MirrorStats { t.Error("stats read with metrics off"); return MirrorStats{} })
}

func value(m *dto.Metric) float64 {
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}
