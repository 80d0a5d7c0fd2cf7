package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// InfoLobby (seed 003): JSON bodies with base64 bytes; every error is
// {"error": "<message>", "status": <code>}.

// tenMiB is InfoLobby's decoded cap.
const tenMiB = 10 * 1024 * 1024

// ilFile is one entry of a file field's array.
type ilFile struct {
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"type"`
	Size int64  `json:"size"`
	Host string `json:"host"`
}

// il is an InfoLobby client holding one key.
type il struct {
	gw  *gateway
	key string
}

func (c il) url(table, record, op string) string {
	return c.gw.url("/api/table/" + url.PathEscape(table) + "/record/" + url.PathEscape(record) + "/" + op)
}

// post sends a JSON body (a string or []byte is sent as is, anything else
// is marshalled) to a files or update call.
func (c il) post(t testing.TB, table, record, op string, body any) (int, []byte) {
	t.Helper()
	status, _, got := do(t, http.MethodPost, c.url(table, record, op), bearer(c.key).with("Content-Type", "application/json"), jsonBody(t, body))
	return status, got
}

func jsonBody(t testing.TB, body any) []byte {
	t.Helper()
	switch b := body.(type) {
	case string:
		return []byte(b)
	case []byte:
		return b
	}
	out, err := json.Marshal(body)
	if err != nil {
		t.Fatalf("marshal %v: %v", body, err)
	}
	return out
}

// create uploads data to a field (typ "" omits type) and returns the
// field's array from the 200 answer.
func (c il) create(t testing.TB, table, record, field, name, typ string, data []byte) []ilFile {
	t.Helper()
	req := map[string]any{"field_id": field, "name": name, "data": base64.StdEncoding.EncodeToString(data)}
	if typ != "" {
		req["type"] = typ
	}
	status, body := c.post(t, table, record, "files/create", req)
	if status != http.StatusOK {
		t.Fatalf("files/create %s/%s %s %q: status %d %s, want 200", table, record, field, name, status, snippet(body))
	}
	return decodeFieldAnswer(t, body, field)
}

// delete removes a path from a field and returns the remaining array.
func (c il) delete(t testing.TB, table, record, field, path string) []ilFile {
	t.Helper()
	status, body := c.post(t, table, record, "files/delete", map[string]any{"field_id": field, "path": path})
	if status != http.StatusOK {
		t.Fatalf("files/delete %s: status %d %s, want 200", path, status, snippet(body))
	}
	return decodeFieldAnswer(t, body, field)
}

// decodeFieldAnswer reads {"field_id": field, "files": [...]}.
func decodeFieldAnswer(t testing.TB, body []byte, field string) []ilFile {
	t.Helper()
	var ans struct {
		FieldID string    `json:"field_id"`
		Files   *[]ilFile `json:"files"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Fatalf("field answer is not JSON: %v: %s", err, snippet(body))
	}
	if ans.FieldID != field {
		t.Errorf("field_id = %q, want %q", ans.FieldID, field)
	}
	if ans.Files == nil {
		t.Fatalf("field answer has no files array: %s", snippet(body))
	}
	for _, f := range *ans.Files {
		checkILFile(t, f)
	}
	return *ans.Files
}

// checkILFile checks that an entry carries the whole seed shape.
func checkILFile(t testing.TB, f ilFile) {
	t.Helper()
	if f.Name == "" || f.Type == "" || f.Host == "" || !strings.HasPrefix(f.Path, "/uploads/") {
		t.Errorf("file entry %+v: want name, type, host and a /uploads/ path", f)
	}
}

