package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Nimblex JSON API (seed 004): a JSON:API list, raw byte streams up and
// down, and a bare status with an EMPTY body for anything missing.

// nxItem is one entry of the list document's data array.
type nxItem struct {
	Type       string `json:"type"`
	ID         string `json:"id"`
	Attributes struct {
		Mimetype string `json:"mimetype"`
		Size     *int64 `json:"size"`
	} `json:"attributes"`
	Links struct {
		Content string `json:"content"`
	} `json:"links"`
}

// nx is a Nimblex client holding one key.
type nx struct {
	gw  *gateway
	key string
}

// attachments is .../records/<eformtype>/<record>/attachments, each part
// percent-encoded as the seed asks.
func (c nx) attachments(eformtype, record string) string {
	return c.gw.url("/jsonapi/records/" + url.PathEscape(eformtype) + "/" + url.PathEscape(record) + "/attachments")
}

// rel is "[folder/]name" with each segment percent-encoded.
func rel(folder, name string) string {
	var segs []string
	if folder != "" {
		for _, s := range strings.Split(folder, "/") {
			segs = append(segs, url.PathEscape(s))
		}
	}
	return strings.Join(append(segs, url.PathEscape(name)), "/")
}

func (c nx) contentURL(eformtype, record, folder, name string) string {
	return c.attachments(eformtype, record) + "/content/" + rel(folder, name)
}

func (c nx) deleteURL(eformtype, record, folder, name string) string {
	return c.attachments(eformtype, record) + "/" + rel(folder, name)
}

// upload POSTs raw bytes (ctype "" sends no Content-Type) and insists on
// the seed's answer: 200 with an empty body.
func (c nx) upload(t testing.TB, eformtype, record, folder, name string, data []byte, ctype string) {
	t.Helper()
	h := bearer(c.key)
	if ctype != "" {
		h = h.with("Content-Type", ctype)
	}
	status, _, body := do(t, http.MethodPost, c.contentURL(eformtype, record, folder, name), h, data)
	if status != http.StatusOK || len(body) != 0 {
		t.Fatalf("upload %s/%s %s/%s: status %d body %s, want 200 with an empty body", eformtype, record, folder, name, status, snippet(body))
	}
}

