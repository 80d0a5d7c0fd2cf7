package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TransactionLink (seed 000 and ARCHITECTURE's facts): multipart uploads
// with `file` and repeated `tags`, a bare JSON array for the list, a
// presigned {"link": URL} that downloads without credentials, and errors
// {"fingerprint": "...", "errors": [{"code", "message"}]}.

// uuidV4 is a lowercase RFC 4122 version 4 UUID.
var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// tlKeys are the keys of one attachment object, the product's shape.
var tlKeys = []string{"createdDateTime", "id", "name", "recordId", "size", "tags", "type"}

// tlAttachment is one attachment object.
type tlAttachment struct {
	ID              string   `json:"id"`
	RecordID        string   `json:"recordId"`
	Name            string   `json:"name"`
	Type            string   `json:"type"`
	Size            int64    `json:"size"`
	CreatedDateTime string   `json:"createdDateTime"`
	Tags            []string `json:"tags"`
}

// tl is a TransactionLink client. It sends its key bare, as an
// organization token (tot_...) travels.
type tl struct {
	gw  *gateway
	key string
}

func (c tl) auth() hdr { return hdr{"Authorization": c.key} }

func (c tl) attachments(table, record string) string {
	return c.gw.url("/tables/" + url.PathEscape(table) + "/records/" + url.PathEscape(record) + "/attachments")
}

func (c tl) attachment(table, record, id string) string {
	return c.attachments(table, record) + "/" + url.PathEscape(id)
}

// formBoundary is the boundary of every multipart body these tests build.
const formBoundary = "dragoman-e2e-7d3c1f"

// formPart is one part of a multipart/form-data body. A part with a
// filename (or file set) is a file part.
type formPart struct {
	name     string
	filename string
	file     bool   // a file part even with an empty filename
	ctype    string // the part's Content-Type; "" sends none
	data     []byte
}

func valuePart(name, value string) formPart { return formPart{name: name, data: []byte(value)} }

func filePart(filename, ctype string, data []byte) formPart {
	return formPart{name: "file", filename: filename, file: true, ctype: ctype, data: data}
}

// quoteParam escapes a Content-Disposition parameter as browsers and
// mime/multipart do.
var quoteParam = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace

// formBody builds a multipart/form-data body with formBoundary.
func formBody(t testing.TB, parts ...formPart) []byte {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	if err := w.SetBoundary(formBoundary); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		h := textproto.MIMEHeader{}
		cd := `form-data; name="` + quoteParam(p.name) + `"`
		if p.file || p.filename != "" {
			cd += `; filename="` + quoteParam(p.filename) + `"`
		}
		h.Set("Content-Disposition", cd)
		if p.ctype != "" {
			h.Set("Content-Type", p.ctype)
		}
		pw, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write(p.data)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func formHeaders(h hdr) hdr {
	return h.with("Content-Type", "multipart/form-data; boundary="+formBoundary)
}

// post sends a multipart body built from parts and returns the answer.
func (c tl) post(t testing.TB, table, record string, h hdr, parts ...formPart) (int, http.Header, []byte) {
	t.Helper()
	return do(t, http.MethodPost, c.attachments(table, record), formHeaders(h), formBody(t, parts...))
}

// create uploads one file (tags are value parts before it) and insists on
// 201 with one attachment object.
func (c tl) create(t testing.TB, table, record, name, ctype string, data []byte, tags ...string) tlAttachment {
	t.Helper()
	var parts []formPart
	for _, tag := range tags {
		parts = append(parts, valuePart("tags", tag))
	}
	parts = append(parts, filePart(name, ctype, data))
	status, h, body := c.post(t, table, record, c.auth(), parts...)
	if status != http.StatusCreated {
		t.Fatalf("create %s/%s %q: status %d %s, want 201", table, record, name, status, snippet(body))
	}
	checkJSONType(t, "create", h)
	return decodeTLAttachment(t, "create", body)
}

func checkJSONType(t testing.TB, what string, h http.Header) {
	t.Helper()
	if ct := h.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(strings.ReplaceAll(ct, " ", "")), "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
}

// decodeTLAttachment reads one attachment object and checks its shape:
// exactly the product's keys, a lowercase UUID v4, an RFC 3339 time.
func decodeTLAttachment(t testing.TB, what string, raw []byte) tlAttachment {
	t.Helper()
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		t.Fatalf("%s: not a JSON object: %v: %s", what, err, snippet(raw))
	}
	if got := slices.Sorted(maps.Keys(keys)); !slices.Equal(got, tlKeys) {
		t.Errorf("%s: keys %v, want %v", what, got, tlKeys)
	}
	var a tlAttachment
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("%s: %v: %s", what, err, snippet(raw))
	}
	if !uuidV4.MatchString(a.ID) {
		t.Errorf("%s: id %q is not a lowercase UUID v4", what, a.ID)
	}
	if _, err := time.Parse(time.RFC3339Nano, a.CreatedDateTime); err != nil {
		t.Errorf("%s: createdDateTime %q is not RFC 3339: %v", what, a.CreatedDateTime, err)
	}
	if a.Tags == nil {
		t.Errorf("%s: tags is %s, want an array", what, keys["tags"])
	}
	return a
}

