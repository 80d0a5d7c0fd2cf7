package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// Issue 16 item 9: names are normalised to NFC (one name, one file,
// whichever way a platform composes it), and names that pass for
// something else are refused with 400, in every dialect.
func TestLookAlikeNames(t *testing.T) {
	gw := startGateway(t)
	key := gw.key(t, "w")
	n := nx{gw: gw, key: key}
	e := espo{gw: gw, key: key}
	for _, name := range []string{
		"a\uFF0E\uFF0E\uFF0Fetc", // fullwidth dots and slash: "../etc" to a reader
		"x\u2215y.txt",           // division slash
		"x\u2044y.txt",           // fraction slash
		"a\uFF3Cb.txt",           // fullwidth backslash
		"invoice\u202Efdp.exe",   // right-to-left override: reads "invoiceexe.pdf"
		"a\u200Bb.txt",           // zero-width space
		"CON", "con.txt", "Lpt1.log", "AUX .txt", "COM\u00B9",
		"trailing.", "trailing ",
	} {
		t.Run(snippet([]byte(name)), func(t *testing.T) {
			st, _, body := do(t, http.MethodPost, n.contentURL("Names", "1", "", name), bearer(key), []byte("x"))
			if st != http.StatusBadRequest {
				t.Errorf("nimblex upload: %d %s, want 400", st, snippet(body))
			}
			st, h, body := e.call(t, http.MethodPost, "Attachment", fileFieldBody(name, "text/plain", []byte("x")))
			if st != http.StatusBadRequest || !strings.Contains(h.Get("X-Status-Reason"), "file name") {
				t.Errorf("espocrm upload: %d %s (%s), want 400 naming the file name", st, snippet(body), h.Get("X-Status-Reason"))
			}
			st, _, body = do(t, http.MethodPost, n.contentURL("Names", "1", name, "f.txt"), bearer(key), []byte("x"))
			if st != http.StatusBadRequest {
				t.Errorf("nimblex upload into folder %q: %d %s, want 400", name, st, snippet(body))
			}
		})
	}
	// Nothing was written: the record never came into being.
	if st, _, body := do(t, http.MethodGet, n.attachments("Names", "1"), bearer(key), nil); st != http.StatusNotFound {
		t.Errorf("list after refused uploads: %d %s, want 404", st, snippet(body))
	}

	t.Run("NFC and NFD are one name", func(t *testing.T) {
		nfd, nfc := "Cafe\u0301.txt", "Caf\u00e9.txt"
		n.upload(t, "Names", "2", "", nfd, []byte("first"), "text/plain")
		n.upload(t, "Names", "2", "", nfc, []byte("second"), "text/plain")
		list := n.list(t, "Names", "2")
		if len(list) != 1 || list[0].ID != "Names/2/attachments/"+nfc {
			t.Fatalf("list after NFD then NFC uploads: %+v, want one file named in NFC", list)
		}
		for _, name := range []string{nfd, nfc} {
			st, _, body := do(t, http.MethodGet, n.contentURL("Names", "2", "", name), bearer(key), nil)
			if st != http.StatusOK || string(body) != "second" {
				t.Errorf("GET %q: %d %q, want the second upload", name, st, body)
			}
		}
		a := e.upload(t, fileFieldBody(nfd, "text/plain", []byte("x")))
		if a.Name != nfc {
			t.Errorf("espocrm stored name %q, want NFC %q", a.Name, nfc)
		}
	})
}
