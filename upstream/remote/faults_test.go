package remote_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/remote"
)

// Fake upstreams, each a few lines of net/http, for what a real gateway
// will not do on demand: ignore ranges, stall, answer garbage, go away, or
// hand out links to somewhere else.

var quick = remote.Timeouts{Connect: time.Second, FirstByte: 300 * time.Millisecond, Idle: 300 * time.Millisecond}

// fake starts h and a remote store speaking dialect to it.
func fake(t testing.TB, dialect string, to remote.Timeouts, h http.HandlerFunc) (*remote.Store, *httptest.Server) {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h(w, r.WithContext(context.WithValue(r.Context(), releaseKey{}, release)))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: stalled handlers end
	sp, err := routes(t).Speaker(dialect)
	if err != nil {
		t.Fatal(err)
	}
	s, err := remote.New(remote.Options{Speaker: sp, URL: srv.URL, Token: upstreamToken, DataDir: t.TempDir(), Timeouts: to})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, srv
}

type releaseKey struct{}

// stall blocks a handler until the test ends.
func stall(r *http.Request) { <-r.Context().Value(releaseKey{}).(chan struct{}) }

// nimblexFile answers a Nimblex listing of record c/r with one file.
func nimblexFile(w http.ResponseWriter, size int) {
	w.Header().Set("Content-Type", "application/vnd.api+json")
	fmt.Fprintf(w, `{"data":[{"type":"attachment","id":"c/r/attachments/f.bin","attributes":{"mimetype":"application/octet-stream","size":%d},"links":{"content":"x"}}]}`, size)
}

const listPath = "/jsonapi/records/c/r/attachments"

var rc = upstream.RecordRef{Collection: "c", ID: "r"}

// fileID lists record c/r and returns its one file's id.
func fileID(t testing.TB, s upstream.Store) string {
	t.Helper()
	atts, err := s.List(context.Background(), rc)
	if err != nil || len(atts) != 1 {
		t.Fatalf("List: %v, %v", atts, err)
	}
	return atts[0].ID
}

func wantKind(t *testing.T, err error, kind upstream.Kind) {
	t.Helper()
	if got := upstream.KindOf(err); err == nil || got != kind {
		t.Fatalf("error %v (kind %s), want %s", err, got, kind)
	}
}

// TestSeek checks seeking an upstream download, with an upstream that
// serves ranges and with one that ignores them.
func TestSeek(t *testing.T) {
	content := make([]byte, 100<<10)
	for i := range content {
		content[i] = byte(i*7 + i/251)
	}
	for _, ranges := range []bool{true, false} {
		t.Run(fmt.Sprintf("ranges %v", ranges), func(t *testing.T) {
			var mu sync.Mutex
			var asked []string
			s, _ := fake(t, "nimblex", remote.DefaultTimeouts, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == listPath {
					nimblexFile(w, len(content))
					return
				}
				mu.Lock()
				asked = append(asked, r.Header.Get("Range"))
				mu.Unlock()
				if !ranges {
					r.Header.Del("Range")
				}
				http.ServeContent(w, r, "f.bin", time.Time{}, bytes.NewReader(content))
			})
			_, c, err := s.Open(context.Background(), fileID(t, s))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			read := func(off int64, n int) {
				t.Helper()
				if _, err := c.Seek(off, io.SeekStart); err != nil {
					t.Fatalf("Seek %d: %v", off, err)
				}
				got := make([]byte, n)
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatalf("read at %d: %v", off, err)
				}
				if !bytes.Equal(got, content[off:off+int64(n)]) {
					t.Fatalf("bytes at %d differ", off)
				}
			}
			if end, err := c.Seek(0, io.SeekEnd); err != nil || end != int64(len(content)) {
				t.Fatalf("Seek to end: %d, %v", end, err)
			}
			read(70_000, 1000) // forward: skipped on the open stream
			read(10, 100)      // back: asked again
			read(90_000, 10)   // forward again
			rest, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(rest, content[90_010:]) {
				t.Fatalf("rest: %d bytes, %v", len(rest), err)
			}
			mu.Lock()
			defer mu.Unlock()
			if want := []string{"", "bytes=10-"}; strings.Join(asked, "|") != strings.Join(want, "|") {
				t.Fatalf("asked for %q, want %q", asked, want)
			}
		})
	}
}