// list reads the bare JSON array, which must answer 200.
func (c tl) list(t testing.TB, table, record string) []tlAttachment {
	t.Helper()
	status, h, body := do(t, http.MethodGet, c.attachments(table, record), c.auth(), nil)
	if status != http.StatusOK {
		t.Fatalf("list %s/%s: status %d %s, want 200", table, record, status, snippet(body))
	}
	checkJSONType(t, "list", h)
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil || raws == nil {
		t.Fatalf("list %s/%s: want a bare JSON array: %v: %s", table, record, err, snippet(body))
	}
	out := make([]tlAttachment, len(raws))
	for i, raw := range raws {
		out[i] = decodeTLAttachment(t, "list item", raw)
	}
	return out
}

// link asks for an attachment's link: 200 with exactly {"link": URL}, an
// absolute URL on the gateway.
func (c tl) link(t testing.TB, table, record, id string) string {
	t.Helper()
	status, h, body := do(t, http.MethodGet, c.attachment(table, record, id), c.auth(), nil)
	if status != http.StatusOK {
		t.Fatalf("get link %s/%s/%s: status %d %s, want 200", table, record, id, status, snippet(body))
	}
	checkJSONType(t, "get link", h)
	var ans map[string]any
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Fatalf("get link: not a JSON object: %s", snippet(body))
	}
	link, ok := ans["link"].(string)
	if !ok || len(ans) != 1 {
		t.Fatalf("get link: %s, want exactly {\"link\": URL}", body)
	}
	u, err := url.Parse(link)
	if err != nil || !u.IsAbs() || u.Host != c.gw.addr {
		t.Fatalf("link %q: want an absolute URL on the gateway %s", link, c.gw.addr)
	}
	return link
}

// fetchLink GETs a link with no credentials at all.
func fetchLink(t testing.TB, link string) (int, http.Header, []byte) {
	t.Helper()
	return do(t, http.MethodGet, link, nil, nil)
}

