package e2e

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// A dragoman in front of a dragoman: for every client dialect and every
// upstream dialect, the front gateway speaks the client's dialect to the
// client and the upstream's to a second gateway on the bundled store. Where
// docs/upstream-matrix.md says a step works, it is done through the front
// and confirmed by reading the upstream directly, in the upstream's own
// dialect, with the upstream's own key; where it says a step does not, the
// client gets its own dialect's "unsupported" answer naming what the
// upstream lacks, and the upstream is left as it was.
//
// Every dialect addresses collection "assets" (Media Pocket knows only
// assets and projects) and the field "attachments" (the default of the
// dialects without fields), as matrix_test.go does.

// umDialects are the five dialects, in the order of docs/upstream-matrix.md.
var umDialects = []string{"espocrm", "infolobby", "mediapocket", "nimblex", "transactionlink"}

// umGaps is docs/upstream-matrix.md's second table: for each client
// dialect and upstream dialect, the client routes that do not work. The
// test TestUpstreamMatrix/"the table is the doc's" holds it to the doc.
var umGaps = map[string]map[string][]string{
	"espocrm": {
		"mediapocket": {"attachment.create", "attachment.chunk", "attachment.file"},
	},
	"infolobby": {
		"mediapocket": {"files.create", "files.delete", "files.get"},
	},
	"nimblex": {
		"mediapocket": {"attachments.content.get", "attachments.content.upload", "attachments.delete"},
	},
	"transactionlink": {
		"mediapocket": {"attachments.link", "attachments.create", "attachments.delete"},
	},
}

// umPartly is the same table's "partly" entries: routes that work but for
// the requests needing the capabilities named.
var umPartly = map[string]map[string]map[string][]string{
	"espocrm": {
		"mediapocket": {"record.create": {"delete"}, "record.update": {"delete"}},
	},
	"infolobby": {
		"mediapocket": {"record.update": {"delete"}},
	},
}

// umAnswer is one HTTP answer.
type umAnswer struct {
	status int
	h      http.Header
	body   []byte
}

func umDo(t testing.TB, method, url string, headers hdr, body []byte) umAnswer {
	t.Helper()
	st, h, b := do(t, method, url, headers, body)
	return umAnswer{st, h, b}
}

// umEntry is a file as a client of the front sees it in a list.
type umEntry struct {
	id   string // what the client addresses it by (Nimblex: its content link)
	name string
	typ  string
	size int64 // -1: the dialect does not say
	// times are the times the dialect shows (none in some), each to be
	// parsed with timeLayout.
	times      []string
	timeLayout string
}

// umExtra is a client route outside create/list/download/delete, called
// in front of every upstream: where the matrix says it does not work, its
// answer is the client's 'unsupported' error; elsewhere works checks it
// did what the client asked, read back through the front.
type umExtra struct {
	route string
	// naming is what the error message must contain ("" for the usual
	// "the upstream dialect X cannot").
	naming string
	call   func(t *testing.T, c mxClients, record string, kept umEntry) umAnswer
	works  func(t *testing.T, c mxClients, record string, a umAnswer)
	// also names other routes the call goes through; a gap in any of
	// them is the call's.
	also []string
}

// umClient is one dialect's client of the front gateway.
type umClient struct {
	dialect string
	// The routes (routes.yaml names) of each step; "" where the dialect
	// has no such call.
	createRoute, downloadRoute, deleteRoute string
	createOK, deleteOK                      int // success statuses

	create func(t *testing.T, c mxClients, record, name string, data []byte) umAnswer
	// find lists the record and returns the entry of that name.
	find func(t *testing.T, c mxClients, record, name string) (umEntry, bool)
	// download answers the bytes (nil unless the download succeeded).
	download func(t *testing.T, c mxClients, record string, e umEntry) (umAnswer, []byte)
	del      func(t *testing.T, c mxClients, record string, e umEntry) umAnswer
	// unsupported checks the dialect's own answer to a route the upstream
	// cannot serve: its status and shape, and a message containing naming
	// where the dialect carries one.
	unsupported func(t *testing.T, what string, a umAnswer, naming string)
	extras      []umExtra
}

