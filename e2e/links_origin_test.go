package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Issue 16 item 7, issue 12 item 5: presigned links (and every absolute
// URL an answer carries) take their origin from --public-url when set; the
// X-Forwarded-Proto and -Host a proxy adds are believed only from
// --trusted-proxies; no scheme but http or https is ever written.
func TestLinkOrigin(t *testing.T) {
	data := []byte("origin test")
	for _, tc := range []struct {
		name    string
		args    []string
		headers hdr
		want    string // the link's prefix; "gw" stands for http://<gateway addr>
	}{
		{"no proxy trusted: a forwarded scheme is ignored", nil,
			hdr{"X-Forwarded-Proto": "javascript"}, "gw"},
		{"no proxy trusted: a forwarded host is ignored", nil,
			hdr{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"}, "gw"},
		{"a trusted proxy's scheme and host", []string{"--trusted-proxies", "10.0.0.0/8, 127.0.0.1"},
			hdr{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "files.example.com"}, "https://files.example.com/_dragoman/files/"},
		{"a trusted proxy's list: the first entry", []string{"--trusted-proxies", "127.0.0.0/8"},
			hdr{"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "files.example.com:8443, inner"}, "https://files.example.com:8443/_dragoman/files/"},
		{"a trusted proxy's odd scheme is http", []string{"--trusted-proxies", "127.0.0.1"},
			hdr{"X-Forwarded-Proto": "javascript", "X-Forwarded-Host": "files.example.com"}, "http://files.example.com/_dragoman/files/"},
		{"a trusted proxy's bad host is the gateway's", []string{"--trusted-proxies", "127.0.0.1"},
			hdr{"X-Forwarded-Host": "evil.example/path?"}, "gw"},
		{"the public URL wins", []string{"--public-url", "https://files.example.com/gw/", "--trusted-proxies", "127.0.0.1"},
			hdr{"X-Forwarded-Proto": "http", "X-Forwarded-Host": "evil.example"}, "https://files.example.com/gw/_dragoman/files/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw := startGateway(t, tc.args...)
			c := tl{gw: gw, key: gw.key(t, "w")}
			a := c.create(t, "Deals", "1", "o.txt", "text/plain", data)
			status, _, body := do(t, http.MethodGet, c.attachment("Deals", "1", a.ID), c.auth().withAll(tc.headers), nil)
			if status != http.StatusOK {
				t.Fatalf("get link: %d %s", status, snippet(body))
			}
			var ans struct{ Link string }
			if err := json.Unmarshal(body, &ans); err != nil {
				t.Fatalf("get link: %s", snippet(body))
			}
			want := tc.want
			if want == "gw" {
				want = gw.base + "/_dragoman/files/"
			}
			if !strings.HasPrefix(ans.Link, want) {
				t.Fatalf("link %q, want it to start with %q", ans.Link, want)
			}
			// The path is the gateway's own: fetched from the gateway, it works.
			path := ans.Link[strings.Index(ans.Link, "/_dragoman/"):]
			if st, _, got := do(t, http.MethodGet, gw.url(path), nil, nil); st != http.StatusOK || string(got) != string(data) {
				t.Fatalf("GET %s: %d %s", path, st, snippet(got))
			}
		})
	}
	t.Run("a bad public URL or proxy list stops the start", func(t *testing.T) {
		for _, args := range [][]string{
			{"--public-url", "javascript://x"},
			{"--public-url", "https://files.example.com/?q=1"},
			{"--trusted-proxies", "10.0.0.0/33"},
		} {
			out, code := runBinary(t, append([]string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir()}, args...)...)
			if code == 0 || !strings.Contains(out, args[0]) {
				t.Errorf("serve %v: exit %d, output %q; want a failure naming %s", args, code, out, args[0])
			}
		}
	})
}

// withAll returns h plus every header of more.
func (h hdr) withAll(more hdr) hdr {
	out := h
	for k, v := range more {
		out = out.with(k, v)
	}
	return out
}
