package e2e

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Media Pocket (seed 002 and ARCHITECTURE's facts): list and create under
// /api/v2/assets/:asset_id/attachments and /api/v2/projects/:project_id/
// attachments, {"attachments": [...]} and {"asset": {...}}, placeholders,
// and errors {"error": "..."}. Its assets and projects are the collections
// "assets" and "projects"; records come into being through the other
// dialects' uploads.

// mpID is a Media Pocket id: 20 URL-safe characters.
var mpID = regexp.MustCompile(`^[A-Za-z0-9_-]{20}$`)

// mpKeys are the keys of the seed's attachment object, in the seed's order.
var mpKeys = []string{"id", "external_id", "parent_id", "project_id", "owner", "title", "description", "category",
	"tags", "ai_tags", "status", "media_type", "original_filename", "drop_folder_id", "md5_sum",
	"created_date", "modification_date", "deleted"}

// mpAsset is the seed's attachment object.
type mpAsset struct {
	ID               string   `json:"id"`
	ExternalID       *string  `json:"external_id"`
	ParentID         string   `json:"parent_id"`
	ProjectID        *string  `json:"project_id"`
	Owner            string   `json:"owner"`
	Title            string   `json:"title"`
	Description      *string  `json:"description"`
	Category         *string  `json:"category"`
	Tags             []string `json:"tags"`
	AITags           []string `json:"ai_tags"`
	Status           string   `json:"status"`
	MediaType        string   `json:"media_type"`
	OriginalFilename *string  `json:"original_filename"`
	DropFolderID     *string  `json:"drop_folder_id"`
	MD5Sum           *string  `json:"md5_sum"`
	CreatedDate      string   `json:"created_date"`
	ModificationDate string   `json:"modification_date"`
	Deleted          *string  `json:"deleted"`
}

// mp is a Media Pocket client holding one key.
type mp struct {
	gw  *gateway
	key string
}

// url is /api/v2/<kind>/<id>/attachments; kind is "assets" or "projects".
func (c mp) url(kind, id string) string {
	return c.gw.url("/api/v2/" + kind + "/" + url.PathEscape(id) + "/attachments")
}

// headers are the seed's: Content-Type application/json and X-API-KEY.
func (c mp) headers() hdr { return hdr{"Content-Type": "application/json", "X-API-KEY": c.key} }

// list reads {"attachments": [...]}, which must answer 200.
func (c mp) list(t testing.TB, kind, id string) []mpAsset {
	t.Helper()
	status, h, body := do(t, http.MethodGet, c.url(kind, id), c.headers(), nil)
	if status != http.StatusOK {
		t.Fatalf("list %s/%s: status %d %s, want 200", kind, id, status, snippet(body))
	}
	checkJSONType(t, "list", h)
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil || len(doc) != 1 {
		t.Fatalf("list %s/%s: %s, want exactly {\"attachments\": [...]}", kind, id, snippet(body))
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(doc["attachments"], &raws); err != nil || raws == nil {
		t.Fatalf("list %s/%s: attachments is %s, want an array", kind, id, snippet(doc["attachments"]))
	}
	out := make([]mpAsset, len(raws))
	for i, raw := range raws {
		out[i] = decodeMPAsset(t, "list item", raw)
	}
	return out
}

// create POSTs a body (marshalled) and returns status and body.
func (c mp) create(t testing.TB, kind, id string, body any) (int, http.Header, []byte) {
	t.Helper()
	return do(t, http.MethodPost, c.url(kind, id), c.headers(), jsonBody(t, body))
}

// createOK creates an attachment and insists on 200 {"asset": {...}}.
func (c mp) createOK(t testing.TB, kind, id string, body any) mpAsset {
	t.Helper()
	status, h, got := c.create(t, kind, id, body)
	if status != http.StatusOK {
		t.Fatalf("create in %s/%s: status %d %s, want 200", kind, id, status, snippet(got))
	}
	checkJSONType(t, "create", h)
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(got, &doc); err != nil || len(doc) != 1 || doc["asset"] == nil {
		t.Fatalf("create: %s, want exactly {\"asset\": {...}}", snippet(got))
	}
	return decodeMPAsset(t, "create", doc["asset"])
}

// decodeMPAsset reads one attachment object: every key of the seed's, in
// the seed's order, and nothing else.
func decodeMPAsset(t testing.TB, what string, raw []byte) mpAsset {
	t.Helper()
	if keys := orderedKeys(t, raw); !slices.Equal(keys, mpKeys) {
		t.Errorf("%s: keys %v, want the seed's %v", what, keys, mpKeys)
	}
	var a mpAsset
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("%s: %v: %s", what, err, snippet(raw))
	}
	if !mpID.MatchString(a.ID) {
		t.Errorf("%s: id %q is not 20 URL-safe characters", what, a.ID)
	}
	for _, ts := range []string{a.CreatedDate, a.ModificationDate} {
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
			t.Errorf("%s: time %q is not RFC 3339", what, ts)
		}
	}
	if a.Tags == nil || a.AITags == nil || len(a.AITags) != 0 {
		t.Errorf("%s: tags %v ai_tags %v, want arrays (ai_tags empty)", what, a.Tags, a.AITags)
	}
	if a.ProjectID != nil || a.DropFolderID != nil || a.Deleted != nil {
		t.Errorf("%s: project_id %v drop_folder_id %v deleted %v, want null", what, a.ProjectID, a.DropFolderID, a.Deleted)
	}
	return a
}