var umClients = []umClient{
	{
		dialect:     "espocrm",
		createRoute: "attachment.create", downloadRoute: "attachment.file", deleteRoute: "record.update",
		createOK: http.StatusOK, deleteOK: http.StatusOK,
		create: func(t *testing.T, c mxClients, record, name string, data []byte) umAnswer {
			st, h, b := c.espo.call(t, http.MethodPost, "Attachment", map[string]any{"name": name, "type": mxType, "role": "Attachment",
				"relatedType": mxCollection, "relatedId": record, "field": mxField, "file": dataURI(mxType, data)})
			return umAnswer{st, h, b}
		},
		find: func(t *testing.T, c mxClients, record, name string) (umEntry, bool) {
			rec := c.espo.record(t, http.MethodGet, mxCollection+"/"+record, nil)
			names, _ := rec[mxField+"Names"].(map[string]any)
			for _, id := range linkIDs(rec, mxField) {
				if names[id] != name {
					continue
				}
				st, h, body := c.espo.call(t, http.MethodGet, "Attachment/"+id, nil)
				if st != http.StatusOK {
					t.Fatalf("espocrm GET Attachment/%s: status %d (%s)", id, st, h.Get("X-Status-Reason"))
				}
				a := decodeEspoAttachment(t, "GET Attachment", body)
				return umEntry{id: id, name: a.Name, typ: a.Type, size: a.Size, times: []string{a.CreatedAt}, timeLayout: time.DateTime}, true
			}
			return umEntry{}, false
		},
		download: func(t *testing.T, c mxClients, record string, e umEntry) (umAnswer, []byte) {
			st, h, b := c.espo.call(t, http.MethodGet, "Attachment/file/"+e.id, nil)
			if st != http.StatusOK {
				return umAnswer{st, h, b}, nil
			}
			return umAnswer{st, h, b}, b
		},
		del: func(t *testing.T, c mxClients, record string, e umEntry) umAnswer {
			ids := linkIDs(c.espo.record(t, http.MethodGet, mxCollection+"/"+record, nil), mxField)
			keep := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == e.id })
			if len(keep) != len(ids)-1 {
				t.Fatalf("espocrm %sIds %v does not list %s", mxField, ids, e.id)
			}
			if keep == nil {
				keep = []string{}
			}
			st, h, b := c.espo.call(t, http.MethodPut, mxCollection+"/"+record, map[string]any{mxField + "Ids": keep})
			return umAnswer{st, h, b}
		},
		unsupported: func(t *testing.T, what string, a umAnswer, naming string) {
			t.Helper()
			wantEspoError(t, what, a.status, a.h, a.body, http.StatusInternalServerError)
			if r := a.h.Get("X-Status-Reason"); !strings.Contains(r, naming) {
				t.Errorf("%s: X-Status-Reason %q does not say %q", what, r, naming)
			}
		},
		extras: []umExtra{
			{"attachment.chunk", "create a file", func(t *testing.T, c mxClients, record string, kept umEntry) umAnswer {
				// EspoCRM's chunked upload starts with an attachment of a
				// size and no file; the front holds the chunks and sends
				// the whole file with the upstream's create, so it is
				// refused at once where that create is missing.
				st, h, b := c.espo.call(t, http.MethodPost, "Attachment", map[string]any{"name": "chunked.bin", "type": "application/octet-stream",
					"role": "Attachment", "relatedType": mxCollection, "relatedId": record, "field": mxField, "size": 10})
				return umAnswer{st, h, b}
			}, func(t *testing.T, c mxClients, record string, a umAnswer) {
				id := umEspoID(t, "chunked placeholder", a)
				st, h, b := umDoEspoChunk(t, c, id, []byte("0123456789"))
				if st != http.StatusOK || strings.TrimSpace(string(b)) != "true" {
					t.Fatalf("chunk through the front: %d (%s) %s", st, h.Get("X-Status-Reason"), snippet(b))
				}
				if _, got := c.espo.file(t, id); string(got) != "0123456789" {
					t.Errorf("chunked file reads back %q", got)
				}
				umEspoDelete(t, c, record, id)
			}, nil},
			{"record.create", "", func(t *testing.T, c mxClients, record string, kept umEntry) umAnswer {
				st, h, b := c.espo.call(t, http.MethodPost, mxCollection, map[string]any{"name": "made through the front"})
				return umAnswer{st, h, b}
			}, func(t *testing.T, c mxClients, record string, a umAnswer) {
				id := umEspoID(t, "record.create", a)
				if got := c.espo.record(t, http.MethodGet, mxCollection+"/"+id, nil); got["name"] != "made through the front" {
					t.Errorf("record made through the front reads back %v", got)
				}
			}, nil},
			{"record.list", "cannot list records", func(t *testing.T, c mxClients, record string, kept umEntry) umAnswer {
				st, h, b := c.espo.call(t, http.MethodGet, mxCollection+"?maxSize=5", nil)
				return umAnswer{st, h, b}
			}, func(t *testing.T, c mxClients, record string, a umAnswer) {
				var p struct {
					Total int
					List  []struct{ ID string }
				}
				if a.status != http.StatusOK || json.Unmarshal(a.body, &p) != nil || p.Total < 1 {
					t.Fatalf("record.list through the front: %d %s, want a total of at least the record", a.status, snippet(a.body))
				}
				listed := false
				for _, r := range p.List {
					listed = listed || r.ID == record
				}
				if !listed && p.Total <= 5 {
					t.Errorf("record.list through the front: %s does not list record %s", snippet(a.body), record)
				}
			}, nil},
			// EspoCRM's own two-step flow: an attachment related to a type
			// only, then the record that names it.
			{"record.create", "", func(t *testing.T, c mxClients, record string, kept umEntry) umAnswer {
				st, h, b := c.espo.call(t, http.MethodPost, "Attachment", map[string]any{"name": "two-step.pdf", "type": mxType,
					"role": "Attachment", "relatedType": "Document", "field": "file", "file": dataURI(mxType, []byte("two steps"))})
				if st != http.StatusOK {
					return umAnswer{st, h, b}
				}
				fileID := umEspoID(t, "unlinked attachment", umAnswer{st, h, b})
				if _, got := c.espo.file(t, fileID); string(got) != "two steps" {
					t.Errorf("the unlinked attachment reads back %q", got)
				}
				st, h, b = c.espo.call(t, http.MethodPost, "Document", map[string]any{"name": "contract", "fileId": fileID})
				return umAnswer{st, h, b}
			}, func(t *testing.T, c mxClients, record string, a umAnswer) {
				id := umEspoID(t, "Document with its file", a)
				got := c.espo.record(t, http.MethodGet, "Document/"+id, nil)
				fileID, _ := got["fileId"].(string)
				if got["name"] != "contract" || fileID == "" || got["fileName"] != "two-step.pdf" {
					t.Fatalf("the Document made through the front reads back %v", got)
				}
				if _, b := c.espo.file(t, fileID); string(b) != "two steps" {
					t.Errorf("the linked attachment reads back %q", b)
				}
			}, []string{"attachment.create"}},
		},
	},
	{
		dialect:     "infolobby",
		createRoute: "files.create", downloadRoute: "files.get", deleteRoute: "files.delete",
		createOK: http.StatusOK, deleteOK: http.StatusOK,
		create: func(t *testing.T, c mxClients, record, name string, data []byte) umAnswer {
			st, b := c.il.post(t, mxCollection, record, "files/create", map[string]any{"field_id": mxField, "name": name, "type": mxType,
				"data": base64.StdEncoding.EncodeToString(data)})
			return umAnswer{status: st, body: b}
		},
		find: func(t *testing.T, c mxClients, record, name string) (umEntry, bool) {
			for _, f := range c.il.fieldFiles(t, mxCollection, record, mxField) {
				if f.Name == name {
					return umEntry{id: f.Path, name: f.Name, typ: f.Type, size: f.Size}, true
				}
			}
			return umEntry{}, false
		},
		download: func(t *testing.T, c mxClients, record string, e umEntry) (umAnswer, []byte) {
			st, b := c.il.post(t, mxCollection, record, "files/get", map[string]any{"field_id": mxField, "path": e.id})
			if st != http.StatusOK {
				return umAnswer{status: st, body: b}, nil
			}
			var ans struct {
				Name, Type, Data string
				Size             int64
			}
			if err := json.Unmarshal(b, &ans); err != nil {
				t.Fatalf("infolobby files/get: %v: %s", err, snippet(b))
			}
			data, err := base64.StdEncoding.DecodeString(ans.Data)
			if err != nil {
				t.Fatalf("infolobby files/get data: %v", err)
			}
			if ans.Name != e.name || ans.Type != e.typ || ans.Size != int64(len(data)) {
				t.Errorf("infolobby files/get says %q %q %d for %d bytes, the record says %q %q", ans.Name, ans.Type, ans.Size, len(data), e.name, e.typ)
			}
			return umAnswer{status: st, body: b}, data
		},
		del: func(t *testing.T, c mxClients, record string, e umEntry) umAnswer {
			st, b := c.il.post(t, mxCollection, record, "files/delete", map[string]any{"field_id": mxField, "path": e.id})
			return umAnswer{status: st, body: b}
		},
		unsupported: func(t *testing.T, what string, a umAnswer, naming string) {
			t.Helper()
			wantILError(t, what, a.status, a.body, http.StatusNotImplemented, naming)
		},
		extras: []umExtra{
			{"record.update", "", func(t *testing.T, c mxClients, record string, kept umEntry) umAnswer {
				st, b := c.il.post(t, mxCollection, record, "update", map[string]any{"data": map[string]any{"note": "through the front"}})
				return umAnswer{status: st, body: b}
			}, func(t *testing.T, c mxClients, record string, a umAnswer) {
				if a.status != http.StatusOK {
					t.Fatalf("record.update through the front: %d %s", a.status, snippet(a.body))
				}
				rec := c.il.record(t, mxCollection, record, false)
				if string(rec.Data["note"]) != `"through the front"` {
					t.Errorf("record get after update shows note %s", rec.Data["note"])
				}
				if files, _ := rec.files(t, mxField); len(files) == 0 {
					t.Errorf("record get after a data update lost the field's files")
				}
			}, nil},
		},
	},
	{
		dialect:     "mediapocket",
		createRoute: "assets.attachments.create",
		createOK:    http.StatusOK,
		create: func(t *testing.T, c mxClients, record, name string, _ []byte) umAnswer {
			st, h, b := c.mp.create(t, mxCollection, record, map[string]any{"title": name, "description": "placeholder through the front"})
			return umAnswer{st, h, b}
		},
		find: func(t *testing.T, c mxClients, record, name string) (umEntry, bool) {
			return mpFind(t, c.mp, mxCollection, record, name)
		},
		unsupported: func(t *testing.T, what string, a umAnswer, naming string) {
			t.Helper()
			wantMPError(t, what, a.status, a.body, http.StatusNotImplemented, "")
			var e struct{ Error string }
			if json.Unmarshal(a.body, &e); !strings.Contains(e.Error, naming) {
				t.Errorf("%s: error %q does not say %q", what, e.Error, naming)
			}
		},
		extras: []umExtra{
			{"projects.attachments.create", "", func(t *testing.T, c mxClients, record string, kept umEntry) umAnswer {
				st, h, b := c.mp.create(t, "projects", record, map[string]any{"title": "project placeholder"})
				return umAnswer{st, h, b}
			}, func(t *testing.T, c mxClients, record string, a umAnswer) {
				if a.status != http.StatusOK {
					t.Fatalf("projects.attachments.create through the front: %d %s", a.status, snippet(a.body))
				}
				if e, ok := mpFind(t, c.mp, "projects", record, "project placeholder"); !ok || e.typ != "placeholder" {
					t.Errorf("the project placeholder lists as %+v (found %v)", e, ok)
				}
			}, nil},
		},
	},
	{
		dialect:     "nimblex",
		createRoute: "attachments.content.upload", downloadRoute: "attachments.content.get", deleteRoute: "attachments.delete",
		createOK: http.StatusOK, deleteOK: http.StatusNoContent,
		create: func(t *testing.T, c mxClients, record, name string, data []byte) umAnswer {
			return umDo(t, http.MethodPost, c.nx.contentURL(mxCollection, record, "", name), bearer(c.nx.key).with("Content-Type", mxType), data)
		},
		find: func(t *testing.T, c mxClients, record, name string) (umEntry, bool) {
			it, ok := findItem(c.nx.list(t, mxCollection, record), mxCollection+"/"+record+"/attachments/"+name)
			if !ok {
				return umEntry{}, false
			}
			return umEntry{id: resolveLink(t, c.nx.gw, it.Links.Content), name: name, typ: it.Attributes.Mimetype, size: *it.Attributes.Size}, true
		},
		download: func(t *testing.T, c mxClients, record string, e umEntry) (umAnswer, []byte) {
			st, h, b := c.nx.fetch(t, e.id, nil)
			if st != http.StatusOK {
				return umAnswer{st, h, b}, nil
			}
			if ct := h.Get("Content-Type"); ct != e.typ {
				t.Errorf("nimblex download Content-Type %q, list mimetype %q", ct, e.typ)
			}
			return umAnswer{st, h, b}, b
		},
		del: func(t *testing.T, c mxClients, record string, e umEntry) umAnswer {
			return umDo(t, http.MethodDelete, c.nx.deleteURL(mxCollection, record, "", e.name), bearer(c.nx.key), nil)
		},
		unsupported: func(t *testing.T, what string, a umAnswer, _ string) {
			t.Helper()
			wantEmpty(t, what, a.status, a.body, http.StatusNotImplemented)
		},
	},
	{
		dialect:     "transactionlink",
		createRoute: "attachments.create", downloadRoute: "attachments.link", deleteRoute: "attachments.delete",
		createOK: http.StatusCreated, deleteOK: http.StatusNoContent,
		create: func(t *testing.T, c mxClients, record, name string, data []byte) umAnswer {
			st, h, b := c.tl.post(t, mxCollection, record, c.tl.auth(), valuePart("tags", "front"), filePart(name, mxType, data))
			return umAnswer{st, h, b}
		},
		find: func(t *testing.T, c mxClients, record, name string) (umEntry, bool) {
			for _, a := range c.tl.list(t, mxCollection, record) {
				if a.Name == name {
					return umEntry{id: a.ID, name: a.Name, typ: a.Type, size: a.Size, times: []string{a.CreatedDateTime}, timeLayout: time.RFC3339Nano}, true
				}
			}
			return umEntry{}, false
		},
		download: func(t *testing.T, c mxClients, record string, e umEntry) (umAnswer, []byte) {
			a := umDo(t, http.MethodGet, c.tl.attachment(mxCollection, record, e.id), c.tl.auth(), nil)
			if a.status != http.StatusOK {
				return a, nil
			}
			link := c.tl.link(t, mxCollection, record, e.id)
			st, h, b := fetchLink(t, link)
			if st != http.StatusOK {
				// The link call said yes: its answer is what the client got.
				t.Errorf("transactionlink: the link call answered 200 %s, but GET of the link answers %d %s (Content-Type %q)",
					a.body, st, snippet(b), h.Get("Content-Type"))
				return a, nil
			}
			if ct := h.Get("Content-Type"); ct != e.typ {
				t.Errorf("transactionlink link Content-Type %q, list type %q", ct, e.typ)
			}
			return umAnswer{st, h, b}, b
		},
		del: func(t *testing.T, c mxClients, record string, e umEntry) umAnswer {
			return umDo(t, http.MethodDelete, c.tl.attachment(mxCollection, record, e.id), c.tl.auth(), nil)
		},
		unsupported: func(t *testing.T, what string, a umAnswer, naming string) {
			t.Helper()
			if wantTLError(t, what, a.status, a.h, a.body, http.StatusNotImplemented) == "" {
				return
			}
			var e struct{ Errors []struct{ Message string } }
			if json.Unmarshal(a.body, &e); len(e.Errors) != 1 || !strings.Contains(e.Errors[0].Message, naming) {
				t.Errorf("%s: error %s does not say %q", what, a.body, naming)
			}
		},
	},
}

