package remote_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/remote"
)

// TestCancelClosesUpstreamConnection checks issue 11 item 10 from the
// upstream's side: when a call's context ends, the connection carrying it
// is closed at once, so the upstream sees the call end too, well before
// any timeout would have ended it (the timeouts here are 30 and 60 s).
// net/http ends a handler's request context when its connection closes;
// each handler waits for that and reports it.
func TestCancelClosesUpstreamConnection(t *testing.T) {
	const content = 1 << 20
	cases := []struct {
		name string
		// call makes one call with ctx; it returns once ctx ended it.
		call func(ctx context.Context, s *remote.Store, id string) error
		// slow is the request path the upstream stalls on.
		slow func(path string) bool
	}{
		{
			name: "bodiless call awaiting its answer",
			call: func(ctx context.Context, s *remote.Store, _ string) error {
				_, err := s.List(ctx, rc)
				return err
			},
			slow: func(string) bool { return true },
		},
		{
			name: "download while its body streams",
			call: func(ctx context.Context, s *remote.Store, id string) error {
				_, c, err := s.Open(ctx, id)
				if err != nil {
					return err
				}
				defer c.Close()
				_, err = io.Copy(io.Discard, c)
				return err
			},
			slow: func(path string) bool { return path != listPath },
		},
		{
			name: "upload awaiting its answer",
			call: func(ctx context.Context, s *remote.Store, _ string) error {
				_, err := s.Create(ctx, upstream.NewAttachment{Record: rc, Name: "up.bin", Type: "text/plain"}, strings.NewReader("hello"))
				return err
			},
			slow: func(path string) bool { return path != listPath },
		},
		{
			name: "pass-through awaiting its answer",
			call: func(ctx context.Context, s *remote.Store, _ string) error {
				req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
				defer fasthttp.ReleaseRequest(req)
				defer fasthttp.ReleaseResponse(resp)
				req.SetRequestURI("/jsonapi/unmodelled")
				return s.Pass(ctx, req, resp)
			},
			slow: func(string) bool { return true },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gone := make(chan time.Time, 4)
			s, _ := fake(t, "nimblex", remote.DefaultTimeouts, func(w http.ResponseWriter, r *http.Request) {
				if !tc.slow(r.URL.Path) {
					nimblexFile(w, content)
					return
				}
				io.Copy(io.Discard, r.Body) //nolint:errcheck // an upload's body is read before the stall
				if r.Method == http.MethodGet && r.URL.Path != listPath && !strings.Contains(r.URL.Path, "unmodelled") {
					// A download: part of the body, then nothing.
					w.Header().Set("Content-Length", "1048576")
					w.Write(make([]byte, 64<<10)) //nolint:errcheck // the test reads what arrives
					w.(http.Flusher).Flush()
				}
				select {
				case <-r.Context().Done():
					gone <- time.Now()
				case <-r.Context().Value(releaseKey{}).(chan struct{}):
				}
			})
			id := ""
			if tc.name == "download while its body streams" {
				id = fileID(t, s)
			}
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- tc.call(ctx, s, id) }()
			time.Sleep(200 * time.Millisecond) // the call is waiting on the upstream
			cancelled := time.Now()
			cancel()
			select {
			case err := <-errc:
				if err == nil {
					t.Fatal("a cancelled call succeeded")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the call did not return when its context ended")
			}
			select {
			case at := <-gone:
				if d := at.Sub(cancelled); d > 2*time.Second {
					t.Fatalf("the upstream saw its connection end %v after the cancel", d)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the upstream's connection stayed open after the cancel")
			}
		})
	}
}