// TestStalledUpstream checks that an upstream that never answers costs
// the first-byte timeout, once (a timeout is not retried), not a hang.
func TestStalledUpstream(t *testing.T) {
	s, _ := fake(t, "nimblex", quick, func(w http.ResponseWriter, r *http.Request) { stall(r) })
	start := time.Now()
	_, err := s.List(context.Background(), rc)
	wantKind(t, err, upstream.KindTimeout)
	if d := time.Since(start); d > quick.FirstByte+time.Second {
		t.Fatalf("gave up after %v", d)
	}
}

// TestCancelledRead checks that a read gives up when its caller does,
// however long the upstream would keep it waiting.
func TestCancelledRead(t *testing.T) {
	s, _ := fake(t, "nimblex", remote.DefaultTimeouts, func(w http.ResponseWriter, r *http.Request) { stall(r) })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.List(ctx, rc)
	wantKind(t, err, upstream.KindTimeout)
	if d := time.Since(start); d > time.Second {
		t.Fatalf("gave up after %v", d)
	}
}

// TestStalledDownload checks the idle timeout while a body streams, and
// that a transfer that keeps moving outlasts the first-byte timeout.
func TestStalledDownload(t *testing.T) {
	const chunks = 8
	s, _ := fake(t, "nimblex", quick, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == listPath {
			nimblexFile(w, chunks*1024)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(chunks*1024))
		for range chunks {
			w.Write(bytes.Repeat([]byte{'x'}, 1024))
			w.(http.Flusher).Flush()
			time.Sleep(quick.FirstByte / 3)
		}
	})
	// Moving: 8 pauses of a third of the first-byte timeout each.
	_, c, err := s.Open(context.Background(), fileID(t, s))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	c.Close()
	if err != nil || len(b) != chunks*1024 {
		t.Fatalf("a slow but moving download: %d bytes, %v", len(b), err)
	}

	// Stalled halfway.
	stalled, _ := fake(t, "nimblex", quick, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == listPath {
			nimblexFile(w, 4<<20)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(4<<20))
		w.Write(make([]byte, 2<<20))
		w.(http.Flusher).Flush()
		stall(r)
	})
	_, c, err = stalled.Open(context.Background(), fileID(t, stalled))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = io.Copy(io.Discard, c)
	wantKind(t, err, upstream.KindTimeout)
	if d := time.Since(start); d > quick.Idle+time.Second {
		t.Fatalf("gave up after %v", d)
	}
}