// orderedKeys returns a JSON object's top-level keys in document order.
func orderedKeys(t testing.TB, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", snippet(raw))
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("object keys: %v: %s", err, snippet(raw))
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("object value: %v: %s", err, snippet(raw))
		}
	}
	return keys
}

// wantMPError checks {"error": msg} (any non-empty message when msg is
// "") with the status.
func wantMPError(t testing.TB, what string, status int, body []byte, want int, msg string) {
	t.Helper()
	if status != want {
		t.Errorf("%s: status %d %s, want %d", what, status, snippet(body), want)
		return
	}
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil || len(e) != 1 {
		t.Errorf("%s: body %s, want exactly {\"error\": \"...\"}", what, snippet(body))
		return
	}
	m, _ := e["error"].(string)
	if m == "" || (msg != "" && m != msg) {
		t.Errorf("%s: error %q, want %q", what, e["error"], msg)
	}
}

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// compactJSON is a JSON document without insignificant whitespace ("" if
// it is not JSON).
func compactJSON(b []byte) string {
	var out bytes.Buffer
	if json.Compact(&out, b) != nil {
		return ""
	}
	return out.String()
}

func TestMediaPocketNotFound(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "writer")
	c := mp{gw, key}
	// An asset that exists, to show projects are another collection.
	nx{gw, key}.upload(t, "assets", "bDzHAAxLXsSmhL4lax8D", "", "a.txt", []byte("a"), "text/plain")

	cases := []struct {
		name   string
		method string
		kind   string
		id     string
		want   string
	}{
		{"list an unknown asset", http.MethodGet, "assets", "UqFkJDWdw7Sdg7TQZS-J", "asset not found"},
		{"list an unknown project", http.MethodGet, "projects", "MKEejlgPARb7pJp8JrD4", "project not found"},
		{"create on an unknown asset", http.MethodPost, "assets", "NBmnCtuFCbI88s1cNHJX", "asset not found"},
		{"create on an unknown project", http.MethodPost, "projects", "czPBmrbRE76BOmD0Ykz8", "project not found"},
		{"an asset's id is not a project", http.MethodGet, "projects", "bDzHAAxLXsSmhL4lax8D", "project not found"},
		{"create on a project that is an asset", http.MethodPost, "projects", "bDzHAAxLXsSmhL4lax8D", "project not found"},
		{"the seed's literal :asset_id", http.MethodGet, "assets", ":asset_id", "asset not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var body []byte
			if tc.method == http.MethodPost {
				body = []byte(`{"title": "sample attachment"}`)
			}
			status, h, got := do(t, tc.method, c.url(tc.kind, tc.id), c.headers(), body)
			wantMPError(t, tc.name, status, got, http.StatusNotFound, tc.want)
			checkJSONType(t, tc.name, h)
			if want := `{"error":"` + tc.want + `"}`; compactJSON(got) != want {
				t.Errorf("%s: body %s, want %s", tc.name, got, want)
			}
		})
	}
	if got := c.list(t, "assets", "bDzHAAxLXsSmhL4lax8D"); len(got) != 1 {
		t.Errorf("the asset after the refused creates: %+v, want its one file", got)
	}
	status, _, _ := do(t, http.MethodGet, c.url("projects", "czPBmrbRE76BOmD0Ykz8"), c.headers(), nil)
	if status != http.StatusNotFound {
		t.Errorf("a refused create made the project: list answers %d", status)
	}
}

func TestMediaPocketEmptyList(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "writer")
	c, n := mp{gw, key}, nx{gw, key}
	n.upload(t, "assets", "UqFkJDWdw7Sdg7TQZS-J", "", "gone.txt", []byte("x"), "text/plain")
	if status, _, body := do(t, http.MethodDelete, n.deleteURL("assets", "UqFkJDWdw7Sdg7TQZS-J", "", "gone.txt"), bearer(key), nil); status/100 != 2 {
		t.Fatalf("nimblex delete: %d %s", status, snippet(body))
	}
	status, _, body := do(t, http.MethodGet, c.url("assets", "UqFkJDWdw7Sdg7TQZS-J"), c.headers(), nil)
	if status != http.StatusOK || compactJSON(body) != `{"attachments":[]}` {
		t.Errorf("list of an asset whose files were deleted: %d %s, want 200 {\"attachments\": []}", status, body)
	}
}