// wantTLError checks the product's error shape, exactly:
// {"fingerprint": "<id>", "errors": [{"code": "...", "message": "..."}]},
// and returns the fingerprint.
func wantTLError(t testing.TB, what string, status int, h http.Header, body []byte, want int) string {
	t.Helper()
	if status != want {
		t.Errorf("%s: status %d %s, want %d", what, status, snippet(body), want)
		return ""
	}
	checkJSONType(t, what, h)
	var e struct {
		Fingerprint *string                      `json:"fingerprint"`
		Errors      []map[string]json.RawMessage `json:"errors"`
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil || json.Unmarshal(body, &e) != nil {
		t.Errorf("%s: error body is not the TransactionLink shape: %s", what, snippet(body))
		return ""
	}
	if len(top) != 2 || e.Fingerprint == nil || *e.Fingerprint == "" || len(e.Errors) != 1 {
		t.Errorf("%s: error body %s, want {\"fingerprint\", \"errors\": [one error]}", what, body)
		return ""
	}
	for _, k := range []string{"code", "message"} {
		var s string
		if json.Unmarshal(e.Errors[0][k], &s) != nil || s == "" {
			t.Errorf("%s: errors[0].%s is %s, want a non-empty string", what, k, e.Errors[0][k])
		}
	}
	if len(e.Errors[0]) != 2 {
		t.Errorf("%s: errors[0] = %s, want only code and message", what, body)
	}
	return *e.Fingerprint
}

func TestTransactionLinkCreateAndList(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := tl{gw, gw.key(t, "writer")}

	cases := []struct {
		name     string
		parts    []formPart
		wantName string
		wantType string
		wantData []byte
		wantTags []string
	}{
		{"no tags", []formPart{filePart("a.txt", "text/plain", []byte("alpha"))},
			"a.txt", "text/plain", []byte("alpha"), []string{}},
		{"tags before the file", []formPart{valuePart("tags", "red"), valuePart("tags", "blue"), filePart("b.txt", "text/plain", []byte("bravo"))},
			"b.txt", "text/plain", []byte("bravo"), []string{"red", "blue"}},
		{"tags after the file", []formPart{filePart("c.txt", "text/plain", []byte("charlie")), valuePart("tags", "green"), valuePart("tags", "gold")},
			"c.txt", "text/plain", []byte("charlie"), []string{"green", "gold"}},
		{"tags before and after the file", []formPart{valuePart("tags", "one"), filePart("d.txt", "text/plain", []byte("delta")), valuePart("tags", "two")},
			"d.txt", "text/plain", []byte("delta"), []string{"one", "two"}},
		{"tags as a JSON array", []formPart{valuePart("tags", `["x","y"]`), filePart("e.txt", "text/plain", []byte("echo"))},
			"e.txt", "text/plain", []byte("echo"), []string{"x", "y"}},
		{"other fields are ignored", []formPart{valuePart("note", "n"), filePart("f.txt", "text/plain", []byte("foxtrot")), valuePart("extra", "z")},
			"f.txt", "text/plain", []byte("foxtrot"), []string{}},
		{"octet-stream is sniffed", []formPart{filePart("scan.pdf", "application/octet-stream", pdfBytes)},
			"scan.pdf", "application/pdf", pdfBytes, []string{}},
		{"no part type is sniffed", []formPart{filePart("logo.png", "", pngBytes)},
			"logo.png", "image/png", pngBytes, []string{}},
		{"declared type kept", []formPart{filePart("data.bin", "application/x-custom", []byte{0, 1, 2})},
			"data.bin", "application/x-custom", []byte{0, 1, 2}, []string{}},
		{"unicode name", []formPart{filePart("Übersicht 2024.txt", "text/plain", []byte("ü"))},
			"Übersicht 2024.txt", "text/plain", []byte("ü"), []string{}},
		{"empty file", []formPart{filePart("empty.txt", "text/plain", nil)},
			"empty.txt", "text/plain", []byte{}, []string{}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			record := fmt.Sprintf("rec-%d", i)
			status, h, body := c.post(t, "Deals", record, c.auth(), tc.parts...)
			if status != http.StatusCreated {
				t.Fatalf("create: status %d %s, want 201", status, snippet(body))
			}
			checkJSONType(t, "create", h)
			a := decodeTLAttachment(t, "create", body)
			if a.RecordID != record || a.Name != tc.wantName || a.Type != tc.wantType || a.Size != int64(len(tc.wantData)) {
				t.Errorf("create answered %+v, want recordId %q name %q type %q size %d", a, record, tc.wantName, tc.wantType, len(tc.wantData))
			}
			if !slices.Equal(a.Tags, tc.wantTags) {
				t.Errorf("tags %q, want %q: every tags part, before and after the file part, in order", a.Tags, tc.wantTags)
			}
			if got := c.list(t, "Deals", record); !reflect.DeepEqual(got, []tlAttachment{a}) {
				t.Errorf("list %+v, want exactly the created %+v", got, a)
			}
			status, h, data := fetchLink(t, c.link(t, "Deals", record, a.ID))
			if status != http.StatusOK || !bytes.Equal(data, tc.wantData) {
				t.Errorf("download: status %d, %d bytes %s, want 200 and the %d uploaded", status, len(data), snippet(data), len(tc.wantData))
			}
			if ct := h.Get("Content-Type"); ct != tc.wantType {
				t.Errorf("download Content-Type %q, want %q", ct, tc.wantType)
			}
		})
	}

	t.Run("list keeps upload order and answers [] for a record emptied", func(t *testing.T) {
		t.Parallel()
		var made []tlAttachment
		for i := range 3 {
			made = append(made, c.create(t, "Deals", "ordered", fmt.Sprintf("f%d.txt", i), "text/plain", []byte{byte('a' + i)}))
		}
		if got := c.list(t, "Deals", "ordered"); !reflect.DeepEqual(got, made) {
			t.Errorf("list %+v, want %+v", got, made)
		}
		for _, a := range made {
			if status, _, body := do(t, http.MethodDelete, c.attachment("Deals", "ordered", a.ID), c.auth(), nil); status != http.StatusNoContent {
				t.Fatalf("delete: status %d %s", status, snippet(body))
			}
		}
		status, _, body := do(t, http.MethodGet, c.attachments("Deals", "ordered"), c.auth(), nil)
		if status != http.StatusOK || strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("list of a record whose files were deleted: %d %s, want 200 []", status, snippet(body))
		}
	})

	t.Run("same name twice makes two attachments", func(t *testing.T) {
		t.Parallel()
		a := c.create(t, "Deals", "twice", "same.txt", "text/plain", []byte("1"))
		b := c.create(t, "Deals", "twice", "same.txt", "text/plain", []byte("22"))
		if a.ID == b.ID {
			t.Fatalf("both uploads got id %s", a.ID)
		}
		if got := c.list(t, "Deals", "twice"); len(got) != 2 {
			t.Errorf("list %+v, want both", got)
		}
	})
}

