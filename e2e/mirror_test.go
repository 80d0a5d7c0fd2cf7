package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// switchProxy stands in front of a gateway and can be turned down (every
// request answers 503) or slow (every request waits first).
type switchProxy struct {
	base       string
	down, slow atomic.Bool
}

func newSwitchProxy(t *testing.T, target *gateway) *switchProxy {
	t.Helper()
	u, _ := url.Parse(target.base)
	rp := httputil.NewSingleHostReverseProxy(u)
	ln := listenLoopback(t)
	p := &switchProxy{base: "http://" + ln.Addr().String()}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.slow.Load() {
			time.Sleep(3 * time.Second)
		}
		if p.down.Load() {
			http.Error(w, "mirror down for the test", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p
}

// waitUntil polls cond until it holds or timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cond()
}

// nimblexNames lists a record at a Nimblex gateway without failing the
// test (a record never written is no names).
func nimblexNames(t *testing.T, c nx, eformtype, record string) []string {
	t.Helper()
	st, _, body := do(t, http.MethodGet, c.attachments(eformtype, record), bearer(c.key), nil)
	if st != http.StatusOK {
		return nil
	}
	var out []string
	for _, m := range regexp.MustCompile(`"id":"([^"]+)"`).FindAllSubmatch(body, -1) {
		out = append(out, string(m[1]))
	}
	slices.Sort(out)
	return out
}

// TestMirrorDualWriteConverges writes through a primary gateway whose
// mirror is down, kills the primary with SIGKILL while the writes are still
// queued, starts it again and brings the mirror back: the mirror must end
// with exactly the primary's files, byte for byte, in the order written
// (the delete after the create leaves nothing).
func TestMirrorDualWriteConverges(t *testing.T) {
	t.Parallel()
	mirrorGW := startGateway(t, "--rate-limit", "0")
	mk := mirrorGW.key(t, "mirror")
	proxy := newSwitchProxy(t, mirrorGW)
	proxy.down.Store(true)
	primary := startGateway(t, "--mirror", "nimblex+"+proxy.base, "--mirror-token", mk, "--mirror-mode", "dual-write")
	pc := tl{primary, primary.key(t, "client")}

	want := map[string][]byte{}
	for i := range 5 {
		name := fmt.Sprintf("f%d.bin", i)
		data := randomBytes(t, 1000+i*50_000)
		pc.create(t, "T", "1", name, "application/octet-stream", data)
		want[name] = data
	}
	gone := pc.create(t, "T", "1", "gone.txt", "text/plain", []byte("deleted while the mirror is down"))
	if st, _, body := do(t, http.MethodDelete, pc.attachment("T", "1", gone.ID), pc.auth(), nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d %s", st, snippet(body))
	}
	if !waitUntil(10*time.Second, func() bool { return strings.Contains(primary.out.String(), "will retry") }) {
		t.Fatalf("the primary never tried the mirror:\n%s", primary.out.String())
	}
	primary.kill(t)
	primary.restart(t)
	if !strings.Contains(primary.out.String(), "resuming the dual-write queue") {
		t.Errorf("the restarted primary does not say it resumes its queue:\n%s", primary.out.String())
	}
	// The queue is a metric: seven writes wait (six creates and a
	// delete), the oldest for a while.
	text := metricsText(t, primary.url("/metrics"))
	if v, _ := sample(text, "dragoman_mirror_queue_depth"); v != "7" {
		t.Errorf("dragoman_mirror_queue_depth = %q with the mirror down, want 7", v)
	}
	if v, ok := sample(text, "dragoman_mirror_queue_oldest_seconds"); !ok || v == "0" {
		t.Errorf("dragoman_mirror_queue_oldest_seconds = %q with writes queued, want their age", v)
	}
	// The client sees the primary as before.
	if got := len(pc.list(t, "T", "1")); got != 5 {
		t.Errorf("the primary lists %d files after the restart, want 5", got)
	}
	time.Sleep(500 * time.Millisecond) // down a while longer
	proxy.down.Store(false)

	mc := nx{mirrorGW, mk}
	var wantIDs []string
	for name := range want {
		wantIDs = append(wantIDs, "T/1/attachments/"+name)
	}
	slices.Sort(wantIDs)
	if !waitUntil(45*time.Second, func() bool { return slices.Equal(nimblexNames(t, mc, "T", "1"), wantIDs) }) {
		t.Fatalf("the mirror lists %v, want %v\nprimary output:\n%s", nimblexNames(t, mc, "T", "1"), wantIDs, primary.out.String())
	}
	for name, data := range want {
		if got := mc.content(t, "T", "1", "", name); !bytes.Equal(got, data) {
			t.Errorf("%s at the mirror: %d bytes that differ from the %d written", name, len(got), len(data))
		}
	}
	if !waitUntil(10*time.Second, func() bool {
		v, _ := sample(metricsText(t, primary.url("/metrics")), "dragoman_mirror_queue_depth")
		return v == "0"
	}) {
		t.Errorf("dragoman_mirror_queue_depth never came back to 0 once the mirror converged")
	}
	text = metricsText(t, primary.url("/metrics"))
	if v, _ := sample(text, "dragoman_mirror_queue_oldest_seconds"); v != "0" {
		t.Errorf("dragoman_mirror_queue_oldest_seconds = %q with the queue empty, want 0", v)
	}
	if v, _ := sample(text, "dragoman_mirror_dropped_total"); v != "0" {
		t.Errorf("dragoman_mirror_dropped_total = %q, want 0", v)
	}
}

// TestMirrorShadowCountsDiffs shadows reads to a mirror that lacks a file
// and has another with other bytes: the client's answers are the primary's,
// and each difference is logged; a slow mirror does not slow the client.
func TestMirrorShadowCountsDiffs(t *testing.T) {
	t.Parallel()
	mirrorGW := startGateway(t)
	mk := mirrorGW.key(t, "mirror")
	proxy := newSwitchProxy(t, mirrorGW)
	// The files are written before the mirror is there, so that only the
	// client's reads below are compared (an upload lists the record too).
	primary := startGateway(t)
	pc := nx{primary, primary.key(t, "client")}
	mc := tl{mirrorGW, mk}
	pc.upload(t, "T", "1", "", "same.txt", []byte("same bytes"), "text/plain")
	pc.upload(t, "T", "1", "", "changed.txt", []byte("primary bytes"), "text/plain")
	pc.upload(t, "T", "1", "", "missing.txt", []byte("only at the primary"), "text/plain")
	mc.create(t, "T", "1", "same.txt", "text/plain", []byte("same bytes"))
	mc.create(t, "T", "1", "changed.txt", "text/plain", []byte("mirror bytes!"))
	primary.args = append(primary.args, "--mirror", "transactionlink+"+proxy.base, "--mirror-token", mk, "--mirror-mode", "shadow")
	primary.restart(t)

	items := pc.list(t, "T", "1")
	if len(items) != 3 {
		t.Fatalf("the client lists %d files, want the primary's 3", len(items))
	}
	for _, name := range []string{"same.txt", "changed.txt", "missing.txt"} {
		pc.content(t, "T", "1", "", name)
	}
	diffs := func(op string) int {
		return strings.Count(primary.out.String(), `msg="mirror: shadow read differs" op=`+op)
	}
	// Every listing of the record differs (missing.txt); a Nimblex
	// download finds its file by listing the record, so there are up to
	// four. The mirror's listing carries no sha256 of a file it did not
	// make, so changed.txt differs in the download compare only.
	if !waitUntil(20*time.Second, func() bool { return diffs("list") >= 1 && diffs("download") == 2 }) {
		t.Fatalf("shadow logged %d list and %d download diffs, want at least 1 and 2 (changed.txt, missing.txt)\n%s", diffs("list"), diffs("download"), primary.out.String())
	}
	// The same counts are metrics.
	text := metricsText(t, primary.url("/metrics"))
	if v, _ := sample(text, `dragoman_mirror_diffs_total{op="download"}`); v != "2" {
		t.Errorf("dragoman_mirror_diffs_total{op=\"download\"} = %q, want 2", v)
	}
	if v, _ := sample(text, `dragoman_mirror_diffs_total{op="list"}`); v != fmt.Sprint(diffs("list")) {
		t.Errorf("dragoman_mirror_diffs_total{op=\"list\"} = %q, want the %d logged", v, diffs("list"))
	}
	// Only the mirror's lines: the access log names every file read.
	var mirrorLines []string
	for _, l := range strings.Split(primary.out.String(), "\n") {
		if strings.Contains(l, `msg="mirror:`) {
			mirrorLines = append(mirrorLines, l)
		}
	}
	out := strings.Join(mirrorLines, "\n")
	if !strings.Contains(out, "missing.txt (19 bytes) missing at the mirror") || !strings.Contains(out, "changed.txt: sha256") || strings.Contains(out, "same.txt") {
		t.Errorf("the diffs do not say exactly which files differ:\n%s", out)
	}

	// A mirror that takes seconds to answer costs the client nothing.
	proxy.slow.Store(true)
	start := time.Now()
	for range 3 {
		pc.list(t, "T", "1")
		if got := pc.content(t, "T", "1", "", "same.txt"); string(got) != "same bytes" {
			t.Errorf("download with a slow mirror: %q", got)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("6 reads took %v with a slow mirror, want well under the mirror's 3 s", d)
	}
}