func TestMediaPocketCreate(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "writer")
	c := mp{gw, key}
	// The records come into being through other dialects.
	nx{gw, key}.upload(t, "assets", "NBmnCtuFCbI88s1cNHJX", "", "seed.txt", []byte("s"), "text/plain")
	tl{gw, key}.create(t, "projects", "czPBmrbRE76BOmD0Ykz8", "seed.txt", "text/plain", []byte("s"))

	for _, r := range []struct{ kind, id string }{{"assets", "NBmnCtuFCbI88s1cNHJX"}, {"projects", "czPBmrbRE76BOmD0Ykz8"}} {
		t.Run(r.kind, func(t *testing.T) {
			t.Parallel()
			a := c.createOK(t, r.kind, r.id, map[string]any{"title": "sample attachment"})
			want := mpAsset{ID: a.ID, ParentID: r.id, Owner: "writer", Title: "sample attachment", Tags: []string{}, AITags: []string{},
				Status: "open", MediaType: "placeholder", CreatedDate: a.CreatedDate, ModificationDate: a.ModificationDate}
			if !reflect.DeepEqual(a, want) {
				t.Errorf("create answered\n%+v\nwant\n%+v", a, want)
			}
			list := c.list(t, r.kind, r.id)
			if len(list) != 2 || !reflect.DeepEqual(list[1], a) {
				t.Errorf("list %+v, want the seed file and then %+v", list, a)
			}

			b := c.createOK(t, r.kind, r.id, map[string]any{"title": "described", "description": "a description",
				"category": "docs", "external_id": "ext-1", "tags": []string{"t1", "t2"}})
			if deref(b.Description) != "a description" || deref(b.Category) != "docs" || deref(b.ExternalID) != "ext-1" || !slices.Equal(b.Tags, []string{"t1", "t2"}) {
				t.Errorf("create with descriptive fields: %+v", b)
			}
			if b.ID == a.ID {
				t.Errorf("two creates answered the same id %s", a.ID)
			}
		})
	}

	titles := []struct {
		name   string
		body   string
		status int
		err    string
	}{
		{"255 characters", `{"title":"` + strings.Repeat("X", 255) + `"}`, 200, ""},
		{"255 non-ASCII characters", `{"title":"` + strings.Repeat("é", 255) + `"}`, 200, ""},
		{"256 characters (the seed's)", `{"title":"Testing too long title: ` + strings.Repeat("X", 256-len("Testing too long title: ")) + `"}`, 400, "Title is too long (maximum is 255 characters)"},
		{"256 non-ASCII characters", `{"title":"` + strings.Repeat("é", 256) + `"}`, 400, "Title is too long (maximum is 255 characters)"},
		{"missing title", `{}`, 422, "Missing parameter title"},
		{"null title", `{"title":null}`, 422, "Missing parameter title"},
		{"empty title", `{"title":""}`, 422, "Missing parameter title"},
		{"other params but no title", `{"description":"d"}`, 422, "Missing parameter title"},
		{"a title that is a list", `{"title":["a"]}`, 400, "Title must be a String"},
		{"a title that is an object", `{"title":{"a":1}}`, 400, "Title must be a String"},
		{"a title that is a number", `{"title":12}`, 400, "Title must be a String"},
		{"not JSON", `{"title":`, 400, ""},
	}
	for _, tc := range titles {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			status, _, body := do(t, http.MethodPost, c.url("assets", "NBmnCtuFCbI88s1cNHJX"), c.headers(), []byte(tc.body))
			if tc.status == 200 {
				if status != 200 {
					t.Fatalf("status %d %s, want 200", status, snippet(body))
				}
				var doc struct{ Asset json.RawMessage }
				json.Unmarshal(body, &doc)
				var in struct{ Title string }
				json.Unmarshal([]byte(tc.body), &in)
				if a := decodeMPAsset(t, "create", doc.Asset); a.Title != in.Title {
					t.Errorf("title %q, want %q", a.Title, in.Title)
				}
				return
			}
			wantMPError(t, tc.name, status, body, tc.status, tc.err)
		})
	}
}

