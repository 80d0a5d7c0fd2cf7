package e2e

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"
)

// TestConsoleOnTheAdminListener: with --admin the console is there and not
// on the main listener; it shows the mirror's queue of a mirror that is
// down, and the status file a real `dragoman migrate` left.
func TestConsoleOnTheAdminListener(t *testing.T) {
	t.Parallel()
	// A migration between two data dirs, which leaves its status file.
	src := startGateway(t)
	sc := tl{src, src.key(t, "src")}
	sc.create(t, "T", "1", "a.txt", "text/plain", []byte("first"))
	sc.create(t, "T", "2", "b.txt", "text/plain", []byte("second"))
	src.stop()
	work := t.TempDir()
	status := filepath.Join(work, "m.status")
	m := runCLI(t, work, time.Minute, "migrate", "--from", "bundled:"+src.data, "--to", "bundled:"+filepath.Join(work, "dst"),
		"--journal", filepath.Join(work, "m.journal"), "--status", status)
	if m.code != 0 {
		t.Fatalf("migrate: exit %d\n%s\n%s", m.code, m.stdout, m.stderr)
	}

	admin := freeAddr(t)
	gw := startGateway(t, "--admin", admin, "--migrate-status", status,
		"--mirror", "nimblex+http://"+freeAddr(t), "--mirror-token", "x", "--mirror-mode", "dual-write")
	c := tl{gw, gw.key(t, "ops")}
	c.create(t, "T", "9", "queued.txt", "text/plain", []byte("waits for the mirror"))

	if status, _, _ := do(t, http.MethodGet, gw.url("/console/api/session"), c.auth(), nil); status != http.StatusNotFound {
		t.Errorf("the console on the main listener with --admin: %d, want 404", status)
	}
	get := func(path string, v any) {
		t.Helper()
		st, _, body := do(t, http.MethodGet, "http://"+admin+"/console/api"+path, bearer(c.key), nil)
		if st != 200 || json.Unmarshal(body, v) != nil {
			t.Fatalf("admin GET /console/api%s: %d %s", path, st, snippet(body))
		}
	}
	if st, _, _ := do(t, http.MethodGet, "http://"+admin+"/console/api/session", nil, nil); st != http.StatusUnauthorized {
		t.Errorf("the console's API on --admin without a key: %d, want 401", st)
	}
	if st, _, body := do(t, http.MethodGet, "http://"+admin+"/console/", nil, nil); st != 200 || len(body) == 0 {
		t.Errorf("the console's page on --admin: %d", st)
	}
	var mir struct {
		Configured    bool
		Mode          string
		QueueDepth    int     `json:"queue_depth"`
		OldestSeconds float64 `json:"oldest_seconds"`
	}
	if !waitUntil(10*time.Second, func() bool { get("/mirror", &mir); return mir.QueueDepth >= 1 && mir.OldestSeconds > 0 }) {
		t.Errorf("mirror: %+v, want the one queued write", mir)
	}
	if !mir.Configured || mir.Mode != "dual-write" {
		t.Errorf("mirror: %+v", mir)
	}
	var mig struct {
		Configured, Found, Running bool
		Status                     struct {
			State      string
			FilesTotal int64 `json:"files_total"`
			FilesDone  int64 `json:"files_done"`
			BytesDone  int64 `json:"bytes_done"`
			From       string
		}
	}
	get("/migration", &mig)
	if !mig.Configured || !mig.Found || mig.Running || mig.Status.State != "done" || mig.Status.FilesTotal != 2 ||
		mig.Status.FilesDone != 2 || mig.Status.BytesDone != int64(len("first")+len("second")) || mig.Status.From != "bundled:"+src.data {
		t.Errorf("migration: %+v", mig)
	}
}