// TestGarbage checks that a malformed answer is a bad gateway.
func TestGarbage(t *testing.T) {
	s, _ := fake(t, "nimblex", quick, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"data":[{"type":`)
	})
	_, err := s.List(context.Background(), rc)
	wantKind(t, err, upstream.KindBadGateway)
}

// TestUpstreamDown checks a refused connection, and the circuit breaker
// that then stops trying for a moment.
func TestUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	sp, _ := routes(t).Speaker("nimblex")
	s, err := remote.New(remote.Options{Speaker: sp, URL: "http://" + addr, Token: "x", DataDir: t.TempDir(), Timeouts: quick})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 2 { // three attempts each: the breaker opens on the fifth failure
		_, err := s.List(context.Background(), rc)
		wantKind(t, err, upstream.KindBadGateway)
	}
	_, err = s.List(context.Background(), rc)
	wantKind(t, err, upstream.KindBadGateway)
	if !strings.Contains(err.Error(), "keeps failing") {
		t.Fatalf("with the breaker open: %v", err)
	}
}

// TestRetries checks that reads are retried on 502-504 and writes never.
func TestRetries(t *testing.T) {
	var lists, uploads atomic.Int32
	s, _ := fake(t, "nimblex", quick, func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			if lists.Add(1) < 3 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			nimblexFile(w, 1)
			return
		}
		uploads.Add(1)
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	if _, err := s.List(context.Background(), rc); err != nil || lists.Load() != 3 {
		t.Fatalf("List after two 503s: %v, %d tries", err, lists.Load())
	}
	na := upstream.NewAttachment{Record: rc, Name: "f.bin", ReplaceSameName: true}
	_, err := s.Create(context.Background(), na, strings.NewReader("x"))
	wantKind(t, err, upstream.KindUnavailable)
	if uploads.Load() != 1 {
		t.Fatalf("an upload was sent %d times", uploads.Load())
	}
}

// TestCredentials checks what reaches the upstream: its own token in its
// dialect's header, and nothing on a presigned link; and that a link is
// only followed to the upstream itself.
func TestCredentials(t *testing.T) {
	const uuid = "5f0c1e2d-0000-4000-8000-000000000000"
	var elsewhere atomic.Bool
	var mu sync.Mutex
	seen := map[string]string{}
	s, srv := fake(t, "transactionlink", quick, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path] = r.Header.Get("Authorization")
		mu.Unlock()
		switch r.URL.Path {
		case "/tables/c/records/r/attachments":
			fmt.Fprintf(w, `[{"id":%q,"recordId":"r","name":"f.txt","type":"text/plain","size":5,"createdDateTime":"2024-01-02T03:04:05.000Z","tags":[]}]`, uuid)
		case "/tables/c/records/r/attachments/" + uuid:
			link := "http://" + r.Host + "/signed/tok?x=1"
			if elsewhere.Load() {
				link = "http://127.0.0.1:1/signed/tok"
			}
			fmt.Fprintf(w, `{"link":%q}`, link)
		case "/signed/tok":
			io.WriteString(w, "hello")
		default:
			http.NotFound(w, r)
		}
	})
	id := func() string {
		atts, err := s.List(context.Background(), rc)
		if err != nil || len(atts) != 1 {
			t.Fatalf("List: %v %v", atts, err)
		}
		return atts[0].ID
	}()
	if got := readAll(t, s, id); got != "hello" {
		t.Fatalf("through the link: %q", got)
	}
	mu.Lock()
	if a := seen["/tables/c/records/r/attachments"]; a != "Bearer "+upstreamToken {
		t.Errorf("the upstream saw Authorization %q", a)
	}
	if a, ok := seen["/signed/tok"]; !ok || a != "" {
		t.Errorf("the link was fetched with Authorization %q (fetched: %v)", a, ok)
	}
	mu.Unlock()
	elsewhere.Store(true)
	_, _, err := s.Open(context.Background(), id)
	wantKind(t, err, upstream.KindBadGateway)
	_ = srv
}

// TestErrorMessage checks that an error's message survives reading its
// answer, from a header in any case (EspoCRM's X-Status-Reason).
func TestErrorMessage(t *testing.T) {
	s, _ := fake(t, "espocrm", quick, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["x-status-reason"] = []string{"no such Document"}
		w.WriteHeader(http.StatusNotFound)
	})
	_, err := s.GetRecord(context.Background(), upstream.RecordRef{Collection: "Document", ID: "d1"})
	wantKind(t, err, upstream.KindNotFound)
	if !strings.Contains(upstream.MessageOf(err), "no such Document") {
		t.Fatalf("message %q", upstream.MessageOf(err))
	}
}

// TestRelayInLargePieces checks WriteTo, through which a download is
// relayed to the client: whole after a seek, and an error (not a short
// success) when the upstream ends early.
func TestRelayInLargePieces(t *testing.T) {
	content := make([]byte, 700<<10) // more than two of WriteTo's pieces
	for i := range content {
		content[i] = byte(i*13 + i/509)
	}
	var short atomic.Bool
	s, _ := fake(t, "nimblex", quick, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == listPath {
			nimblexFile(w, len(content))
			return
		}
		if short.Load() {
			// Promise it all, send a third, and hang up.
			w.Header().Set("Content-Length", fmt.Sprint(len(content)))
			w.Write(content[:len(content)/3])
			panic(http.ErrAbortHandler)
		}
		http.ServeContent(w, r, "f.bin", time.Time{}, bytes.NewReader(content))
	})
	id := fileID(t, s)
	_, c, err := s.Open(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(io.WriterTo); !ok {
		t.Fatalf("download content %T has no WriteTo", c)
	}
	if _, err := c.Seek(1000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	n, err := io.Copy(&got, c) // io.Copy takes the source's WriteTo
	c.Close()
	if err != nil || n != int64(len(content)-1000) || !bytes.Equal(got.Bytes(), content[1000:]) {
		t.Fatalf("relayed %d bytes (equal: %v), %v; want the %d after the seek", n, bytes.Equal(got.Bytes(), content[1000:]), err, len(content)-1000)
	}

	short.Store(true)
	_, c, err = s.Open(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n, err = io.Copy(io.Discard, c)
	if err == nil || n >= int64(len(content)) {
		t.Fatalf("relay of a cut-off download: %d bytes, %v; want an error before %d", n, err, len(content))
	}
}
