package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// Issue 16 item 8: a stored MIME type is a media type (anything else is
// refused with 400 and stores nothing), and every download is sent with
// nosniff, as an attachment to save rather than a page to show.
func TestContentTypes(t *testing.T) {
	gw := startGateway(t)
	c := espo{gw: gw, key: gw.key(t, "w")}
	data := []byte("<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>")

	for _, typ := range []string{
		"text/plain\r\nX-Injected: 1",
		"text/plain\nX-Injected: 1",
		"text/html\x00",
		"not a type",
		"text",
		"text/",
		"/plain",
		"text/plain; charset",
		"text/pl\u00e9in",
		strings.Repeat("a", 200) + "/" + strings.Repeat("b", 100),
	} {
		t.Run("refused "+snippet([]byte(typ)), func(t *testing.T) {
			body := fileFieldBody("x.txt", "text/plain", data)
			body["type"] = typ
			status, h, got := c.call(t, http.MethodPost, "Attachment", body)
			if status != http.StatusBadRequest {
				t.Fatalf("POST Attachment with type %q: %d %s, want 400", typ, status, snippet(got))
			}
			if reason := h.Get("X-Status-Reason"); !strings.Contains(reason, "type") {
				t.Errorf("X-Status-Reason %q does not name the type", reason)
			}
		})
	}
	if files := listFiles(t, gw.data+"/store/blobs"); len(files) != 0 {
		t.Errorf("refused uploads left blobs: %v", files)
	}

	for _, tc := range []struct{ name, typ, served string }{
		{"svg", "image/svg+xml", "image/svg+xml"},
		{"html", "text/html; charset=utf-8", "text/html; charset=utf-8"},
		{"plain", "text/plain", "text/plain"},
	} {
		t.Run("served "+tc.name, func(t *testing.T) {
			a := c.upload(t, fileFieldBody("evil."+tc.name, tc.typ, data))
			h, _ := c.file(t, a.ID)
			if got := h.Get("Content-Type"); got != tc.served {
				t.Errorf("download: Content-Type %q, want %q", got, tc.served)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("download: X-Content-Type-Options %q, want nosniff", got)
			}
			if got := h.Get("Content-Disposition"); !strings.HasPrefix(got, "attachment") || !strings.Contains(got, "evil."+tc.name) {
				t.Errorf("download: Content-Disposition %q, want attachment with the name", got)
			}
		})
	}

	t.Run("every dialect's download", func(t *testing.T) {
		key := gw.key(t, "all")
		n := nx{gw: gw, key: key}
		n.upload(t, "Doc", "1", "", "page.html", data, "text/html")
		tlc := tl{gw: gw, key: key}
		list := tlc.list(t, "Doc", "1")
		if len(list) != 1 {
			t.Fatalf("TransactionLink list: %v", list)
		}
		for _, u := range []struct {
			name string
			url  string
			h    hdr
		}{
			{"nimblex", n.contentURL("Doc", "1", "", "page.html"), bearer(key)},
			{"transactionlink link", tlc.link(t, "Doc", "1", list[0].ID), nil},
		} {
			st, h, _ := do(t, http.MethodGet, u.url, u.h, nil)
			if st != http.StatusOK {
				t.Fatalf("%s: %d", u.name, st)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") {
				t.Errorf("%s: nosniff %q, disposition %q", u.name, h.Get("X-Content-Type-Options"), h.Get("Content-Disposition"))
			}
		}
	})
}
