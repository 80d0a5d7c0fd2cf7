package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// EspoCRM (seed 001 and ARCHITECTURE's facts): POST Attachment with a
// data-URI file, GET Attachment/file/{id} for the bytes, record calls whose
// <field>Id / <field>Ids attributes link attachments, chunked uploads, and
// errors that are a bare status with the reason in X-Status-Reason.

// espoID is EspoCRM's default id: 17 lowercase hex characters.
var espoID = regexp.MustCompile(`^[0-9a-f]{17}$`)

// espoStatuses are the only statuses EspoCRM answers an error with.
var espoStatuses = map[int]bool{400: true, 401: true, 403: true, 404: true, 409: true, 500: true, 503: true}

// espo is an EspoCRM client holding one key.
type espo struct {
	gw  *gateway
	key string
}

func (c espo) url(path string) string { return c.gw.url("/api/v1/" + path) }

func (c espo) headers() hdr {
	return hdr{"X-Api-Key": c.key, "Content-Type": "application/json"}
}

// call sends a JSON body (a string or []byte as is, anything else
// marshalled; nil: no body).
func (c espo) call(t testing.TB, method, path string, body any) (int, http.Header, []byte) {
	t.Helper()
	var b []byte
	if body != nil {
		b = jsonBody(t, body)
	}
	return do(t, method, c.url(path), c.headers(), b)
}

// espoAttachment is the attachment record POST Attachment answers.
type espoAttachment struct {
	ID              string  `json:"id"`
	Name            string  `json:"name"`
	Type            string  `json:"type"`
	Size            int64   `json:"size"`
	Role            string  `json:"role"`
	Field           string  `json:"field"`
	ParentType      *string `json:"parentType"`
	RelatedType     *string `json:"relatedType"`
	ParentID        *string `json:"parentId"`
	RelatedID       *string `json:"relatedId"`
	CreatedAt       string  `json:"createdAt"`
	IsBeingUploaded *bool   `json:"isBeingUploaded"`
}

func decodeEspoAttachment(t testing.TB, what string, body []byte) espoAttachment {
	t.Helper()
	var a espoAttachment
	if err := json.Unmarshal(body, &a); err != nil {
		t.Fatalf("%s: not a JSON object: %v: %s", what, err, snippet(body))
	}
	if !espoID.MatchString(a.ID) {
		t.Errorf("%s: id %q is not 17 lowercase hex characters", what, a.ID)
	}
	if a.Role != "Attachment" {
		t.Errorf("%s: role %q, want Attachment", what, a.Role)
	}
	if _, err := time.Parse(time.DateTime, a.CreatedAt); err != nil {
		t.Errorf("%s: createdAt %q is not EspoCRM's \"2006-01-02 15:04:05\": %v", what, a.CreatedAt, err)
	}
	return a
}

// dataURI is the seed's "data:<type>;base64,<contents>".
func dataURI(typ string, data []byte) string {
	return "data:" + typ + ";base64," + base64.StdEncoding.EncodeToString(data)
}

// fileFieldBody is the seed's File-field upload, exactly.
func fileFieldBody(name, typ string, data []byte) map[string]any {
	return map[string]any{"name": name, "type": typ, "role": "Attachment", "relatedType": "Document", "field": "file", "file": dataURI(typ, data)}
}

// multipleBody is the seed's Attachment-Multiple upload, exactly.
func multipleBody(name, typ string, data []byte) map[string]any {
	return map[string]any{"name": name, "type": typ, "role": "Attachment", "parentType": "Note", "field": "attachments", "file": dataURI(typ, data)}
}

// upload POSTs Attachment and insists on 200 with the attachment record.
func (c espo) upload(t testing.TB, body map[string]any) espoAttachment {
	t.Helper()
	status, _, got := c.call(t, http.MethodPost, "Attachment", body)
	if status != http.StatusOK {
		t.Fatalf("POST Attachment %v: status %d %s (%s), want 200", body["name"], status, snippet(got), got)
	}
	return decodeEspoAttachment(t, "POST Attachment", got)
}

// file downloads GET Attachment/file/{id}, which must answer 200.
func (c espo) file(t testing.TB, id string) (http.Header, []byte) {
	t.Helper()
	status, h, body := c.call(t, http.MethodGet, "Attachment/file/"+id, nil)
	if status != http.StatusOK {
		t.Fatalf("GET Attachment/file/%s: status %d (%s), want 200", id, status, h.Get("X-Status-Reason"))
	}
	return h, body
}

