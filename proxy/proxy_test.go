package proxy

import (
	"testing"

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

func TestNewRefusesBadURLs(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "http://", "not a url"} {
		if _, err := New(Options{URL: u, Credential: "X-Api-Key"}); err == nil {
			t.Errorf("New accepted %q", u)
		}
	}
	if _, err := New(Options{URL: "http://127.0.0.1:9/base/", Credential: "X-Api-Key"}); err != nil {
		t.Errorf("New refused a good URL: %v", err)
	}
}