// mpFind finds a file (by original_filename) or a placeholder (by title)
// in a Media Pocket list.
func mpFind(t *testing.T, c mp, kind, record, name string) (umEntry, bool) {
	t.Helper()
	for _, a := range c.list(t, kind, record) {
		orig, _ := deref(a.OriginalFilename).(string)
		if orig == name || (orig == "" && a.Title == name) {
			return umEntry{id: a.ID, name: name, typ: a.MediaType, size: -1,
				times: []string{a.CreatedDate, a.ModificationDate}, timeLayout: time.RFC3339Nano}, true
		}
	}
	return umEntry{}, false
}

// umNames lists the names of the files of a record in collection kind as
// the upstream shows them in its own dialect, sorted.
func umNames(t *testing.T, c mxClients, dialect, kind, record string) []string {
	t.Helper()
	var names []string
	switch dialect {
	case "espocrm":
		st, h, body := c.espo.call(t, http.MethodGet, kind+"/"+record, nil)
		if st == http.StatusNotFound {
			return nil
		}
		if st != http.StatusOK {
			t.Fatalf("upstream espocrm GET %s/%s: %d (%s)", kind, record, st, h.Get("X-Status-Reason"))
		}
		var rec map[string]any
		if err := json.Unmarshal(body, &rec); err != nil {
			t.Fatalf("upstream espocrm record: %s", snippet(body))
		}
		for k, v := range rec {
			if m, ok := v.(map[string]any); ok && strings.HasSuffix(k, "Names") {
				for _, n := range m {
					names = append(names, fmt.Sprint(n))
				}
			}
		}
	case "infolobby":
		st, _, body := do(t, http.MethodGet, c.il.url(kind, record, "get"), bearer(c.il.key), nil)
		if st == http.StatusBadRequest {
			return nil // InfoLobby's missing record
		}
		if st != http.StatusOK {
			t.Fatalf("upstream infolobby record get %s/%s: %d %s", kind, record, st, snippet(body))
		}
		rec := decodeRecord(t, body, false)
		for field, raw := range rec.Data {
			if !strings.HasPrefix(strings.TrimSpace(string(raw)), "[") {
				continue // record data, not a file field
			}
			files, _ := rec.files(t, field)
			for _, f := range files {
				names = append(names, f.Name)
			}
		}
	case "mediapocket":
		st, _, body := do(t, http.MethodGet, c.mp.url(kind, record), c.mp.headers(), nil)
		if st == http.StatusNotFound {
			return nil
		}
		if st != http.StatusOK {
			t.Fatalf("upstream mediapocket list %s/%s: %d %s", kind, record, st, snippet(body))
		}
		for _, a := range c.mp.list(t, kind, record) {
			names = append(names, a.Title)
		}
	case "nimblex":
		st, _, body := do(t, http.MethodGet, c.nx.attachments(kind, record), bearer(c.nx.key), nil)
		if st == http.StatusNotFound {
			return nil
		}
		if st != http.StatusOK {
			t.Fatalf("upstream nimblex list %s/%s: %d %s", kind, record, st, snippet(body))
		}
		for _, it := range c.nx.list(t, kind, record) {
			names = append(names, strings.TrimPrefix(it.ID, kind+"/"+record+"/attachments/"))
		}
	case "transactionlink":
		st, _, body := do(t, http.MethodGet, c.tl.attachments(kind, record), c.tl.auth(), nil)
		if st == http.StatusNotFound {
			return nil
		}
		if st != http.StatusOK {
			t.Fatalf("upstream transactionlink list %s/%s: %d %s", kind, record, st, snippet(body))
		}
		for _, a := range c.tl.list(t, kind, record) {
			names = append(names, a.Name)
		}
	default:
		t.Fatalf("no upstream reader for %s", dialect)
	}
	sort.Strings(names)
	return names
}