func TestTransactionLinkLinks(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := tl{gw, gw.key(t, "writer")}
	data := append(append([]byte(nil), pdfBytes...), randomBytes(t, 3000)...)
	a := c.create(t, "Deals", "7", "contract.pdf", "application/pdf", data)
	link := c.link(t, "Deals", "7", a.ID)

	status, h, body := fetchLink(t, link)
	if status != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("GET the link without credentials: status %d, %d bytes, want 200 and the %d uploaded", status, len(body), len(data))
	}
	if ct := h.Get("Content-Type"); ct != "application/pdf" {
		t.Errorf("link Content-Type %q, want application/pdf", ct)
	}
	if cl := h.Get("Content-Length"); cl != fmt.Sprint(len(data)) {
		t.Errorf("link Content-Length %q, want %d", cl, len(data))
	}

	t.Run("the bearer form works for the link call too", func(t *testing.T) {
		status, _, body := do(t, http.MethodGet, c.attachment("Deals", "7", a.ID), bearer(c.key), nil)
		if status != http.StatusOK || !bytes.Contains(body, []byte(`"link"`)) {
			t.Errorf("get link with Bearer: %d %s", status, snippet(body))
		}
	})

	t.Run("tampered links are refused", func(t *testing.T) {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		cut := strings.LastIndexByte(link, '/') + 1
		prefix, token := link[:cut], link[cut:]
		if len(token) < 8 || strings.Trim(token, alphabet) != "" {
			t.Fatalf("link token %q: want a URL-safe token", token)
		}
		// flip changes the character at pos by XOR-ing its 6-bit value.
		flip := func(pos int, bits int) string {
			i := strings.IndexByte(alphabet, token[pos])
			return prefix + token[:pos] + string(alphabet[i^bits]) + token[pos+1:]
		}
		tampered := []struct{ name, url string }{
			{"first character", flip(0, 1)},
			{"a character in the id", flip(4, 1)},
			{"a character in the middle", flip(len(token)/2, 1)},
			{"a character of the signature", flip(len(token)-5, 1)},
			// The last character of an unpadded base64 token carries
			// unused low bits: a non-strict decoder maps several
			// characters to the same bytes.
			{"the last character, low bit", flip(len(token)-1, 1)},
			{"the last character, high bit", flip(len(token)-1, 32)},
			{"truncated", prefix + token[:len(token)-1]},
			{"extended", prefix + token + "A"},
			{"empty token", prefix},
			{"another signature on the same id", prefix + token[:len(token)-10] + strings.Repeat("A", 10)},
		}
		for _, tc := range tampered {
			status, _, body := fetchLink(t, tc.url)
			if status != http.StatusForbidden && status != http.StatusNotFound {
				t.Errorf("BUG: tampered link (%s) %s: status %d (%d bytes), want it refused with 403", tc.name, tc.url, status, len(body))
			} else if status != http.StatusForbidden && tc.name != "empty token" {
				t.Errorf("tampered link (%s): status %d, want 403 (docs/decisions.md)", tc.name, status)
			}
		}
		if status, _, _ := fetchLink(t, link); status != http.StatusOK {
			t.Errorf("the untouched link after the tampering: status %d, want 200", status)
		}
	})

	t.Run("a link is not a way into another record", func(t *testing.T) {
		status, h, body := do(t, http.MethodGet, c.attachment("Deals", "8", a.ID), c.auth(), nil)
		wantTLError(t, "get link through another record", status, h, body, http.StatusNotFound)
		status, h, body = do(t, http.MethodGet, c.attachment("Other", "7", a.ID), c.auth(), nil)
		wantTLError(t, "get link through another table", status, h, body, http.StatusNotFound)
	})

	t.Run("a deleted attachment's link is 404", func(t *testing.T) {
		b := c.create(t, "Deals", "7", "gone.txt", "text/plain", []byte("soon gone"))
		goneLink := c.link(t, "Deals", "7", b.ID)
		if status, _, _ := fetchLink(t, goneLink); status != http.StatusOK {
			t.Fatalf("link before the delete: status %d", status)
		}
		if status, _, body := do(t, http.MethodDelete, c.attachment("Deals", "7", b.ID), c.auth(), nil); status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", status, snippet(body))
		}
		if status, _, body := fetchLink(t, goneLink); status != http.StatusNotFound {
			t.Errorf("link of a deleted attachment: status %d %s, want 404", status, snippet(body))
		}
	})
}

