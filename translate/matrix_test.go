package translate

import (
	"os"
	"testing"
)

// TestUpstreamMatrixIsCurrent keeps docs/upstream-matrix.md generated from
// the routes.yaml it documents.
func TestUpstreamMatrixIsCurrent(t *testing.T) {
	cfg := repoRoutes(t)
	doc, err := os.ReadFile("../docs/upstream-matrix.md")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.UpstreamMatrix(); got != string(doc) {
		t.Fatalf("docs/upstream-matrix.md is stale: run go run ./cmd/dragoman routes matrix > docs/upstream-matrix.md\n%s", lineDiff(string(doc), got))
	}
}

func TestUpstreamCapabilities(t *testing.T) {
	cfg := repoRoutes(t)
	want := map[string]map[string]string{
		"nimblex":         {"create": "direct", "download": "direct", "stat": "via list", "record.update": "gateway"},
		"transactionlink": {"download": "via link", "placeholder": "gateway"},
		"espocrm":         {"delete": "via record.update", "list": "via record.get"},
		"mediapocket":     {"create": "no", "placeholder": "direct", "download": "no"},
		"infolobby":       {"list": "via record.get", "record.update": "direct"},
	}
	for dialect, ops := range want {
		sp, err := cfg.Speaker(dialect)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, c := range sp.UpstreamCapabilities() {
			got[string(c.Cap)] = c.String()
		}
		for op, how := range ops {
			if got[op] != how {
				t.Errorf("%s as upstream: %s is %q, want %q", dialect, op, got[op], how)
			}
		}
	}
}

// repoRoutes compiles the repository's routes.yaml.
func repoRoutes(t *testing.T) *Config {
	t.Helper()
	data, err := os.ReadFile("../routes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestUpstreamGapsIsTheMatrixColumn(t *testing.T) {
	cfg := repoRoutes(t)
	gaps, ok := cfg.UpstreamGaps("mediapocket")
	if !ok {
		t.Fatal("no mediapocket column")
	}
	tl := gaps["transactionlink"]
	want := []RouteGap{{Route: "attachments.link", Lacks: []string{"download"}},
		{Route: "attachments.create", Lacks: []string{"create"}}, {Route: "attachments.delete", Lacks: []string{"delete"}}}
	if len(tl) != len(want) {
		t.Fatalf("transactionlink in front of mediapocket: %+v, want %+v", tl, want)
	}
	for i := range want {
		if tl[i].Route != want[i].Route || tl[i].Partly || len(tl[i].Lacks) != 1 || tl[i].Lacks[0] != want[i].Lacks[0] {
			t.Errorf("gap %d: %+v, want %+v", i, tl[i], want[i])
		}
	}
	if len(gaps) != len(cfg.Dialects()) {
		t.Errorf("a column of %d clients, want %d", len(gaps), len(cfg.Dialects()))
	}
	if g, _ := cfg.UpstreamGaps("transactionlink"); len(g["transactionlink"]) != 0 {
		t.Errorf("transactionlink in front of itself: %+v", g["transactionlink"])
	}
	if _, ok := cfg.UpstreamGaps("nosuch"); ok {
		t.Errorf("a column for an unknown dialect")
	}
}
