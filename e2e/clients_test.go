package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// What real clients of each vendor send and expect beyond the seeds'
// examples (issue 9, item 5): list spellings of form fields, file parts
// without a filename, HEAD, Content-Disposition, a declared type the bytes
// contradict, and an emptied InfoLobby field.

func TestTransactionLinkFormLists(t *testing.T) {
	gw := startGateway(t)
	c := tl{gw, gw.key(t, "forms")}
	file := filePart("a.txt", "text/plain", []byte("hello"))
	cases := []struct {
		what  string
		parts []formPart
		want  []string
	}{
		// PHP (Guzzle's multipart with name "tags[]"), axios's FormData
		// serializer and jQuery all spell a list with brackets.
		{"tags[] before the file", []formPart{valuePart("tags[]", "red"), valuePart("tags[]", "blue"), file}, []string{"red", "blue"}},
		{"tags[] after the file", []formPart{file, valuePart("tags[]", "red"), valuePart("tags[]", "blue")}, []string{"red", "blue"}},
		{"tags[0], tags[1] (axios indexes: true, http_build_query)", []formPart{valuePart("tags[0]", "red"), valuePart("tags[1]", "blue"), file}, []string{"red", "blue"}},
		{"tags repeated (curl -F tags=a -F tags=b)", []formPart{valuePart("tags", "red"), file, valuePart("tags", "blue")}, []string{"red", "blue"}},
	}
	for i, tc := range cases {
		record := "r" + strconv.Itoa(i)
		st, _, body := c.post(t, "Deals", record, c.auth(), tc.parts...)
		if st != http.StatusCreated {
			t.Fatalf("%s: status %d %s, want 201", tc.what, st, snippet(body))
		}
		if a := decodeTLAttachment(t, tc.what, body); !slices.Equal(a.Tags, tc.want) {
			t.Errorf("%s: create answered tags %q, want %q", tc.what, a.Tags, tc.want)
		}
		if l := c.list(t, "Deals", record); len(l) != 1 || !slices.Equal(l[0].Tags, tc.want) {
			t.Errorf("%s: list shows %+v, want tags %q", tc.what, l, tc.want)
		}
	}
}

func TestTransactionLinkFilePartWithoutFilename(t *testing.T) {
	gw := startGateway(t)
	c := tl{gw, gw.key(t, "curl")}
	cases := []struct {
		what, wantName, wantType string
		part                     formPart
	}{
		// curl -F 'file=<photo.png': the part has a name, no filename, no type.
		{"curl's file=<path, PNG bytes", "file.png", "image/png", formPart{name: "file", data: pngBytes}},
		{"curl's file=<path, text", "file.txt", "text/plain; charset=utf-8", formPart{name: "file", data: []byte("hello")}},
		// Guzzle with string contents and a type header.
		{"Guzzle's contents with a type", "file.pdf", "application/pdf", formPart{name: "file", ctype: "application/pdf", data: []byte("%PDF-1.7\n")}},
	}
	for i, tc := range cases {
		record := "n" + strconv.Itoa(i)
		st, _, body := c.post(t, "Deals", record, c.auth(), tc.part)
		if st != http.StatusCreated {
			t.Fatalf("%s: status %d %s, want 201", tc.what, st, snippet(body))
		}
		a := decodeTLAttachment(t, tc.what, body)
		if a.Name != tc.wantName || a.Type != tc.wantType || a.Size != int64(len(tc.part.data)) {
			t.Errorf("%s: created %+v, want %q of type %q and %d bytes", tc.what, a, tc.wantName, tc.wantType, len(tc.part.data))
		}
	}
	// A browser's empty file input (filename="", no bytes) is no file.
	st, _, body := c.post(t, "Deals", "empty", c.auth(), filePart("", "application/octet-stream", nil))
	if st != http.StatusBadRequest {
		t.Errorf("filename=\"\": status %d %s, want 400", st, snippet(body))
	}
}

// wantDisposition checks a download's Content-Disposition: an attachment
// whose ASCII filename is fallback and whose filename* is the exact name.
func wantDisposition(t *testing.T, what string, h http.Header, name, fallback string) {
	t.Helper()
	cd := h.Get("Content-Disposition")
	if !strings.Contains(cd, `filename="`+fallback+`"`) || !strings.Contains(cd, "filename*=UTF-8''") {
		t.Errorf("%s: Content-Disposition %q, want filename=%q and a filename*", what, cd, fallback)
	}
	disp, params, err := mime.ParseMediaType(cd)
	if err != nil || disp != "attachment" || params["filename"] != name {
		t.Errorf("%s: Content-Disposition %q reads as %q %q (%v), want attachment %q", what, cd, disp, params["filename"], err, name)
	}
}