func TestTransactionLinkLinkExpires(t *testing.T) {
	t.Parallel()
	gw := startGateway(t, "--link-ttl", "1s")
	c := tl{gw, gw.key(t, "writer")}
	a := c.create(t, "Deals", "1", "short.txt", "text/plain", []byte("short-lived"))
	link := c.link(t, "Deals", "1", a.ID)
	issued := time.Now()
	if status, _, body := fetchLink(t, link); status != http.StatusOK || string(body) != "short-lived" {
		t.Fatalf("fresh link: status %d %s, want 200", status, snippet(body))
	}
	// Expiry is kept in whole seconds: a 1 s link stops working within 2 s.
	time.Sleep(time.Until(issued.Add(2100 * time.Millisecond)))
	if status, _, body := fetchLink(t, link); status != http.StatusForbidden {
		t.Errorf("expired link: status %d %s, want 403", status, snippet(body))
	}
	// A new link works again: the file is still there.
	if status, _, _ := fetchLink(t, c.link(t, "Deals", "1", a.ID)); status != http.StatusOK {
		t.Errorf("a new link after the old expired: status %d, want 200", status)
	}
}

func TestTransactionLinkDelete(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := tl{gw, gw.key(t, "writer")}
	gone := c.create(t, "Deals", "3", "gone.txt", "text/plain", []byte("gone"))
	kept := c.create(t, "Deals", "3", "kept.txt", "text/plain", []byte("kept"))

	status, _, body := do(t, http.MethodDelete, c.attachment("Deals", "3", gone.ID), bearer(c.key), nil)
	if status != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("delete: status %d body %s, want 204 with no body", status, snippet(body))
	}
	status, h, body := do(t, http.MethodDelete, c.attachment("Deals", "3", gone.ID), c.auth(), nil)
	wantTLError(t, "delete again", status, h, body, http.StatusNotFound)
	status, h, body = do(t, http.MethodGet, c.attachment("Deals", "3", gone.ID), c.auth(), nil)
	wantTLError(t, "link of the deleted attachment", status, h, body, http.StatusNotFound)
	if got := c.list(t, "Deals", "3"); !reflect.DeepEqual(got, []tlAttachment{kept}) {
		t.Errorf("list after the delete: %+v, want only %+v", got, kept)
	}
	status, h, body = do(t, http.MethodDelete, c.attachment("Deals", "4", kept.ID), c.auth(), nil)
	wantTLError(t, "delete through another record", status, h, body, http.StatusNotFound)
	if got := c.list(t, "Deals", "3"); len(got) != 1 {
		t.Errorf("a delete through another record removed the file: %+v", got)
	}
}