// umUpstreamView is the upstream's own view of a file, in its own dialect
// (matrix_test.go's readers, pointed at the upstream).
func umUpstreamView(t *testing.T, c mxClients, dialect, record, name string) mxView {
	t.Helper()
	return umReader(t, dialect).view(t, c, record, name)
}

func umReader(t *testing.T, dialect string) mxReader {
	t.Helper()
	for _, r := range mxReaders {
		if r.name == dialect {
			return r
		}
	}
	t.Fatalf("no reader for %s", dialect)
	return mxReader{}
}

// umReadGaps reads docs/upstream-matrix.md's table of client routes that
// do not work.
func umReadGaps(t *testing.T) (gaps map[string]map[string][]string, partly map[string]map[string]map[string][]string) {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "docs", "upstream-matrix.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cells := func(line string) []string {
		parts := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	gaps, partly = map[string]map[string][]string{}, map[string]map[string]map[string][]string{}
	var cols []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, `| client \ upstream |`):
			cols = cells(line)[1:]
		case cols != nil && strings.HasPrefix(line, "|---"):
		case cols != nil && strings.HasPrefix(line, "|"):
			row := cells(line)
			if len(row) != len(cols)+1 {
				t.Fatalf("docs/upstream-matrix.md: row %q has %d cells, want %d", line, len(row), len(cols)+1)
			}
			for i, cell := range row[1:] {
				if cell == "all work" {
					continue
				}
				for _, r := range strings.Split(cell, ", ") {
					name, why, _ := strings.Cut(r, " (")
					if caps, ok := strings.CutPrefix(why, "partly: "); ok {
						if partly[row[0]] == nil {
							partly[row[0]] = map[string]map[string][]string{}
						}
						if partly[row[0]][cols[i]] == nil {
							partly[row[0]][cols[i]] = map[string][]string{}
						}
						partly[row[0]][cols[i]][name] = strings.Split(strings.TrimSuffix(caps, ")"), " and ")
						continue
					}
					if gaps[row[0]] == nil {
						gaps[row[0]] = map[string][]string{}
					}
					gaps[row[0]][cols[i]] = append(gaps[row[0]][cols[i]], name)
				}
			}
		case cols != nil:
			cols = nil
		}
	}
	if len(gaps) == 0 {
		t.Fatal("docs/upstream-matrix.md: no table of client routes that do not work")
	}
	return gaps, partly
}

