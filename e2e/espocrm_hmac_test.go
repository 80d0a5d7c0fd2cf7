package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// EspoCRM's HMAC authentication as its own api-clients send it (the PHP
// client's request(): $string = $method . ' /' . $path; the header is
// base64_encode($apiKey . ':' . hash_hmac('sha256', $string, $secretKey,
// true))), with the path below /api/v1/ and without the query.

// espoHMAC is an EspoCRM client configured with an API key and a secret
// key: the dragoman key's name and its secret.
type espoHMAC struct {
	gw           *gateway
	apiKey, secr string
}

func (c espoHMAC) sign(method, path string) string {
	h := hmac.New(sha256.New, []byte(c.secr))
	h.Write([]byte(method + " /" + path))
	return base64.StdEncoding.EncodeToString(append([]byte(c.apiKey+":"), h.Sum(nil)...))
}

// call sends a request to /api/v1/<path>[?query], signed over path alone.
func (c espoHMAC) call(t testing.TB, method, path, query string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	u := c.gw.url("/api/v1/" + path)
	if query != "" {
		u += "?" + query
	}
	h := hdr{"X-Hmac-Authorization": c.sign(method, path), "Content-Type": "application/json"}
	return do(t, method, u, h, body)
}

func TestEspoCRMHMAC(t *testing.T) {
	gw := startGateway(t)
	c := espoHMAC{gw, "crm-integration", gw.key(t, "crm-integration", "--hmac")}
	plain := gw.key(t, "plain")
	ro := espoHMAC{gw, "crm-reader", gw.key(t, "crm-reader", "--hmac", "--read-only")}

	// The two-step flow of the seed, signed.
	data := []byte("%PDF-1.4 signed\n")
	body, _ := json.Marshal(fileFieldBody("signed.pdf", "application/pdf", data))
	st, h, got := c.call(t, http.MethodPost, "Attachment", "", body)
	if st != http.StatusOK {
		t.Fatalf("signed POST Attachment: %d (%s) %s", st, h.Get("X-Status-Reason"), snippet(got))
	}
	a := decodeEspoAttachment(t, "signed POST Attachment", got)
	st, h, got = c.call(t, http.MethodPost, "Document", "", []byte(`{"name":"Signed","fileId":"`+a.ID+`"}`))
	if st != http.StatusOK {
		t.Fatalf("signed POST Document: %d (%s) %s", st, h.Get("X-Status-Reason"), snippet(got))
	}
	var doc map[string]any
	json.Unmarshal(got, &doc)
	docID, _ := doc["id"].(string)
	if doc["fileId"] != a.ID || docID == "" {
		t.Fatalf("signed POST Document answered %s", snippet(got))
	}
	// The query is not signed: the client signs the path alone.
	st, h, got = c.call(t, http.MethodGet, "Attachment/file/"+a.ID, "select=id", nil)
	if st != http.StatusOK || string(got) != string(data) {
		t.Errorf("signed GET Attachment/file with a query: %d (%s)", st, h.Get("X-Status-Reason"))
	}
	if st, h, _ := c.call(t, http.MethodGet, "Document/"+docID, "", nil); st != http.StatusOK {
		t.Errorf("signed GET Document: %d (%s)", st, h.Get("X-Status-Reason"))
	}
	// The key's scope holds as with X-Api-Key.
	if st, h, _ := ro.call(t, http.MethodGet, "Attachment/"+a.ID, "", nil); st != http.StatusOK {
		t.Errorf("read-only signed GET: %d (%s)", st, h.Get("X-Status-Reason"))
	}
	if st, _, _ := ro.call(t, http.MethodPost, "Attachment", "", body); st != http.StatusForbidden {
		t.Errorf("read-only signed POST: %d, want 403", st)
	}

	refused := []struct {
		what   string
		method string
		url    string
		header string
	}{
		{"signed for another path", http.MethodGet, "Attachment/" + a.ID, c.sign(http.MethodGet, "Attachment/file/"+a.ID)},
		{"signed for another method", http.MethodGet, "Attachment/" + a.ID, c.sign(http.MethodDelete, "Attachment/"+a.ID)},
		{"signed with the query", http.MethodGet, "Attachment/" + a.ID + "?x=1", c.sign(http.MethodGet, "Attachment/"+a.ID+"?x=1")},
		{"another key's secret", http.MethodGet, "Attachment/" + a.ID, espoHMAC{gw, "crm-integration", ro.secr}.sign(http.MethodGet, "Attachment/"+a.ID)},
		{"a key made without --hmac", http.MethodGet, "Attachment/" + a.ID, espoHMAC{gw, "plain", plain}.sign(http.MethodGet, "Attachment/"+a.ID)},
		{"an unknown API key", http.MethodGet, "Attachment/" + a.ID, espoHMAC{gw, "nobody", c.secr}.sign(http.MethodGet, "Attachment/"+a.ID)},
		{"the secret itself", http.MethodGet, "Attachment/" + a.ID, c.secr},
		{"hex instead of raw bytes", http.MethodGet, "Attachment/" + a.ID, base64.StdEncoding.EncodeToString([]byte("crm-integration:" + strings.Repeat("0", 64)))},
	}
	for _, r := range refused {
		st, h, got := do(t, r.method, gw.url("/api/v1/"+r.url), hdr{"X-Hmac-Authorization": r.header}, nil)
		wantEspoError(t, r.what, st, h, got, http.StatusUnauthorized)
	}
	// Neither header: the reason names both.
	st, h, got = do(t, http.MethodGet, gw.url("/api/v1/Attachment/"+a.ID), nil, nil)
	wantEspoError(t, "no credentials", st, h, got, http.StatusUnauthorized)
	if r := h.Get("X-Status-Reason"); !strings.Contains(r, "X-Api-Key") || !strings.Contains(r, "X-Hmac-Authorization") {
		t.Errorf("no credentials: X-Status-Reason %q, want both headers named", r)
	}

	// The HMAC key's secret also works as a plain X-Api-Key, and keys.json
	// holds neither secret; nor does the log.
	if st, _, _ := do(t, http.MethodGet, gw.url("/api/v1/Attachment/"+a.ID), hdr{"X-Api-Key": c.secr}, nil); st != http.StatusOK {
		t.Errorf("HMAC key's secret as X-Api-Key: %d", st)
	}
	stored, err := os.ReadFile(filepath.Join(gw.data, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{c.secr, ro.secr} {
		if strings.Contains(string(stored), s) || strings.Contains(gw.out.String(), s) {
			t.Errorf("a secret appears in keys.json or the log")
		}
	}
}