// get downloads a file with files/get and returns its answer.
func (c il) get(t testing.TB, table, record, field, path string) (name, typ string, size int64, data []byte) {
	t.Helper()
	status, body := c.post(t, table, record, "files/get", map[string]any{"field_id": field, "path": path})
	if status != http.StatusOK {
		t.Fatalf("files/get %s: status %d %s, want 200", path, status, snippet(body))
	}
	var ans struct {
		Name string `json:"name"`
		Type string `json:"type"`
		Size *int64 `json:"size"`
		Data string `json:"data"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		t.Fatalf("files/get answer is not JSON: %v: %s", err, snippet(body))
	}
	if ans.Size == nil {
		t.Fatalf("files/get answer has no size: %s", snippet(body))
	}
	data, err := base64.StdEncoding.DecodeString(ans.Data)
	if err != nil {
		t.Fatalf("files/get data is not standard base64: %v", err)
	}
	return ans.Name, ans.Type, *ans.Size, data
}

// ilRecord is a record get (or update) answer.
type ilRecord struct {
	ID      string                     `json:"id"`
	TableID string                     `json:"table_id"`
	Data    map[string]json.RawMessage `json:"data"`
}

// files returns a file field's array; ok is false when the field is absent.
func (r ilRecord) files(t testing.TB, field string) (files []ilFile, ok bool) {
	t.Helper()
	raw, ok := r.Data[field]
	if !ok {
		return nil, false
	}
	if err := json.Unmarshal(raw, &files); err != nil {
		t.Fatalf("data.%s is not an array of file objects: %v: %s", field, err, raw)
	}
	return files, true
}

// decodeRecord reads a record answer. A record answer that is not JSON at
// all is the record-rendering bug this suite reports (see
// TestInfoLobbyRecordGetListsEveryFileField); tests that only need the
// record to check something else skip on it, naming the bug.
func decodeRecord(t testing.TB, body []byte, skipOnBrokenJSON bool) ilRecord {
	t.Helper()
	if !json.Valid(body) {
		if skipOnBrokenJSON {
			t.Skipf("BUG: record answer is not valid JSON (see TestInfoLobbyRecordGetListsEveryFileField): %s", snippet(body))
		}
		t.Fatalf("BUG: record answer is not valid JSON: %s", snippet(body))
	}
	var rec ilRecord
	if err := json.Unmarshal(body, &rec); err != nil {
		t.Fatalf("record answer: %v: %s", err, snippet(body))
	}
	if rec.Data == nil {
		t.Fatalf("record answer has no data object: %s", snippet(body))
	}
	return rec
}

// record reads a record with GET .../get, which must answer 200.
func (c il) record(t testing.TB, table, record string, skipOnBrokenJSON bool) ilRecord {
	t.Helper()
	status, _, body := do(t, http.MethodGet, c.url(table, record, "get"), bearer(c.key), nil)
	if status != http.StatusOK {
		t.Fatalf("GET record %s/%s: status %d %s, want 200", table, record, status, snippet(body))
	}
	rec := decodeRecord(t, body, skipOnBrokenJSON)
	if rec.ID != record || rec.TableID != table {
		t.Errorf("record answer id=%q table_id=%q, want %q %q", rec.ID, rec.TableID, record, table)
	}
	return rec
}

// fieldFiles is the field's array as record get shows it (nil if absent).
func (c il) fieldFiles(t testing.TB, table, record, field string) []ilFile {
	t.Helper()
	files, _ := c.record(t, table, record, true).files(t, field)
	return files
}

// wantILError checks an InfoLobby error answer: the status, and a body
// {"error": "<message>", "status": <code>} whose message contains msg.
func wantILError(t testing.TB, what string, status int, body []byte, want int, msg string) {
	t.Helper()
	if status != want {
		t.Errorf("%s: status %d %s, want %d", what, status, snippet(body), want)
		return
	}
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("%s: error body is not a JSON object: %s", what, snippet(body))
		return
	}
	m, ok := e["error"].(string)
	if !ok || m == "" {
		t.Errorf("%s: error body has no \"error\" message: %s", what, body)
	}
	if s, ok := e["status"].(float64); !ok || int(s) != want {
		t.Errorf("%s: error body \"status\" = %v, want %d: %s", what, e["status"], want, body)
	}
	if len(e) != 2 {
		t.Errorf("%s: error body has keys other than error and status: %s", what, body)
	}
	if msg != "" && !strings.Contains(m, msg) {
		t.Errorf("%s: error message %q, want it to contain %q", what, m, msg)
	}
}

func pathsOf(files []ilFile) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out
}

func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// pdfBytes and pngBytes start with their formats' signatures, so a
// server that sniffs recognises them.
var (
	pdfBytes = []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n")
	pngBytes = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), bytes.Repeat([]byte{0}, 32)...)
)

func TestInfoLobbyCreateAppendsAndSniffs(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := il{gw, gw.key(t, "writer")}

	a := c.create(t, "101", "42", "attachments", "notes.txt", "text/plain", []byte("hello"))
	if len(a) != 1 || a[0].Name != "notes.txt" || a[0].Type != "text/plain" || a[0].Size != 5 {
		t.Fatalf("first create: files %+v, want [notes.txt text/plain 5]", a)
	}

	// type omitted: sniffed from the bytes.
	b := c.create(t, "101", "42", "attachments", "invoice.pdf", "", pdfBytes)
	if len(b) != 2 {
		t.Fatalf("second create: %d files, want 2 (append-only): %+v", len(b), b)
	}
	if b[0] != a[0] {
		t.Errorf("second create changed the first file: %+v, was %+v", b[0], a[0])
	}
	if got := b[1]; got.Name != "invoice.pdf" || got.Type != "application/pdf" || got.Size != int64(len(pdfBytes)) {
		t.Errorf("sniffed PDF: %+v, want invoice.pdf application/pdf %d", got, len(pdfBytes))
	}

	cc := c.create(t, "101", "42", "attachments", "logo", "", pngBytes)
	if len(cc) != 3 || cc[2].Type != "image/png" {
		t.Errorf("sniffed PNG: %+v, want a third file of type image/png", cc)
	}

	// The same name again is a new attachment, not a replacement.
	d := c.create(t, "101", "42", "attachments", "notes.txt", "text/plain", []byte("hello again"))
	if len(d) != 4 {
		t.Fatalf("same name again: %d files, want 4: %+v", len(d), d)
	}
	if !reflect.DeepEqual(pathsOf(d[:3]), pathsOf(cc)) {
		t.Errorf("append changed the order or paths: %v, was %v", pathsOf(d[:3]), pathsOf(cc))
	}
	seen := map[string]bool{}
	for _, f := range d {
		if seen[f.Path] {
			t.Errorf("path %s appears twice in %+v", f.Path, d)
		}
		seen[f.Path] = true
	}

	// Another field of the same record has its own array.
	other := c.create(t, "101", "42", "contracts", "contract.pdf", "application/pdf", pdfBytes)
	if len(other) != 1 || other[0].Name != "contract.pdf" {
		t.Errorf("contracts field: %+v, want only contract.pdf", other)
	}
	// And so does the same field of another record.
	if o := c.create(t, "101", "43", "attachments", "x.txt", "", []byte("x")); len(o) != 1 {
		t.Errorf("record 43: %+v, want one file", o)
	}
}

func TestInfoLobbyConcurrentCreatesAllAppend(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := il{gw, gw.key(t, "writer")}
	const n = 16
	errs := make(chan string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := jsonBody(t, map[string]any{"field_id": "attachments", "name": fmt.Sprintf("f%02d.txt", i), "data": base64.StdEncoding.EncodeToString([]byte(strconv.Itoa(i)))})
			req, err := http.NewRequest(http.MethodPost, c.url("101", "42", "files/create"), bytes.NewReader(body))
			if err != nil {
				errs <- err.Error()
				return
			}
			req.Header.Set("Authorization", "Bearer "+c.key)
			resp, err := client.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				errs <- fmt.Sprintf("create f%02d.txt: status %d", i, resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	files := c.create(t, "101", "42", "attachments", "last.txt", "", []byte("last"))
	names := map[string]bool{}
	for _, f := range files {
		names[f.Name] = true
	}
	if len(files) != n+1 || len(names) != n+1 {
		t.Errorf("after %d concurrent creates and one more: %d files (%d names), want %d", n, len(files), len(names), n+1)
	}
	if files[n].Name != "last.txt" {
		t.Errorf("the last create is not last: %+v", files[n])
	}
}

func TestInfoLobbyDelete(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := il{gw, gw.key(t, "writer")}
	c.create(t, "101", "42", "attachments", "one.txt", "", []byte("1"))
	c.create(t, "101", "42", "attachments", "two.txt", "", []byte("2"))
	three := c.create(t, "101", "42", "attachments", "three.txt", "", []byte("3"))
	contract := c.create(t, "101", "42", "contracts", "c.pdf", "", pdfBytes)[0]

	left := c.delete(t, "101", "42", "attachments", three[1].Path)
	if want := []ilFile{three[0], three[2]}; !reflect.DeepEqual(left, want) {
		t.Errorf("after deleting two.txt: %+v, want %+v", left, want)
	}

	status, body := c.post(t, "101", "42", "files/delete", map[string]any{"field_id": "attachments", "path": three[1].Path})
	wantILError(t, "delete the same path again", status, body, 400, "Attachment not found")

	// A path of another field of the same record is not in this field.
	status, body = c.post(t, "101", "42", "files/delete", map[string]any{"field_id": "attachments", "path": contract.Path})
	wantILError(t, "delete a contracts path from attachments", status, body, 400, "Attachment not found")

	for _, p := range []string{"/uploads/0123456789abcdef0-nope.txt", "/uploads/nope.txt", "nope", strings.Replace(three[0].Path, "one.txt", "other.txt", 1)} {
		status, body = c.post(t, "101", "42", "files/delete", map[string]any{"field_id": "attachments", "path": p})
		wantILError(t, "delete unknown path "+p, status, body, 400, "Attachment not found")
	}

	// The contracts field was never touched.
	if got := c.create(t, "101", "42", "contracts", "c2.pdf", "", pdfBytes); len(got) != 2 || got[0] != contract {
		t.Errorf("contracts after the deletes: %+v, want %+v first", got, contract)
	}

	left = c.delete(t, "101", "42", "attachments", three[0].Path)
	left = c.delete(t, "101", "42", "attachments", three[2].Path)
	if len(left) != 0 {
		t.Errorf("after deleting every file: %+v, want []", left)
	}
}

func TestInfoLobbyGetRoundTrip(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := il{gw, gw.key(t, "writer")}
	ro := il{gw, gw.key(t, "reader", "--read-only")}

	every := make([]byte, 0, 256*1024)
	for len(every) < cap(every)-256 {
		for i := 0; i < 256; i++ {
			every = append(every, byte(i))
		}
	}
	cases := []struct {
		name, typ string
		data      []byte
	}{
		{"random.bin", "application/octet-stream", randomBytes(t, 300*1024+1)},
		{"every-byte.bin", "application/x-test", every},
		{"one.txt", "text/plain", []byte("x")},
		{"rapport é.txt", "text/plain; charset=utf-8", []byte("héllo wörld\n")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := c.create(t, "101", "42", "docs", tc.name, tc.typ, tc.data)
			f := files[len(files)-1]
			for _, reader := range []il{c, ro} {
				name, typ, size, data := reader.get(t, "101", "42", "docs", f.Path)
				if name != tc.name || typ != tc.typ || size != int64(len(tc.data)) {
					t.Errorf("files/get: name %q type %q size %d, want %q %q %d", name, typ, size, tc.name, tc.typ, len(tc.data))
				}
				if !bytes.Equal(data, tc.data) {
					t.Errorf("files/get: bytes differ (got %d bytes, sha256 %x; want %d, %x)", len(data), sha256.Sum256(data), len(tc.data), sha256.Sum256(tc.data))
				}
			}
		})
	}

	f := c.create(t, "101", "42", "contracts", "secret.pdf", "", pdfBytes)[0]
	c.create(t, "101", "43", "contracts", "other.pdf", "", pdfBytes)
	c.create(t, "202", "42", "contracts", "other.pdf", "", pdfBytes)
	wrong := []struct {
		what                 string
		table, record, field string
	}{
		{"a sibling field of the same record", "101", "42", "docs"},
		{"a field that does not exist", "101", "42", "nope"},
		{"another record", "101", "43", "contracts"},
		{"the same record id in another table", "202", "42", "contracts"},
		{"a record that does not exist", "101", "999", "contracts"},
	}
	for _, w := range wrong {
		status, body := c.post(t, w.table, w.record, "files/get", map[string]any{"field_id": w.field, "path": f.Path})
		wantILError(t, "files/get through "+w.what, status, body, 400, "")
		if bytes.Contains(body, []byte(base64.StdEncoding.EncodeToString(pdfBytes))) {
			t.Errorf("files/get through %s leaked the file's bytes", w.what)
		}
	}
}

func TestInfoLobbyRecordGetListsEveryFileField(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := il{gw, gw.key(t, "writer")}
	ro := il{gw, gw.key(t, "reader", "--read-only")}

	want := map[string][]ilFile{}
	want["attachments"] = c.create(t, "101", "42", "attachments", "a.txt", "", []byte("a"))
	c.create(t, "101", "42", "contracts", "c1.pdf", "", pdfBytes)
	want["contracts"] = c.create(t, "101", "42", "contracts", "c2.pdf", "", pdfBytes)
	want["invoices"] = c.create(t, "101", "42", "invoices", "i.png", "", pngBytes)
	c.create(t, "101", "43", "attachments", "elsewhere.txt", "", []byte("e"))

	for _, reader := range []il{c, ro} {
		status, hdr, body := do(t, http.MethodGet, c.url("101", "42", "get"), bearer(reader.key), nil)
		if status != http.StatusOK {
			t.Fatalf("record get: status %d %s", status, snippet(body))
		}
		if ct := hdr.Get("Content-Type"); !strings.Contains(ct, "json") {
			t.Errorf("record get Content-Type %q, want JSON", ct)
		}
		rec := decodeRecord(t, body, false)
		if rec.ID != "42" || rec.TableID != "101" {
			t.Errorf("record get: id %q table_id %q, want 42 101", rec.ID, rec.TableID)
		}
		for field, files := range want {
			got, ok := rec.files(t, field)
			if !ok {
				t.Errorf("record get has no field %s: %s", field, body)
			}
			if !reflect.DeepEqual(got, files) {
				t.Errorf("record get field %s = %+v, want %+v", field, got, files)
			}
		}
		if len(rec.Data) != len(want) {
			t.Errorf("record get data has %d keys, want %d: %s", len(rec.Data), len(want), body)
		}
	}

	for _, r := range [][2]string{{"101", "999"}, {"999", "42"}} {
		status, _, body := do(t, http.MethodGet, c.url(r[0], r[1], "get"), bearer(c.key), nil)
		wantILError(t, "record get of unknown "+r[0]+"/"+r[1], status, body, 400, "")
	}
}

func TestInfoLobbyRecordUpdate(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := il{gw, gw.key(t, "writer")}

	// seed gives record rec three files a, b, c in "contracts" and one in
	// "attachments".
	seed := func(t *testing.T, rec string) (files []ilFile, other ilFile) {
		c.create(t, "101", rec, "contracts", "a.pdf", "", pdfBytes)
		c.create(t, "101", rec, "contracts", "b.txt", "", []byte("b"))
		files = c.create(t, "101", rec, "contracts", "c.png", "", pngBytes)
		other = c.create(t, "101", rec, "attachments", "keep.txt", "", []byte("keep"))[0]
		return files, other
	}
	update := func(t *testing.T, rec string, data map[string]any) (int, []byte) {
		return c.post(t, "101", rec, "update", map[string]any{"data": data})
	}

	t.Run("reorder", func(t *testing.T) {
		files, other := seed(t, "1")
		order := []ilFile{files[2], files[0], files[1]}
		status, body := update(t, "1", map[string]any{"contracts": order})
		if status != http.StatusOK {
			t.Fatalf("update: status %d %s", status, snippet(body))
		}
		// files/create answers the whole field: the new order, then d.txt.
		after := c.create(t, "101", "1", "contracts", "d.txt", "", []byte("d"))
		if len(after) != 4 || !reflect.DeepEqual(after[:3], order) {
			t.Errorf("create after reorder: %v, want %v then d.txt", pathsOf(after), pathsOf(order))
		}
		if got := c.create(t, "101", "1", "attachments", "probe.txt", "", []byte("p")); len(got) != 2 || got[0] != other {
			t.Errorf("update of contracts changed attachments: %+v", got)
		}
		order = after
		if got, _ := decodeRecord(t, body, true).files(t, "contracts"); !reflect.DeepEqual(got, order[:3]) {
			t.Errorf("update answer contracts = %v, want %v", pathsOf(got), pathsOf(order[:3]))
		}
		if got, _ := c.record(t, "101", "1", true).files(t, "contracts"); !reflect.DeepEqual(got, order) {
			t.Errorf("record get contracts = %v, want %v", pathsOf(got), pathsOf(order))
		}
	})

	t.Run("replace with a subset", func(t *testing.T) {
		files, other := seed(t, "2")
		status, body := update(t, "2", map[string]any{"contracts": []ilFile{files[1]}})
		if status != http.StatusOK {
			t.Fatalf("update: status %d %s", status, snippet(body))
		}
		if got := c.fieldFiles(t, "101", "2", "contracts"); !reflect.DeepEqual(got, []ilFile{files[1]}) {
			t.Errorf("contracts = %+v, want only %+v", got, files[1])
		}
		if got := c.fieldFiles(t, "101", "2", "attachments"); !reflect.DeepEqual(got, []ilFile{other}) {
			t.Errorf("attachments = %+v, want only %+v", got, other)
		}
		for _, gone := range []ilFile{files[0], files[2]} {
			status, body := c.post(t, "101", "2", "files/get", map[string]any{"field_id": "contracts", "path": gone.Path})
			wantILError(t, "files/get of a file the update dropped", status, body, 400, "")
		}
		if _, _, _, data := c.get(t, "101", "2", "contracts", files[1].Path); string(data) != "b" {
			t.Errorf("kept file's bytes = %q, want %q", data, "b")
		}
	})

	t.Run("empty array clears the field", func(t *testing.T) {
		files, other := seed(t, "3")
		status, body := update(t, "3", map[string]any{"contracts": []any{}})
		if status != http.StatusOK {
			t.Fatalf("update: status %d %s", status, snippet(body))
		}
		rec := c.record(t, "101", "3", true)
		if got, _ := rec.files(t, "contracts"); len(got) != 0 {
			t.Errorf("contracts after clearing = %+v, want none", got)
		}
		if got, _ := rec.files(t, "attachments"); !reflect.DeepEqual(got, []ilFile{other}) {
			t.Errorf("attachments = %+v, want only %+v", got, other)
		}
		status, body = c.post(t, "101", "3", "files/get", map[string]any{"field_id": "contracts", "path": files[0].Path})
		wantILError(t, "files/get after clearing", status, body, 400, "")
	})

	t.Run("other record data is kept", func(t *testing.T) {
		files, _ := seed(t, "4")
		status, body := update(t, "4", map[string]any{"title": "Q3 contract", "amount": 12.5, "contracts": files[:1]})
		if status != http.StatusOK {
			t.Fatalf("update: status %d %s", status, snippet(body))
		}
		rec := c.record(t, "101", "4", true)
		if got := string(rec.Data["title"]); got != `"Q3 contract"` {
			t.Errorf("data.title = %s, want \"Q3 contract\"", got)
		}
		if got := string(rec.Data["amount"]); got != `12.5` {
			t.Errorf("data.amount = %s, want 12.5", got)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		files, _ := seed(t, "5")
		// a deleted file's path looks real but names nothing.
		gone := c.create(t, "101", "5", "scratch", "gone.txt", "", []byte("g"))[0]
		c.delete(t, "101", "5", "scratch", gone.Path)

		without := func(drop string) map[string]any {
			m := map[string]any{"name": files[0].Name, "path": files[0].Path, "type": files[0].Type, "size": files[0].Size, "host": files[0].Host}
			delete(m, drop)
			return m
		}
		cases := []struct {
			name string
			body any
		}{
			{"object without name", map[string]any{"data": map[string]any{"contracts": []any{without("name"), files[1]}}}},
			{"object without path", map[string]any{"data": map[string]any{"contracts": []any{files[1], without("path")}}}},
			{"object without type", map[string]any{"data": map[string]any{"contracts": []any{without("type")}}}},
			{"object without size", map[string]any{"data": map[string]any{"contracts": []any{without("size")}}}},
			{"object without host", map[string]any{"data": map[string]any{"contracts": []any{without("host")}}}},
			{"a deleted file's path", map[string]any{"data": map[string]any{"contracts": []any{files[0], gone}}}},
			{"an invented path", map[string]any{"data": map[string]any{"contracts": []any{files[0], ilFile{"x.pdf", "/uploads/0123456789abcdef0-x.pdf", "application/pdf", 1, "h"}}}}},
			{"a path that is not an id", map[string]any{"data": map[string]any{"contracts": []any{ilFile{"x.pdf", "x.pdf", "application/pdf", 1, "h"}}}}},
			{"no data", map[string]any{"contracts": files}},
			{"data not an object", map[string]any{"data": []any{files}}},
			{"broken JSON", `{"data": {"contracts": [`},
		}
		for _, tc := range cases {
			status, body := c.post(t, "101", "5", "update", tc.body)
			wantILError(t, "update with "+tc.name, status, body, 400, "")
		}
		// files/create answers the whole field: unchanged, then probe.txt.
		if got := c.create(t, "101", "5", "contracts", "probe.txt", "", []byte("p")); len(got) != 4 || !reflect.DeepEqual(got[:3], files) {
			t.Errorf("contracts after refused updates = %v, want unchanged %v then probe.txt", pathsOf(got), pathsOf(files))
		}
	})
}

func TestInfoLobbyBadRequests(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := il{gw, gw.key(t, "writer")}
	kept := c.create(t, "101", "42", "attachments", "kept.txt", "", []byte("kept"))[0]
	b64 := base64.StdEncoding.EncodeToString([]byte("payload"))

	// "new" is a record nothing was ever written to: a refused create must
	// not bring it into being.
	cases := []struct {
		name, record, op string
		body             any
		msg              string
	}{
		{"create without field_id", "new", "files/create", map[string]any{"name": "x.txt", "data": b64}, "field_id"},
		{"create without name", "new", "files/create", map[string]any{"field_id": "attachments", "data": b64}, "name"},
		{"create without data", "new", "files/create", map[string]any{"field_id": "attachments", "name": "x.txt"}, "data"},
		{"create with empty name", "new", "files/create", map[string]any{"field_id": "attachments", "name": "", "data": b64}, ""},
		{"create with null data", "new", "files/create", map[string]any{"field_id": "attachments", "name": "x.txt", "data": nil}, ""},
		{"create with data not base64", "new", "files/create", map[string]any{"field_id": "attachments", "name": "x.txt", "data": "!!!!"}, "base64"},
		{"create with data partly base64", "new", "files/create", map[string]any{"field_id": "attachments", "name": "x.txt", "data": b64 + "*"}, "base64"},
		{"create with data a number", "new", "files/create", map[string]any{"field_id": "attachments", "name": "x.txt", "data": 12345}, ""},
		{"create with broken JSON", "new", "files/create", `{"field_id":"attachments","name":"x.txt","data":"` + b64 + `"`, ""},
		{"create with a body that is not JSON", "new", "files/create", `field_id=attachments&name=x.txt`, ""},
		{"create with a JSON array", "new", "files/create", `[{"field_id":"attachments","name":"x.txt","data":"` + b64 + `"}]`, ""},
		{"create with an empty body", "new", "files/create", ``, ""},
		{"create with name ..", "new", "files/create", map[string]any{"field_id": "attachments", "name": "..", "data": b64}, ""},
		{"create with name ../x", "new", "files/create", map[string]any{"field_id": "attachments", "name": "../evil.txt", "data": b64}, ""},
		{"create with name ../../x", "new", "files/create", map[string]any{"field_id": "attachments", "name": "../../evil.txt", "data": b64}, ""},
		{"create with name a/b", "new", "files/create", map[string]any{"field_id": "attachments", "name": "dir/evil.txt", "data": b64}, ""},
		{"create with an absolute name", "new", "files/create", map[string]any{"field_id": "attachments", "name": "/etc/evil", "data": b64}, ""},
		{"create with name ..\\x", "new", "files/create", map[string]any{"field_id": "attachments", "name": `..\evil.txt`, "data": b64}, ""},
		{"create with name containing NUL", "new", "files/create", map[string]any{"field_id": "attachments", "name": "a\x00b.txt", "data": b64}, ""},
		{"create with name containing \\x01", "new", "files/create", map[string]any{"field_id": "attachments", "name": "a\x01b.txt", "data": b64}, ""},
		{"create with name containing a newline", "new", "files/create", map[string]any{"field_id": "attachments", "name": "a\nb.txt", "data": b64}, ""},
		{"create with name containing DEL", "new", "files/create", map[string]any{"field_id": "attachments", "name": "a\x7fb.txt", "data": b64}, ""},
		{"create with field_id ..", "new", "files/create", map[string]any{"field_id": "..", "name": "x.txt", "data": b64}, ""},
		{"create with field_id ../x", "new", "files/create", map[string]any{"field_id": "../x", "name": "x.txt", "data": b64}, ""},
		{"delete without field_id", "42", "files/delete", map[string]any{"path": kept.Path}, "field_id"},
		{"delete without path", "42", "files/delete", map[string]any{"field_id": "attachments"}, "path"},
		{"delete with broken JSON", "42", "files/delete", `{"field_id":"attachments","path":`, ""},
		{"delete in an unknown record", "999", "files/delete", map[string]any{"field_id": "attachments", "path": kept.Path}, ""},
		{"get without field_id", "42", "files/get", map[string]any{"path": kept.Path}, "field_id"},
		{"get without path", "42", "files/get", map[string]any{"field_id": "attachments"}, "path"},
		{"get with broken JSON", "42", "files/get", `{`, ""},
		{"get in an unknown record", "999", "files/get", map[string]any{"field_id": "attachments", "path": kept.Path}, ""},
	}
	for _, tc := range cases {
		status, body := c.post(t, "101", tc.record, tc.op, tc.body)
		wantILError(t, tc.name, status, body, 400, tc.msg)
	}

	for _, r := range []string{"new", "999"} {
		status, _, body := do(t, http.MethodGet, c.url("101", r, "get"), bearer(c.key), nil)
		wantILError(t, "record get of "+r+" after refused requests", status, body, 400, "")
	}
	if got := c.fieldFiles(t, "101", "42", "attachments"); !reflect.DeepEqual(got, []ilFile{kept}) {
		t.Errorf("record 42 after refused requests: %+v, want only %+v", got, kept)
	}
	if extra := outsideData(t, gw); len(extra) > 0 {
		t.Errorf("files appeared outside the data dir: %v", extra)
	}
}

func TestInfoLobbyAuth(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "writer")
	c := il{gw, key}
	kept := c.create(t, "101", "42", "attachments", "kept.txt", "", []byte("kept"))[0]
	b64 := base64.StdEncoding.EncodeToString([]byte("payload"))

	creds := []struct {
		name  string
		value string // "" sends no Authorization header
	}{
		{"no Authorization", ""},
		{"a wrong key", "Bearer dgk_not_a_real_key"},
		{"the key without Bearer", key},
		{"Basic instead of Bearer", "Basic " + key},
		{"Bearer without a key", "Bearer "},
		{"the key with a suffix", "Bearer " + key + "x"},
		{"a wrong key without Bearer", "nope"},
	}
	calls := []struct {
		method, op string
		body       any
	}{
		{http.MethodPost, "files/create", map[string]any{"field_id": "attachments", "name": "x.txt", "data": b64}},
		{http.MethodPost, "files/delete", map[string]any{"field_id": "attachments", "path": kept.Path}},
		{http.MethodPost, "files/get", map[string]any{"field_id": "attachments", "path": kept.Path}},
		{http.MethodGet, "get", nil},
		{http.MethodPost, "update", map[string]any{"data": map[string]any{"attachments": []any{}}}},
	}
	for _, cr := range creds {
		for _, call := range calls {
			h := hdr{"Content-Type": "application/json"}
			if cr.value != "" {
				h["Authorization"] = cr.value
			}
			var body []byte
			if call.body != nil {
				body = jsonBody(t, call.body)
			}
			status, _, got := do(t, call.method, c.url("101", "42", call.op), h, body)
			wantILError(t, call.op+" with "+cr.name, status, got, 401, "")
			if bytes.Contains(got, []byte(key)) {
				t.Errorf("%s with %s: the error echoes the key", call.op, cr.name)
			}
		}
	}
	if got := c.fieldFiles(t, "101", "42", "attachments"); !reflect.DeepEqual(got, []ilFile{kept}) {
		t.Errorf("after unauthorised calls: %+v, want only %+v", got, kept)
	}
}

func TestInfoLobbyReadOnlyKey(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := il{gw, gw.key(t, "writer")}
	ro := il{gw, gw.key(t, "auditor", "--read-only")}
	kept := c.create(t, "101", "42", "attachments", "kept.txt", "", []byte("kept"))[0]

	status, body := ro.post(t, "101", "42", "files/create", map[string]any{"field_id": "attachments", "name": "x.txt", "data": "eA=="})
	wantILError(t, "read-only create", status, body, 403, "")
	status, body = ro.post(t, "101", "new", "files/create", map[string]any{"field_id": "attachments", "name": "x.txt", "data": "eA=="})
	wantILError(t, "read-only create in a new record", status, body, 403, "")
	status, body = ro.post(t, "101", "42", "files/delete", map[string]any{"field_id": "attachments", "path": kept.Path})
	wantILError(t, "read-only delete", status, body, 403, "")
	status, body = ro.post(t, "101", "42", "update", map[string]any{"data": map[string]any{"attachments": []any{}}})
	wantILError(t, "read-only update", status, body, 403, "")

	// Reading works.
	if name, _, _, data := ro.get(t, "101", "42", "attachments", kept.Path); name != "kept.txt" || string(data) != "kept" {
		t.Errorf("read-only files/get: %q %q", name, data)
	}
	if got := ro.fieldFiles(t, "101", "42", "attachments"); !reflect.DeepEqual(got, []ilFile{kept}) {
		t.Errorf("read-only record get: %+v, want only %+v", got, kept)
	}
	status, _, body = do(t, http.MethodGet, c.url("101", "new", "get"), bearer(c.key), nil)
	wantILError(t, "record get of the record the read-only key tried to create", status, body, 400, "")
}

func TestInfoLobbyCollectionLimitedKey(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	admin := il{gw, gw.key(t, "admin")}
	sales := il{gw, gw.key(t, "sales", "--collections", "A")}
	inB := admin.create(t, "B", "1", "attachments", "b.txt", "", []byte("b"))[0]

	if got := sales.create(t, "A", "1", "attachments", "a.txt", "", []byte("a")); len(got) != 1 {
		t.Errorf("create in table A: %+v", got)
	}
	calls := []struct {
		method, op string
		body       any
	}{
		{http.MethodPost, "files/create", map[string]any{"field_id": "attachments", "name": "x.txt", "data": "eA=="}},
		{http.MethodPost, "files/delete", map[string]any{"field_id": "attachments", "path": inB.Path}},
		{http.MethodPost, "files/get", map[string]any{"field_id": "attachments", "path": inB.Path}},
		{http.MethodGet, "get", nil},
		{http.MethodPost, "update", map[string]any{"data": map[string]any{"attachments": []any{}}}},
	}
	for _, call := range calls {
		var body []byte
		if call.body != nil {
			body = jsonBody(t, call.body)
		}
		status, _, got := do(t, call.method, sales.url("B", "1", call.op), bearer(sales.key).with("Content-Type", "application/json"), body)
		wantILError(t, call.op+" in table B with a key limited to A", status, got, 403, "")
	}
	// B's path addressed through table A must not reach B's file either.
	for _, op := range []string{"files/get", "files/delete"} {
		status, body := sales.post(t, "A", "1", op, map[string]any{"field_id": "attachments", "path": inB.Path})
		if status == http.StatusOK {
			t.Errorf("%s of B's file through table A: 200 %s", op, snippet(body))
		}
	}
	if got := admin.fieldFiles(t, "B", "1", "attachments"); !reflect.DeepEqual(got, []ilFile{inB}) {
		t.Errorf("table B after the refused calls: %+v, want only %+v", got, inB)
	}
}

// b64Body streams {"field_id":..,"name":..,"data":"<base64 of n zero
// bytes>"} without holding it, and reports its exact length.
func b64Body(field, name string, n int64) (io.Reader, int64) {
	prefix := fmt.Sprintf(`{"field_id":%q,"name":%q,"data":"`, field, name)
	suffix := `"}`
	enc := base64.StdEncoding.EncodedLen(int(n))
	// Zero bytes encode as "A", with padding after a partial group.
	pad := 0
	switch n % 3 {
	case 1:
		pad = 2
	case 2:
		pad = 1
	}
	data := io.MultiReader(io.LimitReader(repeatReader('A'), int64(enc-pad)), strings.NewReader(strings.Repeat("=", pad)))
	return io.MultiReader(strings.NewReader(prefix), data, strings.NewReader(suffix)), int64(len(prefix) + enc + len(suffix))
}

type repeatReader byte

func (r repeatReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func TestInfoLobbyTooLarge(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := il{gw, gw.key(t, "writer")}
	bigClient := &http.Client{Timeout: 60 * time.Second}

	send := func(t *testing.T, name string, n int64, chunked bool) (int, []byte) {
		body, length := b64Body("big", name, n)
		req, err := http.NewRequest(http.MethodPost, c.url("101", "42", "files/create"), body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+c.key)
		req.Header.Set("Content-Type", "application/json")
		if !chunked {
			req.ContentLength = length
		} else {
			req.ContentLength = -1 // Transfer-Encoding: chunked
		}
		resp, err := bigClient.Do(req)
		if err != nil {
			t.Fatalf("%s (%d bytes decoded): the client got no answer: %v", name, n, err)
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s: read answer: %v", name, err)
		}
		return resp.StatusCode, got
	}

	t.Run("exactly 10 MiB is accepted", func(t *testing.T) {
		status, body := send(t, "exact.bin", tenMiB, false)
		if status != http.StatusOK {
			t.Fatalf("create of exactly 10 MiB: status %d %s, want 200", status, snippet(body))
		}
		files := decodeFieldAnswer(t, body, "big")
		if len(files) != 1 || files[0].Name != "exact.bin" || files[0].Size != tenMiB {
			t.Fatalf("create of exactly 10 MiB: %+v", files)
		}
		_, _, size, data := c.get(t, "101", "42", "big", files[0].Path)
		if size != tenMiB || !bytes.Equal(data, make([]byte, tenMiB)) {
			t.Errorf("files/get of the 10 MiB file: size %d, %d bytes back", size, len(data))
		}
	})

	// Whether a client sees the 413 or a reset depends on timing when the
	// server stops reading early, so the large bodies are sent a few times.
	over := []struct {
		name     string
		n        int64
		chunked  bool
		attempts int
	}{
		{"one byte over 10 MiB", tenMiB + 1, false, 1},
		{"one byte over 10 MiB, chunked", tenMiB + 1, true, 1},
		{"20 MiB", 20 << 20, false, 1},
		{"20 MiB, chunked", 20 << 20, true, 1},
		{"64 MiB", 64 << 20, false, 3},
		{"64 MiB, chunked", 64 << 20, true, 3},
		{"128 MiB", 128 << 20, false, 3},
	}
	for i, tc := range over {
		t.Run(tc.name, func(t *testing.T) {
			for a := 0; a < tc.attempts; a++ {
				status, body := send(t, fmt.Sprintf("over-%d.bin", i), tc.n, tc.chunked)
				wantILError(t, tc.name, status, body, http.StatusRequestEntityTooLarge, "")
			}
		})
	}

	// Nothing over the cap was stored.
	status, body := c.post(t, "101", "42", "files/create", map[string]any{"field_id": "big", "name": "small.txt", "data": "eA=="})
	if status != http.StatusOK {
		t.Fatalf("create after the refused uploads: %d %s", status, snippet(body))
	}
	for _, f := range decodeFieldAnswer(t, body, "big") {
		if strings.HasPrefix(f.Name, "over-") {
			t.Errorf("a refused upload is listed: %+v", f)
		}
	}
}

func TestInfoLobbyRateLimit(t *testing.T) {
	t.Parallel()
	gw := startGateway(t, "--rate-limit", "1", "--rate-burst", "2")
	seeder := il{gw, gw.key(t, "seeder")}
	seeder.create(t, "101", "42", "attachments", "a.txt", "", []byte("a"))
	k1 := il{gw, gw.key(t, "busy")}
	k2 := il{gw, gw.key(t, "quiet")}

	// Three requests well within a second: the burst of two, then 429.
	start := time.Now()
	var statuses []int
	var last []byte
	for i := 0; i < 3; i++ {
		status, _, body := do(t, http.MethodGet, k1.url("101", "42", "get"), bearer(k1.key), nil)
		statuses, last = append(statuses, status), body
	}
	if statuses[0] != http.StatusOK || statuses[1] != http.StatusOK {
		t.Errorf("first two requests: %v, want 200 200", statuses[:2])
	}
	wantILError(t, "third quick request", statuses[2], last, http.StatusTooManyRequests, "")

	// Another key has its own bucket.
	status, _, body := do(t, http.MethodGet, k2.url("101", "42", "get"), bearer(k2.key), nil)
	if status != http.StatusOK {
		t.Errorf("another key after the first was limited: %d %s, want 200", status, snippet(body))
	}
	// A limited create writes nothing. (The bucket refills one token a
	// second; on a machine so loaded that a second has passed, skip.)
	if time.Since(start) > 800*time.Millisecond {
		t.Skip("too slow to still be inside the rate-limit window")
	}
	status, body = k1.post(t, "101", "42", "files/create", map[string]any{"field_id": "attachments", "name": "limited.txt", "data": "eA=="})
	wantILError(t, "create while limited", status, body, http.StatusTooManyRequests, "")
	// Nimblex shares the key's bucket and answers 429 in its own shape.
	status, _, body = do(t, http.MethodGet, gw.url("/jsonapi/records/101/42/attachments"), bearer(k1.key), nil)
	wantEmpty(t, "nimblex list while limited", status, body, http.StatusTooManyRequests)
	files := k2.fieldFiles(t, "101", "42", "attachments")
	for _, f := range files {
		if f.Name == "limited.txt" {
			t.Errorf("a rate-limited create was stored: %+v", f)
		}
	}
}

// outsideData lists files under the gateway's root directory (its working
// directory, the parent of --data) that are not inside the data dir.
func outsideData(t testing.TB, gw *gateway) []string {
	t.Helper()
	var out []string
	for p := range listFiles(t, gw.root) {
		if !strings.HasPrefix(p, "data/") {
			out = append(out, p)
		}
	}
	return out
}

// A record update may only arrange the record's own files: a path taken
// from another record (or a table the key may not touch) is refused and
// the file stays where it was.
func TestInfoLobbyRecordUpdateCannotTakeOtherRecordsFiles(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	admin := il{gw, gw.key(t, "admin")}
	sales := il{gw, gw.key(t, "sales", "--collections", "A")}
	secret := admin.create(t, "B", "1", "secret", "s.txt", "text/plain", []byte("secret"))[0]
	other := admin.create(t, "A", "2", "attachments", "o.txt", "text/plain", []byte("other record"))[0]
	sales.create(t, "A", "1", "attachments", "mine.txt", "text/plain", []byte("mine"))

	cases := []struct {
		name  string
		c     il
		file  ilFile
		from  [2]string // the table and record the file belongs to
		field string    // and its field there
	}{
		{"a key limited to A takes a file of table B", sales, secret, [2]string{"B", "1"}, "secret"},
		{"a file of another record of the same table", admin, other, [2]string{"A", "2"}, "attachments"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := tc.c.post(t, "A", "1", "update", map[string]any{"data": map[string]any{"loot": []ilFile{tc.file}}})
			if status != http.StatusBadRequest && status != http.StatusForbidden {
				t.Errorf("update of A/1 with %s's path %s: status %d %s, want 400 or 403", tc.from, tc.file.Path, status, snippet(body))
			}
			status, body = tc.c.post(t, "A", "1", "files/get", map[string]any{"field_id": "loot", "path": tc.file.Path})
			if status == http.StatusOK {
				t.Errorf("the file of %s is now readable through A/1: %s", tc.from, snippet(body))
			}
			if got := admin.fieldFiles(t, tc.from[0], tc.from[1], tc.field); !reflect.DeepEqual(got, []ilFile{tc.file}) {
				t.Errorf("%s after the update: %+v, want its file %+v still there", tc.from, got, tc.file)
			}
		})
	}
}