// umPair starts the upstream gateway on the bundled store and a front
// gateway speaking dialect to it.
func umPair(t *testing.T, dialect string, frontArgs ...string) (front, back *gateway, fk, bk string) {
	t.Helper()
	back = startGateway(t, "--rate-limit", "0")
	bk = back.key(t, "the-front")
	front = startGateway(t, append([]string{"--upstream", dialect + "+" + back.base, "--upstream-token", bk, "--rate-limit", "0"}, frontArgs...)...)
	fk = front.key(t, "client")
	return front, back, fk, bk
}

func clientsOf(gw *gateway, key string) mxClients {
	return mxClients{tl{gw, key}, espo{gw, key}, il{gw, key}, nx{gw, key}, mp{gw, key}}
}

func TestUpstreamMatrix(t *testing.T) {
	t.Parallel()

	t.Run("the table is the doc's", func(t *testing.T) {
		doc, docPartly := umReadGaps(t)
		for _, c := range umDialects {
			for _, u := range umDialects {
				got, want := slices.Sorted(slices.Values(umGaps[c][u])), slices.Sorted(slices.Values(doc[c][u]))
				if !slices.Equal(got, want) {
					t.Errorf("client %s, upstream %s: the test has gaps %v, docs/upstream-matrix.md %v", c, u, got, want)
				}
				if got, want := umPartly[c][u], docPartly[c][u]; !reflect.DeepEqual(got, want) && (len(got) > 0 || len(want) > 0) {
					t.Errorf("client %s, upstream %s: the test has partial gaps %v, docs/upstream-matrix.md %v", c, u, got, want)
				}
			}
		}
	})

	for ui, up := range umDialects {
		t.Run("upstream "+up, func(t *testing.T) {
			t.Parallel()
			front, back, fk, bk := umPair(t, up)
			fc, bc := clientsOf(front, fk), clientsOf(back, bk)
			for ci, cl := range umClients {
				t.Run("client "+cl.dialect, func(t *testing.T) {
					t.Parallel()
					umRun(t, cl, up, fc, bc, fmt.Sprintf("um-%d-%d", ci, ui), fmt.Sprintf(mxNames[(ci+ui)%len(mxNames)], ci, ui))
				})
			}
		})
	}
}

