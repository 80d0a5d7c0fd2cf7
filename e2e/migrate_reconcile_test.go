package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestReconcileFindsAndRepairs compares a Nimblex gateway with a
// TransactionLink one: one JSON line per difference, exit 1; --repair
// makes b agree with a, and a last run finds nothing and exits 0.
func TestReconcileFindsAndRepairs(t *testing.T) {
	t.Parallel()
	ga, gb := startGateway(t), startGateway(t)
	ak, bk := ga.key(t, "reconcile"), gb.key(t, "reconcile")
	na, tb := nx{ga, ak}, tl{gb, bk}
	na.upload(t, "T", "1", "", "same.txt", []byte("same"), "text/plain")
	na.upload(t, "T", "1", "", "changed.txt", []byte("a's bytes"), "text/plain")
	na.upload(t, "T", "1", "", "only-a.txt", []byte("a"), "text/plain")
	tb.create(t, "T", "1", "same.txt", "text/plain", []byte("same"))
	tb.create(t, "T", "1", "changed.txt", "text/plain", []byte("b's bytes"))
	tb.create(t, "T", "1", "only-b.txt", "text/plain", []byte("b"))

	dir := t.TempDir()
	args := []string{"reconcile", "--a", "nimblex+" + ga.base, "--a-token", ak, "--b", "transactionlink+" + gb.base, "--b-token", bk,
		"--records", writeRecords(t, dir, "T/1")}
	m := runCLI(t, dir, time.Minute, args...)
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(m.stdout), "\n") {
		var d struct {
			Record, Name, Difference string
			Fields                   []string
		}
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("output line %q is not JSON: %v", line, err)
		}
		got = append(got, d.Record+" "+d.Name+" "+d.Difference+" "+strings.Join(d.Fields, ","))
	}
	slices.Sort(got)
	want := []string{"T/1 changed.txt differs sha256", "T/1 only-a.txt missing_on_b ", "T/1 only-b.txt missing_on_a "}
	if m.code != 1 || !slices.Equal(got, want) {
		t.Fatalf("reconcile: exit %d, differences %q; want exit 1 and %q\nstderr: %s", m.code, got, want, m.stderr)
	}

	if m := runCLI(t, dir, time.Minute, append(args, "--repair")...); m.code != 0 || strings.Count(m.stdout, `"repaired":true`) != 3 {
		t.Fatalf("reconcile --repair: exit %d, stdout %s; want 0 and 3 repaired\nstderr: %s", m.code, m.stdout, m.stderr)
	}
	if m := runCLI(t, dir, time.Minute, args...); m.code != 0 || strings.TrimSpace(m.stdout) != "" {
		t.Fatalf("reconcile after repair: exit %d, stdout %s; want 0 and nothing", m.code, m.stdout)
	}
	var names []string
	for _, a := range tb.list(t, "T", "1") {
		names = append(names, a.Name)
		if a.Name == "changed.txt" {
			st, _, body := fetchLink(t, tb.link(t, "T", "1", a.ID))
			if st != 200 || string(body) != "a's bytes" {
				t.Errorf("changed.txt at b after repair: %d %q, want a's bytes", st, body)
			}
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"changed.txt", "only-a.txt", "same.txt"}) {
		t.Errorf("b holds %v after repair, want a's files", names)
	}
}
