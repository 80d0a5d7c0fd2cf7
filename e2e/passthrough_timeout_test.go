package e2e

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// slowReader gives n bytes in pieces of step, one every every.
type slowReader struct {
	n, step int
	every   time.Duration
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.every)
	k := min(r.step, r.n, len(p))
	for i := range p[:k] {
		p[i] = 's'
	}
	r.n -= k
	return k, nil
}

// TestPassThroughTimeoutsAreIdleTimeouts: through the same-dialect
// pass-through, --upstream-timeout bounds the wait for the upstream's
// answer and --upstream-idle-timeout any stall, never the whole transfer:
// a 240 KB upload and download moving at 60 KB/s for four seconds go
// through with a one-second timeout; a download that stalls is cut off.
func TestPassThroughTimeoutsAreIdleTimeouts(t *testing.T) {
	t.Parallel()
	const size = 240 << 10
	ln := listenLoopback(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/Document/slow/up":
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil || n != size {
				http.Error(w, "short body", http.StatusBadRequest)
				return
			}
			w.WriteHeader(http.StatusCreated)
		case "/api/v1/Document/slow/down":
			w.Header().Set("Content-Length", strconv.Itoa(size))
			w.WriteHeader(http.StatusOK)
			io.Copy(flushWriter{w}, &slowReader{n: size, step: 6 << 10, every: 100 * time.Millisecond})
		case "/api/v1/Document/slow/stall":
			w.Header().Set("Content-Length", strconv.Itoa(size))
			w.WriteHeader(http.StatusOK)
			w.Write(bytes.Repeat([]byte("x"), 1024))
			w.(http.Flusher).Flush()
			time.Sleep(4 * time.Second)
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	front := startGateway(t, "--upstream", "espocrm+http://"+ln.Addr().String(), "--upstream-token", "UP",
		"--upstream-timeout", "1s", "--upstream-idle-timeout", "1s")
	key := front.key(t, "client")

	t.Run("a slow upload", func(t *testing.T) {
		t.Parallel()
		req, err := http.NewRequest(http.MethodPost, front.url("/api/v1/Document/slow/up"),
			&slowReader{n: size, step: 6 << 10, every: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		req.Header.Set("X-Api-Key", key)
		start := time.Now()
		st, _, body := doReq(t, req)
		if st != http.StatusCreated {
			t.Fatalf("after %v: %d %s, want 201", time.Since(start), st, snippet(body))
		}
		if took := time.Since(start); took < 2*time.Second {
			t.Errorf("the upload took %v: not slow enough to prove anything", took)
		}
	})
	t.Run("a slow download", func(t *testing.T) {
		t.Parallel()
		start := time.Now()
		st, _, body := do(t, http.MethodGet, front.url("/api/v1/Document/slow/down"), hdr{"X-Api-Key": key}, nil)
		if st != http.StatusOK || len(body) != size {
			t.Fatalf("after %v: %d, %d bytes, want 200 and %d", time.Since(start), st, len(body), size)
		}
		if took := time.Since(start); took < 2*time.Second {
			t.Errorf("the download took %v: not slow enough to prove anything", took)
		}
	})
	t.Run("a stalled download is cut off", func(t *testing.T) {
		t.Parallel()
		req, _ := http.NewRequest(http.MethodGet, front.url("/api/v1/Document/slow/stall"), nil)
		req.Header.Set("X-Api-Key", key)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return // cut off before the headers: also a cut
		}
		n, err := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && n == size {
			t.Fatalf("a download that stalled for 4s with a 1s idle timeout arrived whole")
		}
		if took := time.Since(start); took > 3500*time.Millisecond {
			t.Errorf("the stall was cut off after %v, want about 1s", took)
		}
	})
}

type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.w.(http.Flusher).Flush()
	return n, err
}