// umRun does create, list, download and delete through the front in the
// client's dialect, each confirmed at the upstream in the upstream's.
func umRun(t *testing.T, cl umClient, up string, fc, bc mxClients, record, name string) {
	gaps := map[string]bool{}
	for _, r := range umGaps[cl.dialect][up] {
		gaps[r] = true
	}
	deletesPartly := slices.Contains(umPartly[cl.dialect][up][cl.deleteRoute], "delete")
	lacks := "the upstream dialect " + up + " cannot"
	reader := umReader(t, up)

	// The record exists at the upstream, with a file every step must leave
	// alone (Media Pocket can only add to a record that exists).
	kept := mxData(t)
	bc.nx.upload(t, mxCollection, record, "", "kept.pdf", kept, mxType)
	if cl.dialect == "mediapocket" {
		bc.nx.upload(t, "projects", record, "", "kept.pdf", kept, mxType)
	}
	before := umNames(t, bc, up, mxCollection, record)
	if !slices.Equal(before, []string{"kept.pdf"}) {
		t.Fatalf("upstream %s shows %v after the seed, want [kept.pdf]", up, before)
	}
	checkKept := func(when string) {
		t.Helper()
		v := umUpstreamView(t, bc, up, record, "kept.pdf")
		if !v.found {
			t.Errorf("%s: the upstream lost kept.pdf", when)
			return
		}
		checkView(t, reader, record, v, "kept.pdf", kept)
	}
	// Sizes: Media Pocket's attachment object has none, so a front on it
	// cannot know them; what it shows (0) is not held to the file's size.
	sizeKnown := up != "mediapocket"
	checkEntry := func(what string, e umEntry, name, typ string, size int64) {
		t.Helper()
		if e.name != name || e.typ != typ || (sizeKnown && e.size >= 0 && e.size != size) {
			t.Errorf("list through the front shows %s as %q %q, %d bytes; want %q %q, %d", what, e.name, e.typ, e.size, name, typ, size)
		}
		for _, ts := range e.times {
			// Every file here was made in the last minutes.
			if at, err := time.Parse(e.timeLayout, ts); err != nil || time.Since(at).Abs() > 24*time.Hour {
				t.Errorf("list through the front shows %s with time %q, want a time of today as %q", what, ts, e.timeLayout)
			}
		}
	}
	keptEntry, ok := cl.find(t, fc, record, "kept.pdf")
	if !ok {
		t.Fatalf("list through the front does not show kept.pdf, which the upstream holds")
	}
	checkEntry("kept.pdf (put at the upstream directly)", keptEntry, "kept.pdf", mxType, int64(len(kept)))

	// Create.
	data := mxData(t)
	a := cl.create(t, fc, record, name, data)
	created, heldByFront := false, false
	switch {
	case gaps[cl.createRoute]:
		cl.unsupported(t, "create ("+cl.createRoute+")", a, lacks)
		if got := umNames(t, bc, up, mxCollection, record); !slices.Equal(got, before) {
			t.Errorf("after a refused create the upstream shows %v, want %v", got, before)
		}
	case a.status != cl.createOK:
		t.Fatalf("create through the front: status %d (%s) %s, want %d", a.status, a.h.Get("X-Status-Reason"), snippet(a.body), cl.createOK)
	case cl.dialect == "mediapocket" && up != "mediapocket":
		// A placeholder where the upstream's upload is its content: the
		// gateway keeps it, and the upstream is left as it was.
		created, heldByFront = true, true
		var doc struct{ Asset mpAsset }
		if err := json.Unmarshal(a.body, &doc); err != nil || doc.Asset.Title != name || doc.Asset.ParentID != record {
			t.Errorf("create answered %s, want an asset titled %q in %s", snippet(a.body), name, record)
		}
		if got := umNames(t, bc, up, mxCollection, record); !slices.Equal(got, before) {
			t.Errorf("after a placeholder the upstream shows %v, want %v", got, before)
		}
	case cl.dialect == "mediapocket":
		// A placeholder: the upstream shows its title and no bytes.
		created = true
		var doc struct{ Asset mpAsset }
		if err := json.Unmarshal(a.body, &doc); err != nil || doc.Asset.Title != name || doc.Asset.ParentID != record {
			t.Errorf("create answered %s, want an asset titled %q in %s", snippet(a.body), name, record)
		}
		e, ok := mpFind(t, bc.mp, mxCollection, record, name)
		if !ok {
			t.Fatalf("the upstream does not show the placeholder %q: %v", name, umNames(t, bc, up, mxCollection, record))
		}
		if e.typ != "placeholder" {
			t.Errorf("the upstream shows the placeholder with media_type %q, want placeholder", e.typ)
		}
	default:
		created = true
		v := umUpstreamView(t, bc, up, record, name)
		if !v.found {
			t.Fatalf("after create through the front the upstream does not show %q: %v", name, umNames(t, bc, up, mxCollection, record))
		}
		checkView(t, reader, record, v, name, data)
	}
	checkKept("after create")

	// List.
	target, targetData := keptEntry, kept
	if created {
		e, ok := cl.find(t, fc, record, name)
		if !ok {
			t.Fatalf("list through the front does not show %q", name)
		}
		wantType, wantSize := mxType, int64(len(data))
		if cl.dialect == "mediapocket" {
			wantType, wantSize = "placeholder", -1
		}
		checkEntry("the file made through the front", e, name, wantType, wantSize)
		target, targetData = e, data
	} else if _, ok := cl.find(t, fc, record, name); ok {
		t.Errorf("list through the front shows %q, which was refused", name)
	}
	want := before
	if created && !heldByFront {
		want = slices.Sorted(slices.Values(append(slices.Clone(before), name)))
	}
	if got := umNames(t, bc, up, mxCollection, record); !slices.Equal(got, want) {
		t.Errorf("the upstream shows %v, want %v", got, want)
	}

	// Download.
	if cl.download != nil {
		a, got := cl.download(t, fc, record, target)
		switch {
		case gaps[cl.downloadRoute]:
			cl.unsupported(t, "download ("+cl.downloadRoute+")", a, lacks)
		case a.status != http.StatusOK:
			t.Errorf("download %q through the front: status %d (%s) %s", target.name, a.status, a.h.Get("X-Status-Reason"), snippet(a.body))
		case string(got) != string(targetData):
			t.Errorf("download %q through the front: %d bytes that are not the %d written", target.name, len(got), len(targetData))
		}
	}

	// The other routes: each does what it says, or, where the upstream
	// cannot serve it, answers so and changes nothing.
	for _, x := range cl.extras {
		gap := gaps[x.route]
		for _, r := range x.also {
			gap = gap || gaps[r]
		}
		if !gap {
			x.works(t, fc, record, x.call(t, fc, record, keptEntry))
			continue
		}
		naming := x.naming
		if naming == "" {
			naming = lacks
		}
		pre := umNames(t, bc, up, mxCollection, record)
		cl.unsupported(t, x.route, x.call(t, fc, record, keptEntry), naming)
		if got := umNames(t, bc, up, mxCollection, record); !slices.Equal(got, pre) {
			t.Errorf("after a refused %s the upstream shows %v, want %v", x.route, got, pre)
		}
	}

	// Delete.
	if cl.del == nil {
		checkKept("at the end")
		return
	}
	pre := umNames(t, bc, up, mxCollection, record)
	a = cl.del(t, fc, record, target)
	switch {
	case gaps[cl.deleteRoute] || deletesPartly:
		cl.unsupported(t, "delete ("+cl.deleteRoute+")", a, lacks)
		if got := umNames(t, bc, up, mxCollection, record); !slices.Equal(got, pre) {
			t.Errorf("after a refused delete the upstream shows %v, want %v", got, pre)
		}
		if v := umUpstreamView(t, bc, up, record, target.name); !v.found {
			t.Errorf("after a refused delete the upstream lost %q", target.name)
		} else {
			checkView(t, reader, record, v, target.name, targetData)
		}
	case a.status != cl.deleteOK:
		t.Errorf("delete %q through the front: status %d (%s) %s, want %d", target.name, a.status, a.h.Get("X-Status-Reason"), snippet(a.body), cl.deleteOK)
	default:
		if v := umUpstreamView(t, bc, up, record, target.name); v.found {
			t.Errorf("after delete through the front the upstream still shows %q", target.name)
		}
		if got, want := umNames(t, bc, up, mxCollection, record), slices.DeleteFunc(slices.Clone(pre), func(n string) bool { return n == target.name }); !slices.Equal(got, want) {
			t.Errorf("after delete the upstream shows %v, want %v", got, want)
		}
		if _, ok := cl.find(t, fc, record, target.name); ok {
			t.Errorf("after delete the front still lists %q", target.name)
		}
		if got, _ := cl.download(t, fc, record, target); got.status/100 == 2 {
			t.Errorf("after delete the front still downloads %q: %d", target.name, got.status)
		}
	}
	if target.name != "kept.pdf" {
		checkKept("after delete")
	}
}