func TestTransactionLinkErrors(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := tl{gw, gw.key(t, "writer")}
	a := c.create(t, "Deals", "5", "a.txt", "text/plain", []byte("a"))
	multi := formHeaders(c.auth())
	file := filePart("x.txt", "text/plain", []byte("x"))
	missingUUID := "0b7e4c1a-3f2d-4e5a-9b8c-7d6e5f4a3b2c"

	cases := []struct {
		name    string
		method  string
		url     string
		headers hdr
		body    []byte
		want    int
	}{
		{"no file part", http.MethodPost, c.attachments("Deals", "5"), multi, formBody(t, valuePart("tags", "a")), 400},
		{"an empty form", http.MethodPost, c.attachments("Deals", "5"), multi, formBody(t), 400},
		{"file part with an empty filename", http.MethodPost, c.attachments("Deals", "5"), multi, formBody(t, filePart("", "text/plain", []byte("x"))), 400},
		{"the file in a part of another name", http.MethodPost, c.attachments("Deals", "5"), multi, formBody(t, formPart{name: "upload", filename: "x.txt", data: []byte("x")}), 400},
		{"JSON, not multipart", http.MethodPost, c.attachments("Deals", "5"), c.auth().with("Content-Type", "application/json"), []byte(`{"file":"x"}`), 400},
		{"no Content-Type", http.MethodPost, c.attachments("Deals", "5"), c.auth(), formBody(t, file), 400},
		{"multipart without a boundary", http.MethodPost, c.attachments("Deals", "5"), c.auth().with("Content-Type", "multipart/form-data"), formBody(t, file), 400},
		{"a truncated body", http.MethodPost, c.attachments("Deals", "5"), multi, formBody(t, file)[:60], 400},
		{"file name ..", http.MethodPost, c.attachments("Deals", "5"), multi, formBody(t, filePart("..", "text/plain", []byte("x"))), 400},
		{"file name with a backslash", http.MethodPost, c.attachments("Deals", "5"), multi, formBody(t, filePart(`a\b.txt`, "text/plain", []byte("x"))), 400},
		{"file name with a control character", http.MethodPost, c.attachments("Deals", "5"), multi, formBody(t, filePart("a\x01b.txt", "text/plain", []byte("x"))), 400},
		{"file name longer than 255 bytes", http.MethodPost, c.attachments("Deals", "5"), multi, formBody(t, filePart(strings.Repeat("n", 256), "text/plain", []byte("x"))), 400},

		{"create without Authorization", http.MethodPost, c.attachments("Deals", "5"), formHeaders(hdr{}), formBody(t, file), 401},
		{"list without Authorization", http.MethodGet, c.attachments("Deals", "5"), nil, nil, 401},
		{"link without Authorization", http.MethodGet, c.attachment("Deals", "5", a.ID), nil, nil, 401},
		{"delete without Authorization", http.MethodDelete, c.attachment("Deals", "5", a.ID), nil, nil, 401},
		{"a wrong token", http.MethodGet, c.attachments("Deals", "5"), hdr{"Authorization": "tot_not_a_real_token"}, nil, 401},
		{"a wrong bearer token", http.MethodGet, c.attachments("Deals", "5"), hdr{"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."}, nil, 401},
		{"Bearer without a token", http.MethodGet, c.attachments("Deals", "5"), hdr{"Authorization": "Bearer "}, nil, 401},
		{"the token in another header", http.MethodGet, c.attachments("Deals", "5"), hdr{"X-Api-Key": c.key}, nil, 401},
		{"Basic instead of Bearer", http.MethodGet, c.attachments("Deals", "5"), hdr{"Authorization": "Basic " + c.key}, nil, 401},

		{"list of an unknown record", http.MethodGet, c.attachments("Deals", "never"), c.auth(), nil, 404},
		{"list of an unknown table", http.MethodGet, c.attachments("Nowhere", "5"), c.auth(), nil, 404},
		{"link of an unknown attachment", http.MethodGet, c.attachment("Deals", "5", missingUUID), c.auth(), nil, 404},
		{"delete of an unknown attachment", http.MethodDelete, c.attachment("Deals", "5", missingUUID), c.auth(), nil, 404},
		{"link of a malformed UUID", http.MethodGet, c.attachment("Deals", "5", "not-a-uuid"), c.auth(), nil, 404},
		{"link of a UUID with a bad check", http.MethodGet, c.attachment("Deals", "5", a.ID[:len(a.ID)-1]+flipHex(a.ID[len(a.ID)-1])), c.auth(), nil, 404},
		{"delete of a malformed UUID", http.MethodDelete, c.attachment("Deals", "5", "1234"), c.auth(), nil, 404},
		{"link of an EspoCRM-shaped id", http.MethodGet, c.attachment("Deals", "5", "0123456789abcdef0"), c.auth(), nil, 404},
	}
	// The group returns once its parallel cases have all run.
	t.Run("refused", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				status, h, body := do(t, tc.method, tc.url, tc.headers, tc.body)
				wantTLError(t, tc.name, status, h, body, tc.want)
				if bytes.Contains(body, []byte(c.key)) {
					t.Errorf("the error echoes the key")
				}
			})
		}
	})

	t.Run("every error has its own fingerprint", func(t *testing.T) {
		seen := map[string]bool{}
		for range 3 {
			status, h, body := do(t, http.MethodGet, c.attachments("Deals", "never"), c.auth(), nil)
			fp := wantTLError(t, "unknown record", status, h, body, 404)
			if seen[fp] {
				t.Errorf("fingerprint %q repeated", fp)
			}
			seen[fp] = true
		}
	})

	t.Run("nothing was written", func(t *testing.T) {
		if got := c.list(t, "Deals", "5"); !reflect.DeepEqual(got, []tlAttachment{a}) {
			t.Errorf("after the refused requests: %+v, want only %+v", got, a)
		}
	})
}