// list reads the list document, which must answer 200.
func (c nx) list(t testing.TB, eformtype, record string) []nxItem {
	t.Helper()
	status, h, body := do(t, http.MethodGet, c.attachments(eformtype, record), bearer(c.key), nil)
	if status != http.StatusOK {
		t.Fatalf("list %s/%s: status %d %s, want 200", eformtype, record, status, snippet(body))
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.api+json") {
		t.Errorf("list Content-Type %q, want application/vnd.api+json", ct)
	}
	var doc struct {
		Data *[]nxItem `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("list %s/%s: not JSON: %v: %s", eformtype, record, err, snippet(body))
	}
	if doc.Data == nil {
		t.Fatalf("list %s/%s: no data array: %s", eformtype, record, snippet(body))
	}
	for _, it := range *doc.Data {
		// A placeholder (size 0, no bytes yet) has no content to link to.
		placeholder := it.Attributes.Size != nil && *it.Attributes.Size == 0 && it.Links.Content == ""
		if it.Type != "attachment" || it.ID == "" || it.Attributes.Mimetype == "" || it.Attributes.Size == nil || (it.Links.Content == "" && !placeholder) {
			t.Errorf("list item %+v: want type attachment, id, attributes.mimetype, attributes.size, links.content", it)
		}
	}
	return *doc.Data
}

// ids returns the list's ids, sorted.
func ids(items []nxItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	sort.Strings(out)
	return out
}

func findItem(items []nxItem, id string) (nxItem, bool) {
	for _, it := range items {
		if it.ID == id {
			return it, true
		}
	}
	return nxItem{}, false
}

// fetch GETs a URL with the key and returns status, headers and body.
func (c nx) fetch(t testing.TB, u string, extra hdr) (int, http.Header, []byte) {
	t.Helper()
	h := bearer(c.key)
	for k, v := range extra {
		h = h.with(k, v)
	}
	return do(t, http.MethodGet, u, h, nil)
}

// content downloads a file, which must answer 200.
func (c nx) content(t testing.TB, eformtype, record, folder, name string) []byte {
	t.Helper()
	status, _, body := c.fetch(t, c.contentURL(eformtype, record, folder, name), nil)
	if status != http.StatusOK {
		t.Fatalf("content %s/%s %s/%s: status %d %s, want 200", eformtype, record, folder, name, status, snippet(body))
	}
	return body
}

// resolveLink turns links.content into a URL on the gateway: an absolute
// URL must point at the gateway itself; a root-relative one is joined to it.
func resolveLink(t testing.TB, gw *gateway, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatalf("links.content %q: %v", link, err)
	}
	if u.IsAbs() {
		if u.Host != gw.addr {
			t.Errorf("links.content %q points at %s, want the gateway %s", link, u.Host, gw.addr)
		}
		return link
	}
	if !strings.HasPrefix(link, "/jsonapi/") {
		t.Errorf("links.content %q: want an absolute URL or a path under /jsonapi/", link)
	}
	return gw.base + link
}

// wantEmpty checks a Nimblex failure: the status and an empty body.
func wantEmpty(t testing.TB, what string, status int, body []byte, want int) {
	t.Helper()
	if status != want || len(body) != 0 {
		t.Errorf("%s: status %d body %s, want %d with an empty body", what, status, snippet(body), want)
	}
}

func TestNimblexListDocument(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := nx{gw, gw.key(t, "writer")}
	banana := []byte("not really a banana")
	logo := pngBytes
	c.upload(t, "Contract", "57", "", "banana.png", banana, "banana/banana")
	c.upload(t, "Contract", "57", "folder", "logo.png", logo, "")
	c.upload(t, "Contract", "58", "", "other.txt", []byte("elsewhere"), "")

	items := c.list(t, "Contract", "57")
	want := []struct {
		id, mimetype, link string
		data               []byte
	}{
		{"Contract/57/attachments/banana.png", "banana/banana", "/jsonapi/records/Contract/57/attachments/content/banana.png", banana},
		{"Contract/57/attachments/folder/logo.png", "image/png", "/jsonapi/records/Contract/57/attachments/content/folder/logo.png", logo},
	}
	if len(items) != len(want) {
		t.Fatalf("list: %d items %v, want %d", len(items), ids(items), len(want))
	}
	for _, w := range want {
		it, ok := findItem(items, w.id)
		if !ok {
			t.Errorf("list has no id %q: %v", w.id, ids(items))
			continue
		}
		if it.Attributes.Mimetype != w.mimetype || *it.Attributes.Size != int64(len(w.data)) {
			t.Errorf("%s: mimetype %q size %d, want %q %d", w.id, it.Attributes.Mimetype, *it.Attributes.Size, w.mimetype, len(w.data))
		}
		link := resolveLink(t, gw, it.Links.Content)
		if !strings.HasSuffix(link, w.link) {
			t.Errorf("%s: links.content %q, want it to end in %q", w.id, it.Links.Content, w.link)
		}
		// The link is usable as given.
		status, _, body := c.fetch(t, link, nil)
		if status != http.StatusOK || !bytes.Equal(body, w.data) {
			t.Errorf("GET links.content of %s: status %d, %d bytes, want 200 and the %d uploaded bytes", w.id, status, len(body), len(w.data))
		}
	}

	// A record whose files were all deleted still exists: an empty list.
	status, _, body := do(t, http.MethodDelete, c.deleteURL("Contract", "58", "", "other.txt"), bearer(c.key), nil)
	if status/100 != 2 {
		t.Fatalf("delete: status %d %s", status, snippet(body))
	}
	if got := c.list(t, "Contract", "58"); len(got) != 0 {
		t.Errorf("list after deleting every file: %v, want an empty data array", ids(got))
	}
}

func TestNimblexUploadReplaceDownload(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := nx{gw, gw.key(t, "writer")}

	cases := []struct {
		name, folder, file, ctype string
		first, second             []byte
		wantType                  string
	}{
		{"explicit type, no folder", "", "report.bin", "application/x-report", []byte("first version"), randomBytes(t, 70*1024), "application/x-report"},
		{"sniffed type, folder", "specs", "spec.pdf", "", []byte("plain text first"), pdfBytes, "application/pdf"},
		{"nested folder", "a/b", "deep.txt", "text/plain", []byte("one"), []byte("two"), "text/plain"},
		{"empty file", "", "empty.txt", "text/plain", []byte("not yet empty"), []byte{}, "text/plain"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := strconv.Itoa(i + 1)
			c.upload(t, "Doc", rec, tc.folder, tc.file, tc.first, tc.ctype)
			c.upload(t, "Doc", rec, tc.folder, tc.file, tc.second, tc.ctype)
			items := c.list(t, "Doc", rec)
			if len(items) != 1 {
				t.Fatalf("after uploading the same name twice: %v, want one attachment", ids(items))
			}
			if got := *items[0].Attributes.Size; got != int64(len(tc.second)) {
				t.Errorf("size %d, want the new content's %d", got, len(tc.second))
			}
			status, h, body := c.fetch(t, c.contentURL("Doc", rec, tc.folder, tc.file), nil)
			if status != http.StatusOK || !bytes.Equal(body, tc.second) {
				t.Fatalf("download: status %d, %d bytes, want 200 and the second upload's %d bytes", status, len(body), len(tc.second))
			}
			if ct := h.Get("Content-Type"); ct != tc.wantType {
				t.Errorf("Content-Type %q, want %q", ct, tc.wantType)
			}
			if cl := h.Get("Content-Length"); cl != strconv.Itoa(len(tc.second)) {
				t.Errorf("Content-Length %q, want %d", cl, len(tc.second))
			}
			if items[0].Attributes.Mimetype != tc.wantType {
				t.Errorf("list mimetype %q, want %q", items[0].Attributes.Mimetype, tc.wantType)
			}
		})
	}
}

// An upload whose connection ends before its declared Content-Length is
// not acknowledged: it must neither appear nor replace what was there.
func TestNimblexTruncatedUploadIsNotStored(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := nx{gw, gw.key(t, "writer")}
	const old = "the acknowledged version"
	c.upload(t, "Doc", "1", "f", "keep.bin", []byte(old), "")

	cases := []struct {
		name           string
		file           string
		declared, sent int
	}{
		{"replacement, 1 MiB of 4 MiB", "keep.bin", 4 << 20, 1 << 20},
		{"replacement, 100 kB of 4 MiB", "keep.bin", 4 << 20, 100000},
		{"new file, 2 MiB of 4 MiB", "new-a.bin", 4 << 20, 2 << 20},
		{"new file, all but one byte of 8 MiB", "new-b.bin", 8 << 20, 8<<20 - 1},
		{"new file, 1000 B of 500 kB", "new-c.bin", 500000, 1000},
	}
	for _, tc := range cases {
		conn, err := net.DialTimeout("tcp", gw.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		head := fmt.Sprintf("POST /jsonapi/records/Doc/1/attachments/content/f/%s HTTP/1.1\r\nHost: %s\r\n"+
			"Authorization: Bearer %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
			tc.file, gw.addr, c.key, tc.declared)
		if _, err := conn.Write([]byte(head)); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(bytes.Repeat([]byte("x"), tc.sent)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // let the bytes arrive before the FIN
		conn.Close()
	}

	// The server notices the closed connections on its own time: watch
	// for a while.
	want := []string{"Doc/1/attachments/f/keep.bin"}
	for i := 0; i < 10; i++ {
		time.Sleep(50 * time.Millisecond)
		items := c.list(t, "Doc", "1")
		if got := ids(items); !reflect.DeepEqual(got, want) {
			var sizes []int64
			for _, it := range items {
				sizes = append(sizes, *it.Attributes.Size)
			}
			t.Fatalf("after truncated uploads the list is %v (sizes %v), want only %v", got, sizes, want)
		}
		if got := c.content(t, "Doc", "1", "f", "keep.bin"); string(got) != old {
			t.Fatalf("keep.bin after a truncated replacement: %d bytes %s, want %q", len(got), snippet(got), old)
		}
	}
}

func TestNimblexRangeAndETag(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := nx{gw, gw.key(t, "writer")}
	data := []byte("0123456789abcdef")
	c.upload(t, "Doc", "1", "f", "digits.txt", data, "text/plain")
	u := c.contentURL("Doc", "1", "f", "digits.txt")

	ranges := []struct {
		header, contentRange string
		want                 []byte
	}{
		{"bytes=0-3", "bytes 0-3/16", data[:4]},
		{"bytes=-2", "bytes 14-15/16", data[14:]},
		{"bytes=10-", "bytes 10-15/16", data[10:]},
		{"bytes=4-4", "bytes 4-4/16", data[4:5]},
		{"bytes=12-100", "bytes 12-15/16", data[12:]},
	}
	for _, r := range ranges {
		status, h, body := c.fetch(t, u, hdr{"Range": r.header})
		if status != http.StatusPartialContent || !bytes.Equal(body, r.want) {
			t.Errorf("Range %s: status %d body %q, want 206 %q", r.header, status, body, r.want)
		}
		if got := h.Get("Content-Range"); got != r.contentRange {
			t.Errorf("Range %s: Content-Range %q, want %q", r.header, got, r.contentRange)
		}
		if got := h.Get("Content-Length"); got != strconv.Itoa(len(r.want)) {
			t.Errorf("Range %s: Content-Length %q, want %d", r.header, got, len(r.want))
		}
	}
	status, _, _ := c.fetch(t, u, hdr{"Range": "bytes=16-"})
	if status != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("Range past the end: status %d, want 416", status)
	}

	status, h, body := c.fetch(t, u, nil)
	etag := h.Get("ETag")
	if status != http.StatusOK || etag == "" {
		t.Fatalf("download: status %d ETag %q, want 200 with an ETag", status, etag)
	}
	status, _, body = c.fetch(t, u, hdr{"If-None-Match": etag})
	if status != http.StatusNotModified || len(body) != 0 {
		t.Errorf("If-None-Match with the ETag: status %d body %q, want 304 and no body", status, body)
	}
	status, _, body = c.fetch(t, u, hdr{"If-None-Match": `"something-else"`})
	if status != http.StatusOK || !bytes.Equal(body, data) {
		t.Errorf("If-None-Match with another ETag: status %d, want 200 and the bytes", status)
	}
	// New content, new validator.
	c.upload(t, "Doc", "1", "f", "digits.txt", []byte("changed"), "text/plain")
	status, h, body = c.fetch(t, u, hdr{"If-None-Match": etag})
	if status != http.StatusOK || string(body) != "changed" {
		t.Errorf("If-None-Match with the old ETag after a replace: status %d body %q, want 200 \"changed\"", status, body)
	}
	if h.Get("ETag") == etag {
		t.Errorf("replaced content kept the ETag %s", etag)
	}
}

func TestNimblexDelete(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := nx{gw, gw.key(t, "writer")}
	c.upload(t, "Doc", "1", "", "top.txt", []byte("top"), "")
	c.upload(t, "Doc", "1", "f", "inner.txt", []byte("inner"), "")
	c.upload(t, "Doc", "1", "g", "inner.txt", []byte("same name, other folder"), "")

	for _, f := range []struct{ folder, name string }{{"f", "inner.txt"}, {"", "top.txt"}} {
		u := c.deleteURL("Doc", "1", f.folder, f.name)
		status, _, body := do(t, http.MethodDelete, u, bearer(c.key), nil)
		if status/100 != 2 || len(body) != 0 {
			t.Errorf("DELETE %s/%s: status %d body %s, want 2xx with an empty body", f.folder, f.name, status, snippet(body))
		}
		status, _, body = do(t, http.MethodDelete, u, bearer(c.key), nil)
		wantEmpty(t, "DELETE again", status, body, http.StatusNotFound)
		status, _, body = c.fetch(t, c.contentURL("Doc", "1", f.folder, f.name), nil)
		wantEmpty(t, "content after DELETE", status, body, http.StatusNotFound)
	}
	if got := ids(c.list(t, "Doc", "1")); !reflect.DeepEqual(got, []string{"Doc/1/attachments/g/inner.txt"}) {
		t.Errorf("list after deletes: %v, want only g/inner.txt", got)
	}
	if got := c.content(t, "Doc", "1", "g", "inner.txt"); string(got) != "same name, other folder" {
		t.Errorf("g/inner.txt = %q after deleting f/inner.txt", got)
	}
}

func TestNimblexNotFoundIsEmpty(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := nx{gw, gw.key(t, "writer")}
	c.upload(t, "Contract", "57", "folder", "logo.png", pngBytes, "")
	c.upload(t, "Contract", "57", "", "top.txt", []byte("top"), "")

	base := c.attachments("Contract", "57")
	cases := []struct {
		name, method, url string
	}{
		{"list of an unknown record", http.MethodGet, c.attachments("Contract", "999")},
		{"list of an unknown eformtype", http.MethodGet, c.attachments("Nope", "57")},
		{"content of an unknown file", http.MethodGet, base + "/content/nope.png"},
		{"content in an unknown folder", http.MethodGet, base + "/content/nofolder/logo.png"},
		{"content of a folder-less name that lives in a folder", http.MethodGet, base + "/content/logo.png"},
		{"content of a name in a folder it is not in", http.MethodGet, base + "/content/folder/top.txt"},
		{"content of an unknown record", http.MethodGet, c.attachments("Contract", "999") + "/content/top.txt"},
		{"delete of a missing file", http.MethodDelete, base + "/nope.png"},
		{"delete in an unknown folder", http.MethodDelete, base + "/nofolder/logo.png"},
		{"delete in an unknown record", http.MethodDelete, c.attachments("Contract", "999") + "/top.txt"},
		{"unknown path under /jsonapi", http.MethodGet, gw.url("/jsonapi/nothing/here")},
		{"the api root", http.MethodGet, gw.url("/jsonapi")},
		{"a record without /attachments", http.MethodGet, gw.url("/jsonapi/records/Contract/57")},
		{"an unknown sub-resource", http.MethodGet, base + "/nope"},
		{"POST to an unknown path", http.MethodPost, gw.url("/jsonapi/records/Contract/57/files")},
	}
	for _, tc := range cases {
		status, _, body := do(t, tc.method, tc.url, bearer(c.key), nil)
		wantEmpty(t, tc.name, status, body, http.StatusNotFound)
	}
	if got := len(c.list(t, "Contract", "57")); got != 2 {
		t.Errorf("list after the 404s: %d items, want 2", got)
	}
}

func TestNimblexBadNames(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := nx{gw, gw.key(t, "writer")}
	c.upload(t, "Contract", "57", "", "kept.txt", []byte("kept"), "")
	before := fileNames(listFiles(t, gw.data))

	long := strings.Repeat("a", 256)
	longUTF8 := strings.Repeat("é", 128) // 256 bytes, 128 characters
	cases := []struct{ name, path string }{
		{"..", ".."},
		{"../name", "../evil.txt"},
		{"../../name", "../../evil.txt"},
		{"encoded ..", "%2E%2E"},
		{"encoded ../", "%2E%2E/evil.txt"},
		{"folder ..", "folder/../evil.txt"},
		{"folder .", "./evil.txt"},
		{"encoded slash in the name", "a%2Fevil.txt"},
		{"encoded ../ in the name", "..%2Fevil.txt"},
		{"encoded ../../ in folder and name", "f%2F..%2F..%2Fevil/x.txt"},
		{"encoded absolute name", "%2Fetc%2Fevil"},
		{"encoded backslash", "a%5Cevil.txt"},
		{"encoded ..\\", "..%5Cevil.txt"},
		{"backslash in a folder", "f%5Cg/evil.txt"},
		{"NUL", "a%00evil.txt"},
		{"NUL in a folder", "f%00g/evil.txt"},
		{"\\x01", "a%01evil.txt"},
		{"newline", "a%0Aevil.txt"},
		{"carriage return", "a%0Devil.txt"},
		{"tab", "a%09evil.txt"},
		{"\\x1f", "a%1Fevil.txt"},
		{"DEL", "a%7Fevil.txt"},
		{"C1 control", "a%C2%85evil.txt"},
		{"invalid UTF-8", "a%FFevil.txt"},
		{"name of 256 bytes", long},
		{"name of 256 bytes in 128 characters", url.PathEscape(longUTF8)},
		{"folder segment of 256 bytes", long + "/evil.txt"},
		{"bad percent-encoding", "a%zzevil.txt"},
	}
	for _, tc := range cases {
		status, _, body := doRaw(t, gw, http.MethodPost, "/jsonapi/records/Contract/57/attachments/content/"+tc.path, bearer(c.key), []byte("evil"))
		wantEmpty(t, "upload to "+tc.name, status, body, http.StatusBadRequest)
	}

	// Exactly 255 bytes is a valid name.
	c.upload(t, "Contract", "57", "", strings.Repeat("b", 255), []byte("long name"), "")

	got := ids(c.list(t, "Contract", "57"))
	want := []string{"Contract/57/attachments/" + strings.Repeat("b", 255), "Contract/57/attachments/kept.txt"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("list after refused uploads: %v, want %v", got, want)
	}
	if extra := outsideData(t, gw); len(extra) > 0 {
		t.Errorf("files appeared outside the data dir: %v", extra)
	}
	// Only the one accepted upload added a file inside it.
	after := fileNames(listFiles(t, gw.data))
	if added := difference(after, before); len(added) != 1 {
		t.Errorf("files added to the data dir: %v, want exactly one (the 255-byte name's blob)", added)
	}
	for p := range listFiles(t, gw.data) {
		if strings.Contains(p, "evil") {
			t.Errorf("a refused name reached the file system: %s", p)
		}
	}
}

func fileNames(m map[string]int64) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

func difference(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func TestNimblexEncodedEformtype(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := nx{gw, gw.key(t, "writer")}

	for _, eformtype := range []string{"Sales Contract", "Legal/Contracts", "Q&A #1?", "Ünïcödé"} {
		t.Run(url.PathEscape(eformtype), func(t *testing.T) {
			data := []byte("content of " + eformtype)
			c.upload(t, eformtype, "7", "f", "a b.txt", data, "text/plain")
			items := c.list(t, eformtype, "7")
			if len(items) != 1 {
				t.Fatalf("list: %v, want one attachment", ids(items))
			}
			it := items[0]

			// The id is <eformtype>/<recordId>/attachments/<folder>/<filename>
			// with the eformtype as it is, as seed 004 writes it (see
			// docs/decisions.md: clients address files by links.content).
			if want := eformtype + "/7/attachments/f/a b.txt"; it.ID != want {
				t.Errorf("id %q, want %q", it.ID, want)
			}

			// The link works as given.
			link := resolveLink(t, gw, it.Links.Content)
			status, _, body := c.fetch(t, link, nil)
			if status != http.StatusOK || !bytes.Equal(body, data) {
				t.Errorf("GET links.content %s: status %d body %s, want 200 %q", it.Links.Content, status, snippet(body), data)
			}
			if want := c.contentURL(eformtype, "7", "f", "a b.txt"); link != want {
				t.Errorf("links.content %q, want %q", link, want)
			}

			status, _, body = do(t, http.MethodDelete, c.deleteURL(eformtype, "7", "f", "a b.txt"), bearer(c.key), nil)
			if status/100 != 2 {
				t.Errorf("delete: status %d %s", status, snippet(body))
			}
			if got := c.list(t, eformtype, "7"); len(got) != 0 {
				t.Errorf("list after delete: %v", ids(got))
			}
		})
	}
}

func TestNimblexAuth(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "writer")
	c := nx{gw, key}
	ro := nx{gw, gw.key(t, "auditor", "--read-only")}
	limited := nx{gw, gw.key(t, "sales", "--collections", "A")}
	c.upload(t, "Contract", "57", "", "kept.txt", []byte("kept"), "")
	c.upload(t, "B", "1", "", "b.txt", []byte("b"), "")

	calls := []struct {
		name, method, url string
		body              []byte
	}{
		{"list", http.MethodGet, c.attachments("Contract", "57"), nil},
		{"content", http.MethodGet, c.contentURL("Contract", "57", "", "kept.txt"), nil},
		{"upload", http.MethodPost, c.contentURL("Contract", "57", "", "new.txt"), []byte("new")},
		{"delete", http.MethodDelete, c.deleteURL("Contract", "57", "", "kept.txt"), nil},
	}
	creds := []struct{ name, value string }{
		{"no Authorization", ""},
		{"a wrong key", "Bearer dgk_not_a_real_key"},
		{"the key without Bearer", key},
		{"Basic instead of Bearer", "Basic " + key},
	}
	for _, cr := range creds {
		for _, call := range calls {
			h := hdr{}
			if cr.value != "" {
				h["Authorization"] = cr.value
			}
			status, _, body := do(t, call.method, call.url, h, call.body)
			wantEmpty(t, call.name+" with "+cr.name, status, body, http.StatusUnauthorized)
		}
	}

	// A read-only key reads but neither uploads nor deletes.
	status, _, body := do(t, http.MethodPost, c.contentURL("Contract", "57", "", "new.txt"), bearer(ro.key), []byte("new"))
	wantEmpty(t, "read-only upload", status, body, http.StatusForbidden)
	status, _, body = do(t, http.MethodPost, c.contentURL("Contract", "57", "", "kept.txt"), bearer(ro.key), []byte("overwritten"))
	wantEmpty(t, "read-only upload over an existing name", status, body, http.StatusForbidden)
	status, _, body = do(t, http.MethodDelete, c.deleteURL("Contract", "57", "", "kept.txt"), bearer(ro.key), nil)
	wantEmpty(t, "read-only delete", status, body, http.StatusForbidden)
	if got := ro.content(t, "Contract", "57", "", "kept.txt"); string(got) != "kept" {
		t.Errorf("read-only download: %q, want \"kept\"", got)
	}
	if got := ids(ro.list(t, "Contract", "57")); !reflect.DeepEqual(got, []string{"Contract/57/attachments/kept.txt"}) {
		t.Errorf("after refused calls: %v, want only kept.txt", got)
	}

	// A key limited to collection A sees nothing of B (404 or 403).
	for _, call := range []struct{ name, method, url string }{
		{"list", http.MethodGet, c.attachments("B", "1")},
		{"content", http.MethodGet, c.contentURL("B", "1", "", "b.txt")},
		{"upload", http.MethodPost, c.contentURL("B", "1", "", "x.txt")},
		{"delete", http.MethodDelete, c.deleteURL("B", "1", "", "b.txt")},
	} {
		status, _, body := do(t, call.method, call.url, bearer(limited.key), []byte("x"))
		if (status != http.StatusForbidden && status != http.StatusNotFound) || len(body) != 0 {
			t.Errorf("%s in B with a key limited to A: status %d body %s, want 403 or 404, empty", call.name, status, snippet(body))
		}
	}
	if got := c.content(t, "B", "1", "", "b.txt"); string(got) != "b" {
		t.Errorf("B's file after the limited key's calls: %q", got)
	}
	if got := ids(c.list(t, "B", "1")); len(got) != 1 {
		t.Errorf("B after the limited key's calls: %v, want one file", got)
	}
}

// A refusal decided before the body is read (401, 403, 400) must reach a
// client that is still sending a large body, not reset its connection.
func TestNimblexEarlyErrorsOnLargeUploadsReachTheClient(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := nx{gw, gw.key(t, "writer")}
	ro := gw.key(t, "auditor", "--read-only")
	const size = 64 << 20
	bigClient := &http.Client{Timeout: 60 * time.Second}

	cases := []struct {
		name, path, key string
		want            int
	}{
		{"wrong key", "/jsonapi/records/Doc/1/attachments/content/ok.bin", "dgk_not_a_real_key", http.StatusUnauthorized},
		{"read-only key", "/jsonapi/records/Doc/1/attachments/content/ok.bin", ro, http.StatusForbidden},
		{"NUL in the name", "/jsonapi/records/Doc/1/attachments/content/a%00b.bin", c.key, http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for attempt := 0; attempt < 2; attempt++ {
				req, err := http.NewRequest(http.MethodPost, gw.url(tc.path), io.LimitReader(repeatReader('x'), size))
				if err != nil {
					t.Fatal(err)
				}
				req.ContentLength = size
				req.Header.Set("Authorization", "Bearer "+tc.key)
				resp, err := bigClient.Do(req)
				if err != nil {
					t.Fatalf("%d-byte upload with %s: the client got no answer: %v", size, tc.name, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				wantEmpty(t, tc.name, resp.StatusCode, body, tc.want)
			}
		})
	}
	// Nothing was ever stored in the record, so it does not exist.
	status, _, body := do(t, http.MethodGet, c.attachments("Doc", "1"), bearer(c.key), nil)
	wantEmpty(t, "list of the record only refused uploads addressed", status, body, http.StatusNotFound)
}