// TestUpstreamStreams: uploads into a base64 upstream respect its cap and
// are refused before anything is sent; large uploads to a raw upstream go
// through without the front gateway holding them.
func TestUpstreamStreams(t *testing.T) {
	t.Parallel()

	t.Run("nimblex 11 MiB into an infolobby upstream is 413", func(t *testing.T) {
		t.Parallel()
		front, back, fk, bk := umPair(t, "infolobby")
		fc, bc := clientsOf(front, fk), clientsOf(back, bk)
		kept := mxData(t)
		bc.nx.upload(t, mxCollection, "big", "", "kept.pdf", kept, mxType)
		blobs := listFiles(t, filepath.Join(back.data, "store"))

		const size = 11 << 20
		req, err := http.NewRequest(http.MethodPost, fc.nx.contentURL(mxCollection, "big", "", "eleven MiB.bin"),
			&genReader{src: rand.NewChaCha8([32]byte{'1', '1'}), n: size})
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		req.Header.Set("Authorization", "Bearer "+fk)
		req.Header.Set("Content-Type", "application/octet-stream")
		st, _, body := doReq(t, req)
		wantEmpty(t, "11 MiB upload", st, body, http.StatusRequestEntityTooLarge)

		if got := umNames(t, bc, "infolobby", mxCollection, "big"); !slices.Equal(got, []string{"kept.pdf"}) {
			t.Errorf("the upstream shows %v, want only kept.pdf", got)
		}
		if got := listFiles(t, filepath.Join(back.data, "store")); len(got) != len(blobs) {
			t.Errorf("the upstream's store holds %v, it held %v before", got, blobs)
		}
		if got := listFiles(t, filepath.Join(front.data, "upstream-spool")); len(got) != 0 {
			t.Errorf("the front's spool holds %v after the refusal", got)
		}
		// Just under the cap goes through, byte for byte.
		data := randomBytes(t, 10<<20)
		fc.nx.upload(t, mxCollection, "big", "", "ten MiB.bin", data, "application/octet-stream")
		if got := bc.nx.content(t, mxCollection, "big", "", "ten MiB.bin"); string(got) != string(data) {
			t.Errorf("10 MiB through the front: the upstream holds %d bytes that are not the %d sent", len(got), len(data))
		}
	})

	t.Run("64 MiB to a nimblex upstream", func(t *testing.T) {
		t.Parallel()
		front, back, fk, bk := umPair(t, "nimblex")
		fc, bc := clientsOf(front, fk), clientsOf(back, bk)
		const size = 64 << 20
		const limit = 64 << 20 // the front's peak RSS

		// Nimblex raw upload, with its length, as curl --data-binary sends it.
		sent := sha256.New()
		req, err := http.NewRequest(http.MethodPost, fc.nx.contentURL(mxCollection, "huge", "", "raw 64 MiB.bin"),
			io.TeeReader(&genReader{src: rand.NewChaCha8([32]byte{'r', 'a', 'w'}), n: size}, sent))
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = size
		req.Header.Set("Authorization", "Bearer "+fk)
		req.Header.Set("Content-Type", "application/octet-stream")
		st, _, body := doReq(t, req)
		if st != http.StatusOK {
			t.Fatalf("64 MiB nimblex upload: status %d %s", st, snippet(body))
		}
		umSameSHA(t, bc, "huge", "raw 64 MiB.bin", size, hex.EncodeToString(sent.Sum(nil)))
		if rss := peakRSS(t, front); rss >= limit {
			t.Errorf("after the nimblex upload the front's peak RSS is %d MiB, want under %d MiB", rss>>20, limit>>20)
		} else {
			t.Logf("front peak RSS after 64 MiB nimblex -> nimblex: %.1f MiB", float64(rss)/(1<<20))
		}

		// TransactionLink multipart, streamed (chunked, no length).
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		sent = sha256.New()
		go func() {
			err := func() error {
				if err := mw.WriteField("tags", "big"); err != nil {
					return err
				}
				part, err := mw.CreateFormFile("file", "multipart 64 MiB.bin")
				if err != nil {
					return err
				}
				gen := &genReader{src: rand.NewChaCha8([32]byte{'t', 'l'}), n: size}
				if _, err := io.Copy(io.MultiWriter(part, sent), gen); err != nil {
					return err
				}
				return mw.Close()
			}()
			pw.CloseWithError(err)
		}()
		req, err = http.NewRequest(http.MethodPost, fc.tl.attachments(mxCollection, "huge"), pr)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", fk)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		st, _, body = doReq(t, req)
		if st != http.StatusCreated {
			t.Fatalf("64 MiB transactionlink upload: status %d %s", st, snippet(body))
		}
		if a := decodeTLAttachment(t, "create", body); a.Size != size || a.Name != "multipart 64 MiB.bin" {
			t.Errorf("create answered %+v, want multipart 64 MiB.bin of %d bytes", a, size)
		}
		umSameSHA(t, bc, "huge", "multipart 64 MiB.bin", size, hex.EncodeToString(sent.Sum(nil)))
		if rss := peakRSS(t, front); rss >= limit {
			t.Errorf("after the transactionlink upload the front's peak RSS is %d MiB, want under %d MiB", rss>>20, limit>>20)
		} else {
			t.Logf("front peak RSS after 64 MiB transactionlink multipart -> nimblex: %.1f MiB", float64(rss)/(1<<20))
		}
	})
}