// record sends a record call and insists on 200 with a JSON object.
func (c espo) record(t testing.TB, method, path string, body any) map[string]any {
	t.Helper()
	status, h, got := c.call(t, method, path, body)
	if status != http.StatusOK {
		t.Fatalf("%s %s: status %d (%s) %s, want 200", method, path, status, h.Get("X-Status-Reason"), snippet(got))
	}
	var rec map[string]any
	if err := json.Unmarshal(got, &rec); err != nil {
		t.Fatalf("%s %s: not a JSON object: %s", method, path, snippet(got))
	}
	return rec
}

// linkIDs reads a record's <field>Ids as strings (nil when absent).
func linkIDs(rec map[string]any, field string) []string {
	raw, ok := rec[field+"Ids"].([]any)
	if !ok {
		return nil
	}
	out := []string{}
	for _, v := range raw {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// wantEspoError checks EspoCRM's error: the status (one EspoCRM uses), an
// EMPTY body and a reason in X-Status-Reason.
func wantEspoError(t testing.TB, what string, status int, h http.Header, body []byte, want int) {
	t.Helper()
	if status/100 == 2 {
		t.Errorf("%s: status %d %s, want %d", what, status, snippet(body), want)
		return
	}
	if !espoStatuses[status] {
		t.Errorf("%s: status %d is not one EspoCRM answers", what, status)
	}
	if status != want {
		t.Errorf("%s: status %d (%s) %s, want %d", what, status, h.Get("X-Status-Reason"), snippet(body), want)
	}
	if len(body) != 0 {
		t.Errorf("%s: body %s, want an empty body", what, snippet(body))
	}
	if h.Get("X-Status-Reason") == "" {
		t.Errorf("%s: no X-Status-Reason", what)
	}
}

func TestEspoCRMUploadShapes(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := espo{gw, gw.key(t, "writer")}
	csv := []byte("a,b\n1,2\n")

	cases := []struct {
		name      string
		body      map[string]any
		wantType  string
		wantData  []byte
		wantField string
		wantParty string // parentType and relatedType
	}{
		{"File field, as the seed", fileFieldBody("test.txt", "text/plain", []byte("FILE CONTENTS")), "text/plain", []byte("FILE CONTENTS"), "file", "Document"},
		{"Attachment-Multiple field, as the seed", multipleBody("test.txt", "text/plain", []byte("FILE CONTENTS")), "text/plain", []byte("FILE CONTENTS"), "attachments", "Note"},
		{"binary bytes", fileFieldBody("logo.png", "image/png", pngBytes), "image/png", pngBytes, "file", "Document"},
		{"no type attribute: the data URI's type", map[string]any{"name": "t.csv", "role": "Attachment", "relatedType": "Document", "field": "file", "file": dataURI("text/csv", csv)}, "text/csv", csv, "file", "Document"},
		{"parentId is ignored", func() map[string]any {
			b := multipleBody("p.txt", "text/plain", []byte("p"))
			b["parentId"] = "0123456789abcdef0"
			return b
		}(), "text/plain", []byte("p"), "attachments", "Note"},
		{"an empty file", fileFieldBody("empty.txt", "text/plain", nil), "text/plain", []byte{}, "file", "Document"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := c.upload(t, tc.body)
			if a.Name != tc.body["name"] || a.Type != tc.wantType || a.Size != int64(len(tc.wantData)) || a.Field != tc.wantField {
				t.Errorf("answer %+v, want name %v type %q size %d field %q", a, tc.body["name"], tc.wantType, len(tc.wantData), tc.wantField)
			}
			if a.ParentType == nil || *a.ParentType != tc.wantParty || a.RelatedType == nil || *a.RelatedType != tc.wantParty {
				t.Errorf("answer parentType %v relatedType %v, want %q", deref(a.ParentType), deref(a.RelatedType), tc.wantParty)
			}
			if a.ParentID != nil || a.RelatedID != nil {
				t.Errorf("an upload without relatedId answers parentId %v relatedId %v, want null", deref(a.ParentID), deref(a.RelatedID))
			}
			status, _, body := c.call(t, http.MethodGet, "Attachment/"+a.ID, nil)
			if status != http.StatusOK || !reflect.DeepEqual(decodeEspoAttachment(t, "GET Attachment", body), a) {
				t.Errorf("GET Attachment/%s: %d %s, want the upload's answer %+v", a.ID, status, snippet(body), a)
			}
			h, data := c.file(t, a.ID)
			if !bytes.Equal(data, tc.wantData) {
				t.Errorf("file: %d bytes %s, want %d", len(data), snippet(data), len(tc.wantData))
			}
			if ct := h.Get("Content-Type"); ct != tc.wantType {
				t.Errorf("file Content-Type %q, want %q", ct, tc.wantType)
			}
			if cl := h.Get("Content-Length"); cl != fmt.Sprint(len(tc.wantData)) {
				t.Errorf("file Content-Length %q, want %d", cl, len(tc.wantData))
			}
		})
	}
}

func deref(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func TestEspoCRMFileFieldDocument(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := espo{gw, gw.key(t, "writer")}
	first := c.upload(t, fileFieldBody("test.txt", "text/plain", []byte("first")))

	// An id that looks like EspoCRM's but names no attachment is data.
	const userID = "5f1e2d3c4b5a69788"
	doc := c.record(t, http.MethodPost, "Document", map[string]any{
		"name": "document-name", "fileId": first.ID,
		"assignedUserId": userID, "teamsIds": []string{"6a7b8c9d0e1f23456"},
		"description": "kept as it is", "amount": 12.5, "flags": map[string]any{"a": true},
	})
	docID, _ := doc["id"].(string)
	if !espoID.MatchString(docID) {
		t.Fatalf("POST Document id %v: want 17 hex", doc["id"])
	}
	wantDoc := func(what string, rec map[string]any, fileID, fileName, description string) {
		t.Helper()
		if rec["id"] != docID || rec["fileId"] != fileID || rec["fileName"] != fileName {
			t.Errorf("%s: id %v fileId %v fileName %v, want %s %s %s", what, rec["id"], rec["fileId"], rec["fileName"], docID, fileID, fileName)
		}
		if ids := linkIDs(rec, "file"); ids != nil && !slices.Equal(ids, []string{fileID}) {
			t.Errorf("%s: fileIds %v, want [%s]", what, ids, fileID)
		}
		want := map[string]any{"name": "document-name", "assignedUserId": userID, "teamsIds": []any{"6a7b8c9d0e1f23456"},
			"description": description, "amount": 12.5, "flags": map[string]any{"a": true}}
		for k, v := range want {
			if !reflect.DeepEqual(rec[k], v) {
				t.Errorf("%s: %s = %#v, want %#v kept as data", what, k, rec[k], v)
			}
		}
		for _, k := range []string{"assignedUserIds", "assignedUserName", "teamsNames"} {
			if _, ok := rec[k]; ok {
				t.Errorf("%s: %s = %v: a data attribute became a file field", what, k, rec[k])
			}
		}
	}
	wantDoc("POST Document", doc, first.ID, "test.txt", "kept as it is")
	wantDoc("GET Document", c.record(t, http.MethodGet, "Document/"+docID, nil), first.ID, "test.txt", "kept as it is")

	// The seed's update: PUT Document/{id} {"fileId": ...} replaces the file.
	second := c.upload(t, fileFieldBody("second.txt", "text/plain", []byte("second")))
	wantDoc("PUT Document fileId", c.record(t, http.MethodPut, "Document/"+docID, map[string]any{"fileId": second.ID}), second.ID, "second.txt", "kept as it is")
	status, h, body := c.call(t, http.MethodGet, "Attachment/file/"+first.ID, nil)
	wantEspoError(t, "the replaced file", status, h, body, http.StatusNotFound)
	if _, data := c.file(t, second.ID); string(data) != "second" {
		t.Errorf("the new file: %q", data)
	}

	// A PUT of other attributes leaves the file alone.
	wantDoc("PUT Document description", c.record(t, http.MethodPut, "Document/"+docID, map[string]any{"description": "changed"}), second.ID, "second.txt", "changed")
	wantDoc("GET Document after the PUTs", c.record(t, http.MethodGet, "Document/"+docID, nil), second.ID, "second.txt", "changed")
}

func TestEspoCRMAttachmentMultipleNote(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := espo{gw, gw.key(t, "writer")}
	a := c.upload(t, multipleBody("a.txt", "text/plain", []byte("alpha")))
	b := c.upload(t, multipleBody("b.png", "image/png", pngBytes))

	note := c.record(t, http.MethodPost, "Note", map[string]any{"post": "Some text", "type": "Post", "attachmentsIds": []string{a.ID, b.ID}})
	noteID, _ := note["id"].(string)
	if !espoID.MatchString(noteID) {
		t.Fatalf("POST Note id %v: want 17 hex", note["id"])
	}
	wantNote := func(what string, rec map[string]any, ids []string, names map[string]any) {
		t.Helper()
		if got := linkIDs(rec, "attachments"); !slices.Equal(got, ids) {
			t.Errorf("%s: attachmentsIds %v, want %v", what, got, ids)
		}
		if got, _ := rec["attachmentsNames"].(map[string]any); !reflect.DeepEqual(got, names) {
			t.Errorf("%s: attachmentsNames %v, want %v", what, rec["attachmentsNames"], names)
		}
		if rec["post"] != "Some text" || rec["type"] != "Post" || rec["id"] != noteID {
			t.Errorf("%s: post %v type %v id %v, want the note's attributes kept", what, rec["post"], rec["type"], rec["id"])
		}
	}
	both := map[string]any{a.ID: "a.txt", b.ID: "b.png"}
	wantNote("POST Note", note, []string{a.ID, b.ID}, both)
	wantNote("GET Note", c.record(t, http.MethodGet, "Note/"+noteID, nil), []string{a.ID, b.ID}, both)

	// An Ids list replaces the whole list: a is unlinked, and gone.
	onlyB := map[string]any{b.ID: "b.png"}
	wantNote("PUT Note with only b", c.record(t, http.MethodPut, "Note/"+noteID, map[string]any{"attachmentsIds": []string{b.ID}}), []string{b.ID}, onlyB)
	wantNote("GET Note after the PUT", c.record(t, http.MethodGet, "Note/"+noteID, nil), []string{b.ID}, onlyB)
	for _, path := range []string{"Attachment/file/" + a.ID, "Attachment/" + a.ID} {
		status, h, body := c.call(t, http.MethodGet, path, nil)
		wantEspoError(t, "GET "+path+" of the unlinked attachment", status, h, body, http.StatusNotFound)
	}
	if _, data := c.file(t, b.ID); !bytes.Equal(data, pngBytes) {
		t.Errorf("b after the PUT: %d bytes, want the png", len(data))
	}

	// Adding one: the existing ids plus the new one, as the seed's note says.
	d := c.upload(t, multipleBody("d.txt", "text/plain", []byte("delta")))
	wantNote("PUT Note adding d", c.record(t, http.MethodPut, "Note/"+noteID, map[string]any{"attachmentsIds": []string{b.ID, d.ID}}),
		[]string{b.ID, d.ID}, map[string]any{b.ID: "b.png", d.ID: "d.txt"})
	// Reordering keeps both.
	wantNote("PUT Note reordered", c.record(t, http.MethodPut, "Note/"+noteID, map[string]any{"attachmentsIds": []string{d.ID, b.ID}}),
		[]string{d.ID, b.ID}, map[string]any{b.ID: "b.png", d.ID: "d.txt"})
	// An empty list unlinks everything.
	rec := c.record(t, http.MethodPut, "Note/"+noteID, map[string]any{"attachmentsIds": []string{}})
	if ids := linkIDs(rec, "attachments"); len(ids) != 0 {
		t.Errorf("PUT Note with attachmentsIds []: %v, want none", ids)
	}
	for _, id := range []string{b.ID, d.ID} {
		status, h, body := c.call(t, http.MethodGet, "Attachment/file/"+id, nil)
		wantEspoError(t, "file unlinked by an empty list", status, h, body, http.StatusNotFound)
	}
}

// chunkBody is one chunk as EspoCRM's client sends it: the raw text body
// "data:<type>;base64,<chunk>".
func chunkBody(data []byte) []byte {
	return []byte(dataURI("application/octet-stream", data))
}

func TestEspoCRMChunkedUpload(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := espo{gw, gw.key(t, "writer")}

	start := func(t *testing.T, name string, size int) espoAttachment {
		t.Helper()
		return c.upload(t, map[string]any{"name": name, "type": "application/octet-stream", "role": "Attachment",
			"relatedType": "Document", "field": "file", "isBeingUploaded": true, "size": size})
	}
	sendChunk := func(t *testing.T, id string, body []byte) (int, http.Header, []byte) {
		t.Helper()
		return do(t, http.MethodPost, c.url("Attachment/chunk/"+id), hdr{"X-Api-Key": c.key, "Content-Type": "text/plain"}, body)
	}

	plans := []struct {
		name   string
		chunks []int
	}{
		{"one chunk", []int{10}},
		{"two chunks", []int{5, 5}},
		{"uneven chunks", []int{1, 2, 3, 4, 1000, 7}},
		{"1 MiB chunks", []int{1 << 20, 1 << 20, 1<<20 + 17}},
		{"one 4 MiB chunk", []int{4 << 20}},
	}
	for _, p := range plans {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			total := 0
			for _, n := range p.chunks {
				total += n
			}
			data := randomBytes(t, total)
			a := start(t, "chunked.bin", total)
			status, h, body := c.call(t, http.MethodGet, "Attachment/file/"+a.ID, nil)
			wantEspoError(t, "file before any chunk", status, h, body, http.StatusNotFound)
			off := 0
			for i, n := range p.chunks {
				status, h, body := sendChunk(t, a.ID, chunkBody(data[off:off+n]))
				if status != http.StatusOK || strings.TrimSpace(string(body)) != "true" {
					t.Fatalf("chunk %d (%d bytes): status %d (%s) %s, want 200 true", i, n, status, h.Get("X-Status-Reason"), snippet(body))
				}
				off += n
				if off < total {
					status, h, body := c.call(t, http.MethodGet, "Attachment/file/"+a.ID, nil)
					wantEspoError(t, "file of an unfinished upload", status, h, body, http.StatusNotFound)
				}
			}
			h, got := c.file(t, a.ID)
			if !bytes.Equal(got, data) {
				t.Errorf("file after the chunks: %d bytes, want the %d sent, byte-identical", len(got), total)
			}
			if ct := h.Get("Content-Type"); ct != "application/octet-stream" {
				t.Errorf("file Content-Type %q", ct)
			}
			st, _, body := c.call(t, http.MethodGet, "Attachment/"+a.ID, nil)
			if st != http.StatusOK || decodeEspoAttachment(t, "GET Attachment", body).Size != int64(total) {
				t.Errorf("GET Attachment after the chunks: %d %s, want size %d", st, snippet(body), total)
			}
			status, h, body = sendChunk(t, a.ID, chunkBody([]byte("x")))
			wantEspoError(t, "a chunk after the upload is complete", status, h, body, http.StatusConflict)
		})
	}

	t.Run("a chunk past size is refused and appends nothing", func(t *testing.T) {
		t.Parallel()
		a := start(t, "past.bin", 10)
		if status, _, body := sendChunk(t, a.ID, chunkBody([]byte("01234"))); status != http.StatusOK {
			t.Fatalf("first chunk: %d %s", status, snippet(body))
		}
		status, h, body := sendChunk(t, a.ID, chunkBody([]byte("567890")))
		if status/100 == 2 {
			t.Fatalf("a chunk past size: status %d %s, want an error", status, snippet(body))
		}
		wantEspoError(t, "a chunk past size", status, h, body, http.StatusForbidden) // too large is 403, as EspoCRM's size limits
		if status, _, body := sendChunk(t, a.ID, chunkBody([]byte("56789"))); status != http.StatusOK {
			t.Fatalf("the right last chunk after the refused one: %d %s", status, snippet(body))
		}
		if _, got := c.file(t, a.ID); string(got) != "0123456789" {
			t.Errorf("file: %q, want 0123456789", got)
		}
	})

	t.Run("a chunk over 4 MiB is refused", func(t *testing.T) {
		t.Parallel()
		a := start(t, "huge.bin", 8<<20)
		status, h, body := sendChunk(t, a.ID, chunkBody(make([]byte, 4<<20+1)))
		wantEspoError(t, "a chunk of 4 MiB + 1", status, h, body, http.StatusForbidden)
	})

	t.Run("a chunk as a JSON string", func(t *testing.T) {
		t.Parallel()
		a := start(t, "json.bin", 3)
		body, _ := json.Marshal(string(chunkBody([]byte("abc"))))
		if status, _, got := sendChunk(t, a.ID, body); status != http.StatusOK || string(got) != "true" {
			t.Fatalf("JSON string chunk: %d %s", status, snippet(got))
		}
		if _, got := c.file(t, a.ID); string(got) != "abc" {
			t.Errorf("file %q", got)
		}
	})

	t.Run("bad chunks", func(t *testing.T) {
		t.Parallel()
		a := start(t, "bad.bin", 4)
		bad := []struct {
			name string
			body []byte
			want int
		}{
			{"not a data URI", []byte("aGVsbG8="), 400},
			{"broken base64", []byte("data:application/octet-stream;base64,!!!!"), 400},
			{"no comma", []byte("data:application/octet-stream;base64"), 400},
			{"empty body", []byte{}, 400},
		}
		for _, b := range bad {
			status, h, body := sendChunk(t, a.ID, b.body)
			wantEspoError(t, "chunk "+b.name, status, h, body, b.want)
		}
		if status, _, body := sendChunk(t, a.ID, chunkBody([]byte("good"))); status != http.StatusOK {
			t.Fatalf("a good chunk after the bad ones: %d %s", status, snippet(body))
		}
		if _, got := c.file(t, a.ID); string(got) != "good" {
			t.Errorf("file %q, want only the good chunk", got)
		}
		status, h, body := sendChunk(t, "0123456789abcdef0", chunkBody([]byte("x")))
		wantEspoError(t, "chunk to an unknown attachment", status, h, body, http.StatusNotFound)
	})

	t.Run("padding inside the base64 is refused however little room is left", func(t *testing.T) {
		t.Parallel()
		// "000=000=" is two quanta with padding between them: not base64.
		// It must be refused whether the placeholder has room for its
		// bytes or not.
		for _, size := range []int{100, 4} {
			a := start(t, "padded.bin", size)
			status, h, body := sendChunk(t, a.ID, []byte("data:;base64,000=000="))
			wantEspoError(t, fmt.Sprintf("chunk with padding mid-stream, %d bytes of room", size), status, h, body, http.StatusBadRequest)
			st, _, got := c.call(t, http.MethodGet, "Attachment/"+a.ID, nil)
			if st == http.StatusOK {
				if n := decodeEspoAttachment(t, "GET Attachment", got).Size; n != 0 {
					t.Errorf("placeholder of %d bytes after the refused chunk: size %d, want 0", size, n)
				}
			}
		}
	})

	t.Run("a chunked upload linked to a record", func(t *testing.T) {
		t.Parallel()
		a := c.upload(t, map[string]any{"name": "big.pdf", "type": "application/pdf", "role": "Attachment",
			"parentType": "Note", "field": "attachments", "isBeingUploaded": true, "size": len(pdfBytes)})
		if status, _, body := sendChunk(t, a.ID, []byte(dataURI("application/pdf", pdfBytes))); status != http.StatusOK {
			t.Fatalf("chunk: %d %s", status, snippet(body))
		}
		note := c.record(t, http.MethodPost, "Note", map[string]any{"post": "with a big file", "type": "Post", "attachmentsIds": []string{a.ID}})
		if ids := linkIDs(note, "attachments"); !slices.Equal(ids, []string{a.ID}) {
			t.Errorf("POST Note: attachmentsIds %v", ids)
		}
		if h, got := c.file(t, a.ID); !bytes.Equal(got, pdfBytes) || h.Get("Content-Type") != "application/pdf" {
			t.Errorf("file: %d bytes %s", len(got), h.Get("Content-Type"))
		}
	})
}