func flipHex(ch byte) string {
	if ch == '0' {
		return "1"
	}
	return "0"
}

func TestTransactionLinkCredentials(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "writer")
	ro := gw.key(t, "auditor", "--read-only")
	c := tl{gw, key}
	a := c.create(t, "Deals", "9", "a.txt", "text/plain", []byte("a"))

	for _, cred := range []struct{ name, value string }{{"bare token", key}, {"Bearer token", "Bearer " + key}} {
		t.Run(cred.name, func(t *testing.T) {
			h := hdr{"Authorization": cred.value}
			status, _, body := do(t, http.MethodPost, c.attachments("Deals", "9"), formHeaders(h), formBody(t, filePart(cred.name+".txt", "text/plain", []byte("x"))))
			if status != http.StatusCreated {
				t.Errorf("create: %d %s", status, snippet(body))
			}
			if status, _, body := do(t, http.MethodGet, c.attachments("Deals", "9"), h, nil); status != http.StatusOK {
				t.Errorf("list: %d %s", status, snippet(body))
			}
			if status, _, body := do(t, http.MethodGet, c.attachment("Deals", "9", a.ID), h, nil); status != http.StatusOK {
				t.Errorf("link: %d %s", status, snippet(body))
			}
		})
	}

	t.Run("read-only key", func(t *testing.T) {
		r := tl{gw, ro}
		status, h, body := r.post(t, "Deals", "9", r.auth(), filePart("ro.txt", "text/plain", []byte("x")))
		wantTLError(t, "read-only create", status, h, body, http.StatusForbidden)
		status, h, body = r.post(t, "Deals", "new-record", r.auth(), filePart("ro.txt", "text/plain", []byte("x")))
		wantTLError(t, "read-only create in a new record", status, h, body, http.StatusForbidden)
		status, h, body = do(t, http.MethodDelete, c.attachment("Deals", "9", a.ID), r.auth(), nil)
		wantTLError(t, "read-only delete", status, h, body, http.StatusForbidden)

		list := r.list(t, "Deals", "9")
		if len(list) != 3 || !reflect.DeepEqual(list[0], a) {
			// a, then the two made above with either credential form
			t.Errorf("read-only list: %+v, want %s first of 3", list, a.ID)
		}
		if status, _, body := fetchLink(t, r.link(t, "Deals", "9", a.ID)); status != http.StatusOK || string(body) != "a" {
			t.Errorf("read-only link: %d %s", status, snippet(body))
		}
		status, _, body = do(t, http.MethodGet, c.attachments("Deals", "new-record"), c.auth(), nil)
		if status != http.StatusNotFound {
			t.Errorf("the record the read-only key tried to create: status %d %s, want 404", status, snippet(body))
		}
	})

	t.Run("a key limited to other tables", func(t *testing.T) {
		limited := tl{gw, gw.key(t, "sales", "--collections", "Invoices")}
		status, h, body := do(t, http.MethodGet, c.attachments("Deals", "9"), limited.auth(), nil)
		wantTLError(t, "list outside the key's tables", status, h, body, http.StatusForbidden)
		status, h, body = do(t, http.MethodGet, c.attachment("Deals", "9", a.ID), limited.auth(), nil)
		wantTLError(t, "link outside the key's tables", status, h, body, http.StatusForbidden)
		status, h, body = limited.post(t, "Deals", "9", limited.auth(), filePart("s.txt", "text/plain", []byte("x")))
		wantTLError(t, "create outside the key's tables", status, h, body, http.StatusForbidden)
		limited.create(t, "Invoices", "1", "inv.txt", "text/plain", []byte("inv"))
	})
}

