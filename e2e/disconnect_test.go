package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// abortUpload sends the headers and part of a raw Nimblex upload of size
// bytes, then drops the connection.
func abortUpload(t *testing.T, gw *gateway, key, path string, size, sent int) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", gw.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", path, gw.addr, key, size)
	if _, err := conn.Write(bytes.Repeat([]byte("d"), sent)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the gateway is writing it
	conn.Close()
}

// waitEmpty waits until dir holds no file.
func waitEmpty(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		files := listFiles(t, dir)
		if len(files) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still in %s after the client left: %v", dir, files)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClientGoneMidUpload: a client that goes away mid-upload leaves
// nothing, in the bundled store and, through a remote upstream, upstream.
func TestClientGoneMidUpload(t *testing.T) {
	t.Parallel()
	const size, sent = 32 << 20, 4 << 20
	t.Run("bundled", func(t *testing.T) {
		t.Parallel()
		gw := startGateway(t)
		key := gw.key(t, "leaver")
		nxSeed(t, gw, key, "D1")
		abortUpload(t, gw, key, "/jsonapi/records/Case/D1/attachments/content/gone.bin", size, sent)
		waitEmpty(t, filepath.Join(gw.data, "store", "tmp"))
		st, _, body := do(t, http.MethodGet, nxList(gw, "D1"), bearer(key), nil)
		if st != http.StatusOK || bytes.Contains(body, []byte("gone.bin")) {
			t.Errorf("after the client left: %d %s", st, snippet(body))
		}
	})
	t.Run("through a remote upstream", func(t *testing.T) {
		t.Parallel()
		front, back, fk, bk := chain(t, "nimblex")
		nxSeed(t, front, fk, "D2")
		abortUpload(t, front, fk, "/jsonapi/records/Case/D2/attachments/content/gone.bin", size, sent)
		waitEmpty(t, filepath.Join(back.data, "store", "tmp"))
		st, _, body := do(t, http.MethodGet, nxList(back, "D2"), bearer(bk), nil)
		if st != http.StatusOK || bytes.Contains(body, []byte("gone.bin")) {
			t.Errorf("upstream after the client left: %d %s", st, snippet(body))
		}
	})
}

// TestClientGoneMidDownload: a client that reads 1 MiB of a 256 MiB
// pass-through download and goes away stops the transfer from the
// upstream: the upstream's writes fail soon after, it is not read to the
// end.
func TestClientGoneMidDownload(t *testing.T) {
	t.Parallel()
	const size = 256 << 20
	ln := listenLoopback(t)
	result := make(chan error, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		chunk := bytes.Repeat([]byte("z"), 64<<10)
		var err error
		for sent := 0; sent < size && err == nil; sent += len(chunk) {
			_, err = w.Write(chunk)
		}
		result <- err
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	front := startGateway(t, "--upstream", "espocrm+http://"+ln.Addr().String(), "--upstream-token", "UP")
	key := front.key(t, "reader")

	req, _ := http.NewRequest(http.MethodGet, front.url("/api/v1/Document/big/stream"), nil)
	req.Header.Set("X-Api-Key", key)
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // goes away with 255 MiB unread
	select {
	case err := <-result:
		if err == nil {
			t.Errorf("the upstream sent all %d bytes to a client that had gone", size)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the upstream was still sending 20 s after the client left")
	}
}

// TestClientGoneWhileTheUpstreamThinks: a client that gives up on a read
// the upstream is slow to answer ends the gateway's work on it at once,
// not when the upstream answers.
func TestClientGoneWhileTheUpstreamThinks(t *testing.T) {
	t.Parallel()
	ln := listenLoopback(t)
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-time.After(15 * time.Second):
		}
		http.Error(w, "late", http.StatusServiceUnavailable)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { close(release); srv.Close() })
	front := startGateway(t, "--upstream", "nimblex+http://"+ln.Addr().String(), "--upstream-token", "UP", "--upstream-timeout", "30s")
	key := front.key(t, "impatient")

	req, _ := http.NewRequest(http.MethodGet, nxList(front, "slow"), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("X-Request-Id", "gone-early")
	start := time.Now()
	if _, err := (&http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{}}).Do(req); err == nil {
		t.Fatal("the slow upstream answered in time")
	}
	line := waitLogLine(t, front, "gone-early")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the gateway gave up %v after the request, want soon after the client left", took)
	}
	if !strings.Contains(line, "upstream_status=0") {
		t.Errorf("log line %s: want the upstream call abandoned", line)
	}
}

// TestClientGoneClosesTheUpstreamCall: a client that gives up on a call
// without a body, translated or passed through, closes the upstream
// connection that carried it at once: the upstream (a slow fake that
// notes when its connection ends) sees it end well before
// --upstream-timeout would have ended the call.
func TestClientGoneClosesTheUpstreamCall(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, dialect, path, header string
	}{
		{"nimblex list, translated", "nimblex", "/jsonapi/records/Case/slow/attachments", "Authorization"},
		{"espocrm pass-through", "espocrm", "/api/v1/Account/abc/opportunities", "X-Api-Key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ln := listenLoopback(t)
			release := make(chan struct{})
			gone := make(chan time.Time, 1)
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done(): // net/http: the connection closed
					gone <- time.Now()
				case <-release:
				case <-time.After(30 * time.Second):
				}
				http.Error(w, "late", http.StatusServiceUnavailable)
			})}
			go srv.Serve(ln)
			t.Cleanup(func() { close(release); srv.Close() })
			front := startGateway(t, "--upstream", tc.dialect+"+http://"+ln.Addr().String(), "--upstream-token", "UP", "--upstream-timeout", "30s")
			key := front.key(t, "impatient")

			req, _ := http.NewRequest(http.MethodGet, front.url(tc.path), nil)
			if tc.header == "Authorization" {
				req.Header.Set("Authorization", "Bearer "+key)
			} else {
				req.Header.Set(tc.header, key)
			}
			if _, err := (&http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{}}).Do(req); err == nil {
				t.Fatal("the slow upstream answered in time")
			}
			left := time.Now()
			select {
			case at := <-gone:
				if d := at.Sub(left); d > 3*time.Second {
					t.Errorf("the upstream saw its connection end %v after the client left", d)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the upstream's connection was still open 10 s after the client left (--upstream-timeout 30s)")
			}
		})
	}
}