func TestEspoCRMErrors(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	c := espo{gw, gw.key(t, "writer")}
	ro := espo{gw, gw.key(t, "auditor", "--read-only")}
	a := c.upload(t, multipleBody("a.txt", "text/plain", []byte("a")))
	partial := c.upload(t, map[string]any{"name": "p.bin", "relatedType": "Document", "field": "file", "isBeingUploaded": true, "size": 4})
	note := c.record(t, http.MethodPost, "Note", map[string]any{"post": "p", "type": "Post", "attachmentsIds": []string{a.ID}})
	noteID := note["id"].(string)
	const unknown = "0123456789abcdef0"
	good := fileFieldBody("x.txt", "text/plain", []byte("x"))
	without := func(k string) map[string]any {
		b := fileFieldBody("x.txt", "text/plain", []byte("x"))
		delete(b, k)
		return b
	}
	with := func(k string, v any) map[string]any {
		b := fileFieldBody("x.txt", "text/plain", []byte("x"))
		b[k] = v
		return b
	}
	jsonH := func(key string) hdr {
		h := hdr{"Content-Type": "application/json"}
		if key != "" {
			h["X-Api-Key"] = key
		}
		return h
	}

	cases := []struct {
		name         string
		method, path string
		key          string // "" sends none
		body         any
		want         int
	}{
		{"POST Attachment without a key", http.MethodPost, "Attachment", "", good, 401},
		{"POST chunk without a key", http.MethodPost, "Attachment/chunk/" + partial.ID, "", "data:,x", 401},
		{"GET file without a key", http.MethodGet, "Attachment/file/" + a.ID, "", nil, 401},
		{"GET Attachment without a key", http.MethodGet, "Attachment/" + a.ID, "", nil, 401},
		{"POST Note without a key", http.MethodPost, "Note", "", map[string]any{"post": "x"}, 401},
		{"PUT Note without a key", http.MethodPut, "Note/" + noteID, "", map[string]any{"post": "x"}, 401},
		{"GET Note without a key", http.MethodGet, "Note/" + noteID, "", nil, 401},
		{"a wrong key", http.MethodGet, "Attachment/file/" + a.ID, "not-a-key", nil, 401},
		{"the key with Bearer", http.MethodGet, "Attachment/file/" + a.ID, "Bearer " + c.key, nil, 401},

		{"read-only POST Attachment", http.MethodPost, "Attachment", ro.key, good, 403},
		{"read-only chunk", http.MethodPost, "Attachment/chunk/" + partial.ID, ro.key, "data:,x", 403},
		{"read-only POST Note", http.MethodPost, "Note", ro.key, map[string]any{"post": "x"}, 403},
		{"read-only PUT Note", http.MethodPut, "Note/" + noteID, ro.key, map[string]any{"attachmentsIds": []string{}}, 403},

		{"GET file of an unknown attachment", http.MethodGet, "Attachment/file/" + unknown, c.key, nil, 404},
		{"GET file of a malformed id", http.MethodGet, "Attachment/file/xyz", c.key, nil, 404},
		{"GET file of a UUID", http.MethodGet, "Attachment/file/0b7e4c1a-3f2d-4e5a-9b8c-7d6e5f4a3b2c", c.key, nil, 404},
		{"GET Attachment of an unknown attachment", http.MethodGet, "Attachment/" + unknown, c.key, nil, 404},
		{"GET file of an unfinished chunked upload", http.MethodGet, "Attachment/file/" + partial.ID, c.key, nil, 404},
		{"PUT to an unknown record", http.MethodPut, "Note/" + unknown, c.key, map[string]any{"post": "x"}, 404},
		{"PUT to an unknown record with ids", http.MethodPut, "Note/" + unknown, c.key, map[string]any{"attachmentsIds": []string{a.ID}}, 404},
		{"GET an unknown record", http.MethodGet, "Note/" + unknown, c.key, nil, 404},
		{"GET a record of an unknown entity type", http.MethodGet, "Nothing/" + noteID, c.key, nil, 404},

		{"missing name", http.MethodPost, "Attachment", c.key, without("name"), 400},
		{"empty name", http.MethodPost, "Attachment", c.key, with("name", ""), 400},
		{"name ..", http.MethodPost, "Attachment", c.key, with("name", ".."), 400},
		{"name with a slash", http.MethodPost, "Attachment", c.key, with("name", "a/../b.txt"), 400},
		{"missing file", http.MethodPost, "Attachment", c.key, without("file"), 400},
		{"missing relatedType and parentType", http.MethodPost, "Attachment", c.key, without("relatedType"), 400},
		{"file not a data URI", http.MethodPost, "Attachment", c.key, with("file", "FILE_CONTENTS_ENCODED_WITH_BASE64"), 400},
		{"file with broken base64", http.MethodPost, "Attachment", c.key, with("file", "data:text/plain;base64,@@@@"), 400},
		{"file with a broken media type", http.MethodPost, "Attachment", c.key, with("file", "data:text/plain;;=;base64,eA=="), 400},
		{"file as a number", http.MethodPost, "Attachment", c.key, with("file", 12), 400},
		{"size not a number", http.MethodPost, "Attachment", c.key, map[string]any{"name": "p", "relatedType": "Document", "field": "file", "size": "big"}, 400},
		{"not JSON", http.MethodPost, "Attachment", c.key, "{not json", 400},
		{"a JSON array", http.MethodPost, "Attachment", c.key, "[1]", 400},
		{"POST Note not JSON", http.MethodPost, "Note", c.key, "{", 400},
	}
	// The group returns once its parallel cases have all run.
	t.Run("refused", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				var body []byte
				if tc.body != nil {
					body = jsonBody(t, tc.body)
				}
				status, h, got := do(t, tc.method, c.url(tc.path), jsonH(tc.key), body)
				wantEspoError(t, tc.name, status, h, got, tc.want)
				if strings.Contains(h.Get("X-Status-Reason"), c.key) || strings.Contains(h.Get("X-Status-Reason"), ro.key) {
					t.Errorf("X-Status-Reason echoes a key")
				}
			})
		}
	})

	t.Run("read-only reads", func(t *testing.T) {
		t.Parallel()
		status, _, body := do(t, http.MethodGet, c.url("Attachment/file/"+a.ID), jsonH(ro.key), nil)
		if status != http.StatusOK || string(body) != "a" {
			t.Errorf("read-only GET file: %d %s", status, snippet(body))
		}
		if status, _, body := do(t, http.MethodGet, c.url("Note/"+noteID), jsonH(ro.key), nil); status != http.StatusOK {
			t.Errorf("read-only GET Note: %d %s", status, snippet(body))
		}
	})

	t.Run("the refused calls changed nothing", func(t *testing.T) {
		rec := c.record(t, http.MethodGet, "Note/"+noteID, nil)
		if ids := linkIDs(rec, "attachments"); !slices.Equal(ids, []string{a.ID}) || rec["post"] != "p" {
			t.Errorf("note after the refused calls: %v", rec)
		}
	})
}

