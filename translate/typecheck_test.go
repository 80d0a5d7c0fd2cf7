package translate

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

const (
	pdfHead  = "%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
	jpegHead = "\xff\xd8\xff\xe0\x00\x10JFIF\x00"
	zipHead  = "PK\x03\x04\x14\x00\x06\x00"
)

func TestUploadType(t *testing.T) {
	cases := []struct {
		declared, head, name, want string
	}{
		// Missing or generic: sniffed, then the extension.
		{"", pngHead, "a", "image/png"},
		{"application/octet-stream", "a,b\n", "t.csv", "text/csv; charset=utf-8"},
		// A text type over binary bytes: what the bytes are.
		{"application/json", pngHead, "a.png", "image/png"},
		{"text/plain", pdfHead, "a", "application/pdf"},
		{"application/json; charset=utf-8", "\x00\x01\x02garbage", "a", "application/octet-stream"},
		{"application/vnd.api+json", jpegHead, "a", "image/jpeg"},
		// A text type over text: kept, whatever the text.
		{"application/json", `{"a": 1}`, "a", "application/json"},
		{"text/csv", "caf\xe9;1\n", "a", "text/csv"}, // Latin-1 is still text
		{"image/svg+xml", `<svg xmlns="http://www.w3.org/2000/svg"/>`, "a", "image/svg+xml"},
		// A signature type over another known signature: what the bytes are.
		{"image/png", jpegHead, "a", "image/jpeg"},
		{"image/jpeg", pdfHead, "a", "application/pdf"},
		{"application/pdf", pngHead, "a", "image/png"},
		// Aliases and one container under two names: kept.
		{"image/jpg", jpegHead, "a", "image/jpg"},
		{"application/gzip", "\x1f\x8b\x08\x00", "a", "application/gzip"},
		// Bytes that say only text or binary: the declared type stands.
		{"image/heic", "\x00\x00\x00\x18ftypheic", "a", "image/heic"},
		{"image/png", "not a png", "a", "image/png"},
		{"application/pdf", "\xef\xbb\xbf%PDF-1.7", "a", "application/pdf"},
		// Formats built on another: kept.
		{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", zipHead, "a.docx",
			"application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
		{"application/x-custom", pngHead, "a", "application/x-custom"},
		// Nothing to look at.
		{"application/json", "", "a", "application/json"},
		{"not a type", pngHead, "a", "not a type"},
	}
	for _, c := range cases {
		if got := uploadType(c.declared, []byte(c.head), c.name); got != c.want {
			t.Errorf("uploadType(%q, %q, %q) = %q, want %q", c.declared, c.head, c.name, got, c.want)
		}
	}
}

// TestDeclaredTypeCorrected uploads through each kind of body: raw
// (Nimblex), base64 in JSON (InfoLobby) and multipart (TransactionLink).
func TestDeclaredTypeCorrected(t *testing.T) {
	cases := []struct {
		what, path, auth, ctype, body string
	}{
		{"raw", "/jsonapi/records/c1/r1/attachments/content/pixel.png", "Bearer tester-secret", "application/json", pngHead},
		{"base64 JSON", "/api/table/c1/record/r1/files/create", "Bearer tester-secret", "application/json",
			`{"field_id":"f","name":"pixel.png","type":"application/json","data":"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAA="}`},
	}
	for _, c := range cases {
		t.Run(c.what, func(t *testing.T) {
			store := newMemStore()
			app := newTestApp(testConfig(t), store)
			req, _ := http.NewRequest(http.MethodPost, "http://dragoman.test"+c.path, strings.NewReader(c.body))
			req.Header.Set("Authorization", c.auth)
			req.Header.Set("Content-Type", c.ctype)
			resp, err := app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, got)
			}
			if s := store.snapshot(); len(s) != 1 || s[0].a.Type != "image/png" {
				t.Fatalf("stored %+v, want one image/png", s)
			}
		})
	}
	t.Run("multipart", func(t *testing.T) {
		store := newMemStore()
		st, body := postTLForm(t, store, []tlPart{{name: "file", filename: "pixel.png", typ: "application/json", body: pngHead}})
		if s := store.snapshot(); st != http.StatusCreated || len(s) != 1 || s[0].a.Type != "image/png" {
			t.Fatalf("status %d %s, stored %+v, want one image/png", st, body, s)
		}
	})
}

func BenchmarkUploadType(b *testing.B) {
	head := []byte(pngHead)
	for b.Loop() {
		uploadType("application/json", head, "a.png")
	}
}