// umSameSHA downloads a file from the upstream in Nimblex and compares
// its length and sha256 without holding it.
func umSameSHA(t *testing.T, bc mxClients, record, name string, size int64, want string) {
	t.Helper()
	umSameSHAIn(t, bc, mxCollection, record, "", name, size, want)
}

// umSameSHAIn is umSameSHA for a file of any collection and folder.
func umSameSHAIn(t *testing.T, bc mxClients, collection, record, folder, name string, size int64, want string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, bc.nx.contentURL(collection, record, folder, name), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+bc.nx.key)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("download %q from the upstream: %v", name, err)
	}
	defer resp.Body.Close()
	got := sha256.New()
	n, err := io.Copy(got, resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("download %q from the upstream: status %d, %d bytes, %v", name, resp.StatusCode, n, err)
	}
	if n != size || hex.EncodeToString(got.Sum(nil)) != want {
		t.Errorf("the upstream holds %q as %d bytes with sha256 %x, want %d bytes with sha256 %s", name, n, got.Sum(nil), size, want)
	}
}

// umEspoID is the id of an EspoCRM answer that must have succeeded.
func umEspoID(t *testing.T, what string, a umAnswer) string {
	t.Helper()
	if a.status != http.StatusOK {
		t.Fatalf("%s through the front: %d (%s) %s", what, a.status, a.h.Get("X-Status-Reason"), snippet(a.body))
	}
	var doc struct{ ID string }
	if err := json.Unmarshal(a.body, &doc); err != nil || doc.ID == "" {
		t.Fatalf("%s through the front answered %s, want an object with an id", what, snippet(a.body))
	}
	return doc.ID
}

// umDoEspoChunk sends one EspoCRM chunk, a data URI body, as EspoCRM's
// own client does.
func umDoEspoChunk(t *testing.T, c mxClients, id string, chunk []byte) (int, http.Header, []byte) {
	t.Helper()
	return do(t, http.MethodPost, c.espo.url("Attachment/chunk/"+id), c.espo.headers(), []byte(dataURI("application/octet-stream", chunk)))
}

// umEspoDelete drops an attachment from the record's field, as an EspoCRM
// client deletes one, so later steps see the record as it was.
func umEspoDelete(t *testing.T, c mxClients, record, id string) {
	t.Helper()
	ids := linkIDs(c.espo.record(t, http.MethodGet, mxCollection+"/"+record, nil), mxField)
	keep := slices.DeleteFunc(slices.Clone(ids), func(x string) bool { return x == id })
	if keep == nil {
		keep = []string{}
	}
	if st, h, b := c.espo.call(t, http.MethodPut, mxCollection+"/"+record, map[string]any{mxField + "Ids": keep}); st != http.StatusOK {
		t.Fatalf("espocrm drop %s: %d (%s) %s", id, st, h.Get("X-Status-Reason"), snippet(b))
	}
}