func TestDownloadsNameTheirFile(t *testing.T) {
	gw := startGateway(t)
	key := gw.key(t, "downloads")
	const name, fallback = "Relatório de visita (2º).pdf", "Relatorio de visita (2o).pdf"
	data := []byte("%PDF-1.4\n")

	n := nx{gw, key}
	n.upload(t, "Contract", "7", "scans", name, data, "application/pdf")
	st, h, _ := n.fetch(t, n.contentURL("Contract", "7", "scans", name), nil)
	if st != http.StatusOK {
		t.Fatalf("nimblex download: status %d", st)
	}
	wantDisposition(t, "nimblex content", h, name, fallback)

	e := espo{gw, key}
	a := e.upload(t, fileFieldBody(name, "application/pdf", data))
	h, _ = e.file(t, a.ID)
	wantDisposition(t, "espocrm Attachment/file", h, name, fallback)

	// TransactionLink: the presigned link a browser follows.
	c := tl{gw, key}
	ta := c.create(t, "Deals", "7", name, "application/pdf", data)
	st, _, body := do(t, http.MethodGet, c.attachment("Deals", "7", ta.ID), c.auth(), nil)
	var link struct{ Link string }
	if st != http.StatusOK || json.Unmarshal(body, &link) != nil || link.Link == "" {
		t.Fatalf("transactionlink link: status %d %s", st, snippet(body))
	}
	st, h, got := do(t, http.MethodGet, link.Link, nil, nil)
	if st != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("following the link: status %d %s", st, snippet(got))
	}
	wantDisposition(t, "transactionlink link", h, name, fallback)
}

// headSeen are the headers HEAD must repeat from GET.
var headSeen = []string{"Content-Type", "Content-Length", "ETag", "Last-Modified", "Content-Disposition", "Accept-Ranges",
	"Content-Range", "X-Status-Reason"}

func TestHeadOnEveryGetRoute(t *testing.T) {
	gw := startGateway(t)
	key := gw.key(t, "head")
	data := []byte("%PDF-1.4 head test\n")

	// One file through each dialect, and the records they live in.
	ilc := il{gw, key}
	ilc.create(t, "101", "42", "contracts", "a.pdf", "application/pdf", data)
	n := nx{gw, key}
	n.upload(t, "101", "42", "", "Relatório.pdf", data, "application/pdf")
	c := tl{gw, key}
	ta := c.create(t, "Deals", "9", "b.pdf", "application/pdf", data)
	e := espo{gw, key}
	ea := e.upload(t, fileFieldBody("c.pdf", "application/pdf", data))
	doc := e.record(t, http.MethodPost, "Document", map[string]any{"name": "D", "fileId": ea.ID})
	m := mp{gw, key}
	st, _, body := do(t, http.MethodPost, gw.url("/api/v2/assets"), m.headers(), []byte(`{"title":"head asset"}`))
	var asset struct{ Asset mpAsset }
	if st != http.StatusOK || json.Unmarshal(body, &asset) != nil {
		t.Fatalf("create asset: %d %s", st, snippet(body))
	}
	m.createOK(t, "assets", asset.Asset.ID, map[string]any{"title": "a placeholder"})
	st, _, body = do(t, http.MethodPost, gw.url("/api/v2/projects"), m.headers(), []byte(`{"title":"head project"}`))
	var project struct{ Project struct{ ID string } }
	if st != http.StatusOK || json.Unmarshal(body, &project) != nil {
		t.Fatalf("create project: %d %s", st, snippet(body))
	}
	st, _, body = do(t, http.MethodGet, c.attachment("Deals", "9", ta.ID), c.auth(), nil)
	var link struct{ Link string }
	if st != http.StatusOK || json.Unmarshal(body, &link) != nil {
		t.Fatalf("link: %d %s", st, snippet(body))
	}

	bearerH, tlH, espoH, mpH := bearer(key), c.auth(), e.headers(), m.headers()
	cases := []struct {
		what, url string
		h         hdr
	}{
		{"infolobby record.get", ilc.url("101", "42", "get"), bearerH},
		{"infolobby record.get, unknown record", ilc.url("101", "nope", "get"), bearerH},
		{"nimblex attachments.list", n.attachments("101", "42"), bearerH},
		{"nimblex attachments.content.get", n.contentURL("101", "42", "", "Relatório.pdf"), bearerH},
		{"nimblex attachments.content.get, a range", n.contentURL("101", "42", "", "Relatório.pdf"), bearerH.with("Range", "bytes=2-5")},
		{"nimblex attachments.content.get, not modified", n.contentURL("101", "42", "", "Relatório.pdf"), bearerH.with("If-None-Match", `"`+sha256Hex(data)+`"`)},
		{"nimblex attachments.content.get, unknown", n.contentURL("101", "42", "", "nope.pdf"), bearerH},
		{"transactionlink attachments.list", c.attachments("Deals", "9"), tlH},
		{"transactionlink attachments.link", c.attachment("Deals", "9", ta.ID), tlH},
		{"transactionlink presigned link", link.Link, nil},
		{"espocrm attachment.read", e.url("Attachment/" + ea.ID), espoH},
		{"espocrm attachment.file", e.url("Attachment/file/" + ea.ID), espoH},
		{"espocrm record.read", e.url("Document/" + doc["id"].(string)), espoH},
		{"espocrm attachment.file, no key", e.url("Attachment/file/" + ea.ID), nil},
		{"mediapocket assets.attachments.list", m.url("assets", asset.Asset.ID), mpH},
		{"mediapocket assets.read", gw.url("/api/v2/assets/" + asset.Asset.ID), mpH},
		{"mediapocket projects.attachments.list", m.url("projects", project.Project.ID), mpH},
		{"mediapocket projects.attachments.list, unknown", m.url("projects", "AAAAAAAAAAAAAAAAAAAA"), mpH},
		{"mediapocket projects.read", gw.url("/api/v2/projects/" + project.Project.ID), mpH},
	}
	for _, tc := range cases {
		gst, gh, gbody := do(t, http.MethodGet, tc.url, tc.h, nil)
		hst, hh, hbody := do(t, http.MethodHead, tc.url, tc.h, nil)
		if hst != gst || len(hbody) != 0 {
			t.Errorf("%s: HEAD %d with %d body bytes, GET %d", tc.what, hst, len(hbody), gst)
			continue
		}
		if gst != http.StatusNotModified && gh.Get("Content-Length") != strconv.Itoa(len(gbody)) {
			t.Errorf("%s: GET Content-Length %q for %d bytes", tc.what, gh.Get("Content-Length"), len(gbody))
		}
		for _, k := range headSeen {
			if hh.Get(k) != gh.Get(k) {
				t.Errorf("%s: HEAD %s %q, GET %q", tc.what, k, hh.Get(k), gh.Get(k))
			}
		}
	}
}

