package e2e

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// chain starts an upstream gateway on the bundled store and a front
// gateway that speaks dialect to it, and returns the front, the upstream,
// a key for each.
func chain(t *testing.T, dialect string, frontArgs ...string) (front, back *gateway, frontKey, backKey string) {
	t.Helper()
	back = startGateway(t)
	backKey = back.key(t, "the-gateway")
	front = startGateway(t, append([]string{"--upstream", dialect + "+" + back.base, "--upstream-token", backKey}, frontArgs...)...)
	frontKey = front.key(t, "client")
	return front, back, frontKey, backKey
}

// TestUpstreamChainNimblex: a Nimblex client and an InfoLobby client of the
// front gateway reach files kept by the upstream gateway, which sees only
// its own token; the bytes are the same at both ends.
func TestUpstreamChainNimblex(t *testing.T) {
	t.Parallel()
	front, back, fk, bk := chain(t, "nimblex")
	data := bytes.Repeat([]byte("chain "), 50000)

	st, _, body := do(t, http.MethodPost, front.url("/jsonapi/records/Case/42/attachments/content/docs/a.bin"), bearer(fk), data)
	if st != http.StatusOK {
		t.Fatalf("upload through the front: %d %s", st, snippet(body))
	}
	// Read at the upstream directly, with its own key.
	st, _, got := do(t, http.MethodGet, back.url("/jsonapi/records/Case/42/attachments/content/docs/a.bin"), bearer(bk), nil)
	if st != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("upstream holds %d bytes (status %d), want the %d uploaded", len(got), st, len(data))
	}
	// The client's key means nothing to the upstream.
	if st, _, _ := do(t, http.MethodGet, back.url("/jsonapi/records/Case/42/attachments"), bearer(fk), nil); st != http.StatusUnauthorized {
		t.Fatalf("the upstream accepted the front's client key: %d", st)
	}
	// Another dialect through the front reads the same file.
	st, _, body = do(t, http.MethodGet, front.url("/api/table/Case/record/42/get"), bearer(fk), nil)
	if st != http.StatusOK {
		t.Fatalf("infolobby record get through the front: %d %s", st, snippet(body))
	}
	var rec struct {
		Data map[string][]struct{ Name, Path string }
	}
	if err := json.Unmarshal(body, &rec); err != nil || len(rec.Data["docs"]) != 1 || rec.Data["docs"][0].Name != "a.bin" {
		t.Fatalf("infolobby record get: %s", snippet(body))
	}
	req, _ := json.Marshal(map[string]string{"field_id": "docs", "path": rec.Data["docs"][0].Path})
	st, _, body = do(t, http.MethodPost, front.url("/api/table/Case/record/42/files/get"), bearer(fk).with("Content-Type", "application/json"), req)
	var file struct{ Data []byte }
	if st != http.StatusOK || json.Unmarshal(body, &file) != nil || !bytes.Equal(file.Data, data) {
		t.Fatalf("infolobby files/get through the front: %d, %d bytes", st, len(file.Data))
	}
	// Delete through the front; gone at the upstream.
	st, _, _ = do(t, http.MethodDelete, front.url("/jsonapi/records/Case/42/attachments/docs/a.bin"), bearer(fk), nil)
	if st/100 != 2 {
		t.Fatalf("delete through the front: %d", st)
	}
	if st, _, _ := do(t, http.MethodGet, back.url("/jsonapi/records/Case/42/attachments/content/docs/a.bin"), bearer(bk), nil); st != http.StatusNotFound {
		t.Fatalf("after delete the upstream still serves the file: %d", st)
	}
}