// genReader yields n deterministic pseudo-random bytes, so a large upload
// needs no memory and no disk on the client side.
type genReader struct {
	src *rand.ChaCha8
	n   int64
}

func (g *genReader) Read(p []byte) (int, error) {
	if g.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > g.n {
		p = p[:g.n]
	}
	n, _ := g.src.Read(p)
	g.n -= int64(n)
	return n, nil
}

func TestTransactionLinkLargeStreamingUpload(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := tl{gw, gw.key(t, "writer")}
	const size = 64 << 20

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	sent := sha256.New()
	go func() {
		err := func() error {
			if err := mw.WriteField("tags", "big"); err != nil {
				return err
			}
			part, err := mw.CreateFormFile("file", "big.bin")
			if err != nil {
				return err
			}
			gen := &genReader{src: rand.NewChaCha8([32]byte{'d', 'r', 'a', 'g', 'o', 'm', 'a', 'n'}), n: size}
			if _, err := io.Copy(io.MultiWriter(part, sent), gen); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest(http.MethodPost, c.attachments("Big", "1"), pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", c.key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	status, _, body := doReq(t, req)
	if status != http.StatusCreated {
		t.Fatalf("64 MiB upload: status %d %s, want 201", status, snippet(body))
	}
	a := decodeTLAttachment(t, "create", body)
	if a.Size != size || a.Name != "big.bin" || !slices.Equal(a.Tags, []string{"big"}) {
		t.Errorf("create answered %+v, want big.bin of %d bytes tagged big", a, size)
	}
	want := hex.EncodeToString(sent.Sum(nil))

	resp, err := client.Get(c.link(t, "Big", "1", a.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := sha256.New()
	n, err := io.Copy(got, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("download: status %d, %d bytes, %v", resp.StatusCode, n, err)
	}
	if resp.ContentLength != size || n != size || hex.EncodeToString(got.Sum(nil)) != want {
		t.Errorf("download: Content-Length %d, %d bytes, sha256 %x; want %d bytes with sha256 %s", resp.ContentLength, n, got.Sum(nil), size, want)
	}
}