func TestUploadTypeCheckedAgainstBytes(t *testing.T) {
	gw := startGateway(t)
	key := gw.key(t, "types")

	// Nimblex raw upload: a script's default Content-Type over a PNG.
	n := nx{gw, key}
	n.upload(t, "Contract", "3", "", "pixel.png", pngBytes, "application/json")
	st, h, got := n.fetch(t, n.contentURL("Contract", "3", "", "pixel.png"), nil)
	if st != http.StatusOK || h.Get("Content-Type") != "image/png" || !bytes.Equal(got, pngBytes) {
		t.Errorf("nimblex download of a PNG sent as application/json: %d %q, want 200 image/png with the bytes", st, h.Get("Content-Type"))
	}
	if l := n.list(t, "Contract", "3"); len(l) != 1 || l[0].Attributes.Mimetype != "image/png" {
		t.Errorf("nimblex list: %+v, want mimetype image/png", l)
	}

	// TransactionLink multipart: the part says text/plain, the bytes are a PDF.
	c := tl{gw, key}
	a := c.create(t, "Deals", "3", "scan.pdf", "text/plain", []byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"))
	if a.Type != "application/pdf" {
		t.Errorf("transactionlink create of a PDF sent as text/plain: type %q, want application/pdf", a.Type)
	}

	// InfoLobby base64: type says JSON, data is a PNG.
	ilc := il{gw, key}
	files := ilc.create(t, "101", "3", "photos", "pixel.png", "application/json", pngBytes)
	if len(files) != 1 || files[0].Type != "image/png" {
		t.Errorf("infolobby create of a PNG typed application/json: %+v, want type image/png", files)
	}

	// What the bytes do not contradict is kept as declared.
	n.upload(t, "Contract", "3", "", "data.json", []byte(`{"a":1}`), "application/json")
	if _, h, _ := n.fetch(t, n.contentURL("Contract", "3", "", "data.json"), nil); h.Get("Content-Type") != "application/json" {
		t.Errorf("JSON sent as application/json: downloaded as %q", h.Get("Content-Type"))
	}
}

func TestInfoLobbyEmptiedFieldStaysAsEmptyList(t *testing.T) {
	gw := startGateway(t)
	c := il{gw, gw.key(t, "fields")}
	c.create(t, "101", "8", "contracts", "a.pdf", "application/pdf", []byte("%PDF-1.4\n"))
	c.create(t, "101", "8", "photos", "p.png", "image/png", pngBytes)
	status, body := c.post(t, "101", "8", "update", map[string]any{"data": map[string]any{"contracts": []any{}}})
	if status != http.StatusOK {
		t.Fatalf("update: status %d %s", status, snippet(body))
	}
	for _, when := range []string{"update answer", "record get"} {
		rec := decodeRecord(t, body, false)
		if when == "record get" {
			rec = c.record(t, "101", "8", false)
		}
		if got, ok := rec.files(t, "contracts"); !ok || got == nil || len(got) != 0 || string(rec.Data["contracts"]) != "[]" {
			t.Errorf("%s: data.contracts = %s (present %v), want []", when, rec.Data["contracts"], ok)
		}
		if got, _ := rec.files(t, "photos"); len(got) != 1 {
			t.Errorf("%s: photos = %+v, want the one file", when, got)
		}
	}
	// A file uploaded into the emptied field takes the empty list's place.
	c.create(t, "101", "8", "contracts", "b.pdf", "application/pdf", []byte("%PDF-1.4\n"))
	if got, _ := c.record(t, "101", "8", false).files(t, "contracts"); len(got) != 1 || got[0].Name != "b.pdf" {
		t.Errorf("after a new upload: contracts = %+v, want b.pdf", got)
	}
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
