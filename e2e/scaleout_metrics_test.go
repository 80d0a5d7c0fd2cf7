package e2e

import (
	"net/http"
	"testing"
)

// TestScaleOutStoreMetrics checks /metrics' store gauges on the
// PostgreSQL + S3 store: the attachments and bytes written through another
// gateway on the same database are counted.
func TestScaleOutStoreMetrics(t *testing.T) {
	gws, key := startScaleOut(t, 2)
	for i, body := range []string{"hello metrics", "abc"} {
		name := []string{"a.txt", "b.txt"}[i]
		if st, _, _ := do(t, http.MethodPost, gws[0].url("/jsonapi/records/Case/m1/attachments/content/"+name), bearer(key), []byte(body)); st != http.StatusOK {
			t.Fatalf("upload: %d", st)
		}
	}
	text := metricsText(t, gws[1].url("/metrics"))
	for _, want := range []struct{ series, value string }{
		{`dragoman_store_attachments`, "2"},
		{`dragoman_store_bytes`, "16"},
	} {
		if got, ok := sample(text, want.series); !ok || got != want.value {
			t.Errorf("%s = %q (present %v), want %s", want.series, got, ok, want.value)
		}
	}
}