// TestUpstreamPassThrough: same dialect on both sides, a request the
// gateway does not model reaches the upstream with the upstream token and
// forwarding headers, and its answer comes back unchanged.
func TestUpstreamPassThrough(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen http.Header
	var seenPath string
	ln := listenLoopback(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen, seenPath = r.Header.Clone(), r.URL.RequestURI()
		mu.Unlock()
		w.Header().Set("X-Upstream", "yes")
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte(`{"from":"upstream"}`))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	front := startGateway(t, "--upstream", "espocrm+http://"+ln.Addr().String(), "--upstream-token", "UP-TOKEN")
	key := front.key(t, "client")
	st, h, body := do(t, http.MethodGet, front.url("/api/v1/Account/abc/opportunities?maxSize=5"), hdr{"X-Api-Key": key, "Connection": "keep-alive, X-Secret-Hop", "X-Secret-Hop": "drop me"}, nil)
	if st != http.StatusTeapot || h.Get("X-Upstream") != "yes" || string(body) != `{"from":"upstream"}` {
		t.Fatalf("pass-through answer: %d %v %s", st, h, body)
	}
	mu.Lock()
	defer mu.Unlock()
	checks := []struct{ what, got, want string }{
		{"path and query", seenPath, "/api/v1/Account/abc/opportunities?maxSize=5"},
		{"credential", seen.Get("X-Api-Key"), "UP-TOKEN"},
		{"X-Forwarded-For", seen.Get("X-Forwarded-For"), "127.0.0.1"},
		{"X-Forwarded-Proto", seen.Get("X-Forwarded-Proto"), "http"},
		{"X-Forwarded-Host", seen.Get("X-Forwarded-Host"), strings.TrimPrefix(front.base, "http://")},
		{"hop-by-hop header named in Connection", seen.Get("X-Secret-Hop"), ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("upstream saw %s %q, want %q", c.what, c.got, c.want)
		}
	}
	// Without a gateway key nothing passes.
	if st, _, _ := do(t, http.MethodGet, front.url("/api/v1/Account/abc"), hdr{"X-Api-Key": "nope"}, nil); st != http.StatusUnauthorized {
		t.Errorf("pass-through without a valid key: %d, want 401", st)
	}
}

// TestUpstreamFaults: an upstream that is gone, that stalls, or that
// answers garbage gives the client a 502 or 504 in its own dialect's shape,
// within the timeout, never a hang.
func TestUpstreamFaults(t *testing.T) {
	t.Parallel()
	// A stalling upstream: accepts connections and never answers.
	stall := listenLoopback(t)
	go func() {
		for {
			c, err := stall.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	// A garbage upstream: 200 with a body that is not the dialect's JSON.
	garbage := listenLoopback(t)
	gsrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"data": [this is not json`))
	})}
	go gsrv.Serve(garbage)
	t.Cleanup(func() { gsrv.Close() })
	// A dead upstream: a port nobody listens on.
	dead := listenLoopback(t)
	deadAddr := dead.Addr().String()
	dead.Close()

	cases := []struct {
		name     string
		upstream string
		want     int
	}{
		{"upstream down", deadAddr, http.StatusBadGateway},
		{"upstream stalls", stall.Addr().String(), http.StatusGatewayTimeout},
		{"upstream answers garbage", garbage.Addr().String(), http.StatusBadGateway},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			front := startGateway(t, "--upstream", "nimblex+http://"+tc.upstream, "--upstream-token", "x",
				"--upstream-connect-timeout", "1s", "--upstream-timeout", "1s")
			key := front.key(t, "client")
			start := time.Now()
			st, _, body := do(t, http.MethodGet, front.url("/api/table/Case/record/42/get"), bearer(key), nil)
			took := time.Since(start)
			if st != tc.want {
				t.Fatalf("status %d %s, want %d", st, snippet(body), tc.want)
			}
			var e struct {
				Error  string
				Status int
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Status != tc.want || e.Error == "" {
				t.Errorf("body %s is not the InfoLobby error shape with status %d", snippet(body), tc.want)
			}
			if took > 8*time.Second {
				t.Errorf("took %v: the timeout is 1s", took)
			}
			// Nimblex's own shape: the status with an empty body.
			st, _, body = do(t, http.MethodGet, front.url("/jsonapi/records/Case/42/attachments"), bearer(key), nil)
			if st != tc.want || len(body) != 0 {
				t.Errorf("nimblex: %d %q, want %d with an empty body", st, body, tc.want)
			}
		})
	}
}

func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}
