package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// Issue 16 item 6: a key limited to collections may upload EspoCRM chunks
// to its own placeholder in those collections; outside them it is told it
// may not use that collection (not that it is read-only); a read-only key
// is told it is read-only.
func TestScopedKeyChunkUploads(t *testing.T) {
	gw := startGateway(t)
	scoped := espo{gw, gw.key(t, "docs", "--collections", "Document")}
	other := espo{gw, gw.key(t, "notes", "--collections", "Note")}
	ro := espo{gw, gw.key(t, "auditor", "--read-only")}

	partial := scoped.upload(t, map[string]any{"name": "p.bin", "type": "application/octet-stream",
		"relatedType": "Document", "field": "file", "isBeingUploaded": true, "size": 4})
	st, h, body := scoped.call(t, http.MethodPost, "Attachment/chunk/"+partial.ID, "data:application/octet-stream;base64,YWI=")
	if st != http.StatusOK || string(body) != "true" {
		t.Fatalf("first chunk by the scoped key that made the placeholder: %d %s (%s), want 200 true", st, snippet(body), h.Get("X-Status-Reason"))
	}
	for _, tc := range []struct {
		name   string
		c      espo
		reason string
	}{
		{"a key of other collections", other, "collection"},
		{"a read-only key", ro, "read-only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, h, _ := tc.c.call(t, http.MethodPost, "Attachment/chunk/"+partial.ID, "data:application/octet-stream;base64,Y2Q=")
			if st != http.StatusForbidden || !strings.Contains(h.Get("X-Status-Reason"), tc.reason) {
				t.Fatalf("chunk: %d (%s), want 403 saying %q", st, h.Get("X-Status-Reason"), tc.reason)
			}
		})
	}
	st, h, body = scoped.call(t, http.MethodPost, "Attachment/chunk/"+partial.ID, "data:application/octet-stream;base64,Y2Q=")
	if st != http.StatusOK {
		t.Fatalf("last chunk: %d %s (%s)", st, snippet(body), h.Get("X-Status-Reason"))
	}
	if _, got := scoped.file(t, partial.ID); string(got) != "abcd" {
		t.Fatalf("the chunked file reads %q, want abcd", got)
	}
}
