package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// TestUpstreamPassThroughStreams sends 64 MiB up and 64 MiB down through
// the same-dialect pass-through (a path the gateway does not model), to a
// plain HTTP upstream: the bytes must arrive whole both ways, and the
// front's peak RSS must stay far under what holding either body would take.
func TestUpstreamPassThroughStreams(t *testing.T) {
	t.Parallel()
	const size = 64 << 20
	const limit = 48 << 20 // the front's peak RSS: well under one body

	var mu sync.Mutex
	var gotLen int64
	var gotSHA string
	ln := listenLoopback(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			mu.Lock()
			gotLen, gotSHA = n, hex.EncodeToString(h.Sum(nil))
			mu.Unlock()
			w.WriteHeader(http.StatusCreated)
		case http.MethodGet:
			w.Header().Set("Content-Length", strconv.Itoa(size))
			io.Copy(w, &genReader{src: rand.NewChaCha8([32]byte{'d', 'o', 'w', 'n'}), n: size})
		}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	front := startGateway(t, "--upstream", "espocrm+http://"+ln.Addr().String(), "--upstream-token", "UP-TOKEN")
	key := front.key(t, "client")
	url := front.url("/api/v1/Document/big/stream")

	sent := sha256.New()
	req, err := http.NewRequest(http.MethodPost, url, io.TeeReader(&genReader{src: rand.NewChaCha8([32]byte{'u', 'p'}), n: size}, sent))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("X-Api-Key", key)
	st, _, body := doReq(t, req)
	if st != http.StatusCreated {
		t.Fatalf("64 MiB up through the pass-through: status %d %s", st, snippet(body))
	}
	mu.Lock()
	if want := hex.EncodeToString(sent.Sum(nil)); gotLen != size || gotSHA != want {
		t.Errorf("the upstream got %d bytes with sha256 %s, want %d with %s", gotLen, gotSHA, size, want)
	}
	mu.Unlock()

	req, err = http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Api-Key", key)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("64 MiB down through the pass-through: %v", err)
	}
	down := sha256.New()
	n, err := io.Copy(down, resp.Body)
	resp.Body.Close()
	want := sha256.New()
	io.Copy(want, &genReader{src: rand.NewChaCha8([32]byte{'d', 'o', 'w', 'n'}), n: size})
	if err != nil || resp.StatusCode != http.StatusOK || n != size || fmt.Sprintf("%x", down.Sum(nil)) != fmt.Sprintf("%x", want.Sum(nil)) {
		t.Fatalf("64 MiB down through the pass-through: status %d, %d bytes, %v; want 200, %d bytes, the upstream's sha256", resp.StatusCode, n, err, size)
	}

	if rss := peakRSS(t, front); rss >= limit {
		t.Errorf("after 64 MiB each way the front's peak RSS is %d MiB, want under %d MiB", rss>>20, limit>>20)
	} else {
		t.Logf("front peak RSS after 64 MiB up and down through the pass-through: %.1f MiB", float64(rss)/(1<<20))
	}
}