func TestEspoCRMUnlinkedAttachmentsExpire(t *testing.T) {
	t.Parallel()
	gw := startGateway(t, "--unlinked-ttl", "2s")
	c := espo{gw, gw.key(t, "writer")}
	unlinked := c.upload(t, multipleBody("orphan.txt", "text/plain", []byte("orphan")))
	related := c.upload(t, map[string]any{"name": "related.txt", "type": "text/plain", "role": "Attachment", "relatedType": "Document",
		"relatedId": "doc-1", "field": "file", "file": dataURI("text/plain", []byte("related"))})
	linked := c.upload(t, multipleBody("linked.txt", "text/plain", []byte("linked")))
	c.record(t, http.MethodPost, "Note", map[string]any{"post": "keeps it", "type": "Post", "attachmentsIds": []string{linked.ID}})
	if _, data := c.file(t, unlinked.ID); string(data) != "orphan" {
		t.Fatalf("the unlinked upload right away: %q", data)
	}

	// The sweeper runs every max(ttl/4, 1s): the orphan is gone within
	// ttl + 1 s; give it a few seconds more on a loaded machine.
	deadline := time.Now().Add(8 * time.Second)
	gone := false
	for !gone && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
		status, _, _ := c.call(t, http.MethodGet, "Attachment/file/"+unlinked.ID, nil)
		gone = status == http.StatusNotFound
	}
	if !gone {
		t.Fatalf("the unlinked attachment is still there 8 s after upload with --unlinked-ttl 2s")
	}
	status, h, body := c.call(t, http.MethodGet, "Attachment/file/"+unlinked.ID, nil)
	wantEspoError(t, "the expired attachment", status, h, body, http.StatusNotFound)
	for _, keep := range []espoAttachment{related, linked} {
		if _, data := c.file(t, keep.ID); len(data) == 0 {
			t.Errorf("%s (linked to a record) expired too", keep.Name)
		}
	}
}