func TestMediaPocketCredentials(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "writer")
	ro := mp{gw, gw.key(t, "auditor", "--read-only")}
	nx{gw, key}.upload(t, "assets", "A1", "", "a.txt", []byte("a"), "text/plain")
	tl{gw, key}.create(t, "projects", "P1", "p.txt", "text/plain", []byte("p"))

	creds := []struct {
		name string
		h    hdr
	}{
		{"no X-API-KEY", hdr{"Content-Type": "application/json"}},
		{"a wrong key", hdr{"Content-Type": "application/json", "X-API-KEY": "nope"}},
		{"the key as a bearer token", hdr{"Content-Type": "application/json", "Authorization": "Bearer " + key}},
	}
	for _, cr := range creds {
		for _, r := range []struct{ kind, id string }{{"assets", "A1"}, {"projects", "P1"}, {"assets", "unknown"}} {
			status, _, body := do(t, http.MethodGet, ro.url(r.kind, r.id), cr.h, nil)
			wantMPError(t, "list "+r.kind+"/"+r.id+" with "+cr.name, status, body, http.StatusUnauthorized, "")
			status, _, body = do(t, http.MethodPost, ro.url(r.kind, r.id), cr.h, []byte(`{"title":"x"}`))
			wantMPError(t, "create "+r.kind+"/"+r.id+" with "+cr.name, status, body, http.StatusUnauthorized, "")
		}
	}

	status, _, body := ro.create(t, "assets", "A1", map[string]any{"title": "x"})
	wantMPError(t, "read-only create", status, body, http.StatusForbidden, "")
	if got := ro.list(t, "assets", "A1"); len(got) != 1 || deref(got[0].OriginalFilename) != "a.txt" {
		t.Errorf("read-only list: %+v, want the one file a.txt", got)
	}
	if got := ro.list(t, "projects", "P1"); len(got) != 1 {
		t.Errorf("read-only list of the project: %+v", got)
	}
}

func TestMediaPocketShowsUploadedBytes(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "writer")
	c := mp{gw, key}
	png := append(append([]byte(nil), pngBytes...), randomBytes(t, 100)...)
	pdf := append(append([]byte(nil), pdfBytes...), randomBytes(t, 100)...)
	csv := []byte("a,b\n1,2\n")

	cases := []struct {
		via, kind, id, name, typ string
		data                     []byte
		upload                   func(t *testing.T, kind, id, name, typ string, data []byte)
	}{
		{"nimblex", "assets", "asset-nx", "photo.png", "image/png", png, func(t *testing.T, kind, id, name, typ string, data []byte) {
			nx{gw, key}.upload(t, kind, id, "", name, data, typ)
		}},
		{"transactionlink", "projects", "project-tl", "report.pdf", "application/pdf", pdf, func(t *testing.T, kind, id, name, typ string, data []byte) {
			tl{gw, key}.create(t, kind, id, name, typ, data)
		}},
		{"infolobby", "assets", "asset-il", "table.csv", "text/csv", csv, func(t *testing.T, kind, id, name, typ string, data []byte) {
			il{gw, key}.create(t, kind, id, "attachments", name, typ, data)
		}},
		{"espocrm", "projects", "project-espo", "note.txt", "text/plain", []byte("plain words"), func(t *testing.T, kind, id, name, typ string, data []byte) {
			espo{gw, key}.upload(t, map[string]any{"name": name, "type": typ, "role": "Attachment", "relatedType": kind,
				"relatedId": id, "field": "attachments", "file": dataURI(typ, data)})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.via, func(t *testing.T) {
			t.Parallel()
			tc.upload(t, tc.kind, tc.id, tc.name, tc.typ, tc.data)
			list := c.list(t, tc.kind, tc.id)
			if len(list) != 1 {
				t.Fatalf("list %+v, want the one upload", list)
			}
			a := list[0]
			if a.MediaType != tc.typ || deref(a.OriginalFilename) != tc.name || deref(a.MD5Sum) != md5Hex(tc.data) {
				t.Errorf("media_type %q original_filename %v md5_sum %v, want %q %q %s", a.MediaType, deref(a.OriginalFilename), deref(a.MD5Sum), tc.typ, tc.name, md5Hex(tc.data))
			}
			if a.ParentID != tc.id || a.Status != "open" || a.Title != tc.name || a.Owner != "writer" {
				t.Errorf("parent_id %q status %q title %q owner %q, want %q open %q writer", a.ParentID, a.Status, a.Title, a.Owner, tc.id, tc.name)
			}
			// A placeholder beside it stays a placeholder.
			p := c.createOK(t, tc.kind, tc.id, map[string]any{"title": "later"})
			if p.MediaType != "placeholder" || p.OriginalFilename != nil || p.MD5Sum != nil {
				t.Errorf("placeholder beside a file: %+v", p)
			}
			if got := c.list(t, tc.kind, tc.id); len(got) != 2 || !reflect.DeepEqual(got[0], a) {
				t.Errorf("list after the placeholder: %+v", got)
			}
		})
	}
}
