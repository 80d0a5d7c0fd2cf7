package proxy

import (
	"context"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/valyala/fasthttp"
)

func TestStripHopByHop(t *testing.T) {
	var h fasthttp.RequestHeader
	for k, v := range map[string]string{
		"Connection":          "keep-alive, X-Private-Hop",
		"X-Private-Hop":       "secret",
		"Keep-Alive":          "timeout=5",
		"Proxy-Authorization": "Basic abc",
		"Te":                  "trailers",
		"Upgrade":             "h2c",
		"X-Api-Key":           "kept",
		"Content-Type":        "application/json",
	} {
		h.Set(k, v)
	}
	stripHopByHop(&h)
	for _, gone := range []string{"Connection", "X-Private-Hop", "Keep-Alive", "Proxy-Authorization", "Te", "Upgrade"} {
		if v := h.Peek(gone); len(v) != 0 {
			t.Errorf("%s survived: %q", gone, v)
		}
	}
	for _, kept := range []string{"X-Api-Key", "Content-Type"} {
		if len(h.Peek(kept)) == 0 {
			t.Errorf("%s was stripped", kept)
		}
	}
}

func TestNewNeedsAnUpstream(t *testing.T) {
	if _, err := New(Options{Credential: "X-Api-Key"}); err == nil {
		t.Error("New accepted no upstream")
	}
}

// fakeUpstream records what it was sent and answers like an upstream.
type fakeUpstream struct {
	got  fasthttp.Request
	body string
}

func (f *fakeUpstream) Pass(_ context.Context, req *fasthttp.Request, resp *fasthttp.Response) error {
	req.CopyTo(&f.got)
	if s := req.BodyStream(); s != nil {
		b, _ := io.ReadAll(s)
		f.got.SetBody(b)
	}
	resp.SetStatusCode(404)
	resp.Header.Set("Connection", "X-Hop")
	resp.Header.Set("X-Hop", "gone")
	resp.Header.Set("X-Status-Reason", "no such endpoint")
	resp.SetBodyString(f.body)
	return nil
}

// TestForwardSendsWhatTheUpstreamShouldSee: the client's key and
// hop-by-hop headers stay behind, X-Forwarded-* are added after any
// earlier proxy's, the path and query and body go on as they are, and
// the answer comes back with its own hop-by-hop headers dropped.
func TestForwardSendsWhatTheUpstreamShouldSee(t *testing.T) {
	up := &fakeUpstream{body: `{"error":"nope"}`}
	p, err := New(Options{Upstream: up, Credential: "X-Api-Key"})
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	app.All("/*", func(c *fiber.Ctx) error { return p.Forward(context.Background(), c) })
	req := httptest.NewRequest("POST", "/api/v1/Account/abc/opportunities?x=1&y=%20", strings.NewReader("hello"))
	req.Host = "gw.example"
	req.Header.Set("X-Api-Key", "gateway-key")
	req.Header.Set("Connection", "X-Private")
	req.Header.Set("X-Private", "secret")
	req.Header.Set("X-Forwarded-For", "10.0.0.1")
	req.Header.Set("Content-Type", "text/plain")
	resp, err := app.Test(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 404 || string(body) != up.body || resp.Header.Get("X-Status-Reason") != "no such endpoint" {
		t.Errorf("answer %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if resp.Header.Get("X-Hop") != "" {
		t.Errorf("the answer's hop-by-hop header came through")
	}
	h := &up.got.Header
	if got := string(h.RequestURI()); got != "/api/v1/Account/abc/opportunities?x=1&y=%20" {
		t.Errorf("URI %q", got)
	}
	for name, want := range map[string]string{"X-Api-Key": "", "X-Private": "", "Connection": "",
		"X-Forwarded-For": "10.0.0.1, 0.0.0.0", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "gw.example",
		"Content-Type": "text/plain"} {
		if got := string(h.Peek(name)); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if string(h.Method()) != "POST" || string(up.got.Body()) != "hello" {
		t.Errorf("%s with body %q", h.Method(), up.got.Body())
	}
}

// writerToBody is a streamed upstream body that counts how it was read.
type writerToBody struct {
	r        io.Reader
	writeTos int
	closed   bool
}

func (b *writerToBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *writerToBody) WriteTo(w io.Writer) (int64, error) {
	b.writeTos++
	return io.Copy(w, struct{ io.Reader }{b.r})
}
func (b *writerToBody) Close() error { b.closed = true; return nil }

// TestReleasedKeepsTheBodysWriteTo: a streamed answer is sent by the
// upstream body's own WriteTo (which the remote store splices from socket
// to socket), and closed once sent.
func TestReleasedKeepsTheBodysWriteTo(t *testing.T) {
	body := &writerToBody{r: strings.NewReader(strings.Repeat("x", 100<<10))}
	resp := fasthttp.AcquireResponse()
	resp.SetBodyStream(body, 100<<10)
	r := &released{r: body, resp: resp}
	var sb strings.Builder
	n, err := io.Copy(&sb, r)
	if err != nil || n != 100<<10 || sb.Len() != 100<<10 {
		t.Fatalf("copied %d bytes: %v", n, err)
	}
	if body.writeTos != 1 {
		t.Fatalf("the body's WriteTo ran %d times, want once", body.writeTos)
	}
	if err := r.Close(); err != nil || !body.closed {
		t.Fatalf("close: %v; body closed %v", err, body.closed)
	}
}
