package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"testing"
)

// One store through all five dialects: for every dialect that writes bytes
// and every dialect that reads, the same attachment has the same name,
// type, size and bytes; a delete through any dialect that deletes is seen
// by all; and each dialect's own, native-looking id reaches it.
//
// Every dialect addresses the same record: Media Pocket's assets are the
// collection "assets", so that is every dialect's collection (TransactionLink's
// table, InfoLobby's table, Nimblex's eformtype, EspoCRM's entity type), and
// the field is "attachments", the default of the dialects that have none.

const (
	mxCollection = "assets"
	mxField      = "attachments"
	mxType       = "application/pdf"
)

// mxClients are one key's clients of every dialect.
type mxClients struct {
	tl   tl
	espo espo
	il   il
	nx   nx
	mp   mp
}

// mxWriter uploads bytes through one dialect.
type mxWriter struct {
	name   string
	upload func(t *testing.T, c mxClients, record, name string, data []byte)
}

// mxView is what one dialect shows of an attachment.
type mxView struct {
	found bool
	id    string // the dialect's own id for it
	name  string
	typ   string
	size  int64  // -1: the dialect does not say
	data  []byte // nil: the dialect cannot download
	md5   string // "": the dialect does not say
}

// mxReader finds an attachment by name in a record through one dialect,
// and downloads it by that dialect's own id where the dialect can.
type mxReader struct {
	name string
	// native is the shape of the dialect's id for an attachment.
	native func(record, name string) *regexp.Regexp
	view   func(t *testing.T, c mxClients, record, name string) mxView
	// gone checks that the dialect's id of a deleted attachment is refused.
	gone func(t *testing.T, c mxClients, record string, v mxView)
}

// mxDeleter deletes through one dialect, given every dialect's view.
type mxDeleter struct {
	name   string
	delete func(t *testing.T, c mxClients, record string, views map[string]mxView)
}

var mxWriters = []mxWriter{
	{"transactionlink", func(t *testing.T, c mxClients, record, name string, data []byte) {
		c.tl.create(t, mxCollection, record, name, mxType, data)
	}},
	{"espocrm relatedId", func(t *testing.T, c mxClients, record, name string, data []byte) {
		c.espo.upload(t, map[string]any{"name": name, "type": mxType, "role": "Attachment", "relatedType": mxCollection,
			"relatedId": record, "field": mxField, "file": dataURI(mxType, data)})
	}},
	{"espocrm upload then PUT Ids", func(t *testing.T, c mxClients, record, name string, data []byte) {
		a := c.espo.upload(t, map[string]any{"name": name, "type": mxType, "role": "Attachment", "parentType": mxCollection,
			"field": mxField, "file": dataURI(mxType, data)})
		ids := linkIDs(c.espo.record(t, http.MethodGet, mxCollection+"/"+record, nil), mxField)
		rec := c.espo.record(t, http.MethodPut, mxCollection+"/"+record, map[string]any{mxField + "Ids": append(ids, a.ID)})
		if got := linkIDs(rec, mxField); !slices.Contains(got, a.ID) {
			t.Fatalf("PUT %s/%s: %sIds %v, want it to list %s", mxCollection, record, mxField, got, a.ID)
		}
	}},
	{"infolobby", func(t *testing.T, c mxClients, record, name string, data []byte) {
		c.il.create(t, mxCollection, record, mxField, name, mxType, data)
	}},
	{"nimblex", func(t *testing.T, c mxClients, record, name string, data []byte) {
		c.nx.upload(t, mxCollection, record, "", name, data, mxType)
	}},
}

var mxReaders = []mxReader{
	{
		name:   "transactionlink",
		native: func(string, string) *regexp.Regexp { return uuidV4 },
		view: func(t *testing.T, c mxClients, record, name string) mxView {
			for _, a := range c.tl.list(t, mxCollection, record) {
				if a.Name != name {
					continue
				}
				status, h, data := fetchLink(t, c.tl.link(t, mxCollection, record, a.ID))
				if status != http.StatusOK {
					t.Fatalf("transactionlink link of %s: status %d", a.ID, status)
				}
				if ct := h.Get("Content-Type"); ct != a.Type {
					t.Errorf("transactionlink link Content-Type %q, list type %q", ct, a.Type)
				}
				return mxView{found: true, id: a.ID, name: a.Name, typ: a.Type, size: a.Size, data: data}
			}
			return mxView{}
		},
		gone: func(t *testing.T, c mxClients, record string, v mxView) {
			status, h, body := do(t, http.MethodGet, c.tl.attachment(mxCollection, record, v.id), c.tl.auth(), nil)
			wantTLError(t, "transactionlink link of the deleted attachment", status, h, body, http.StatusNotFound)
		},
	},
	{
		name:   "espocrm",
		native: func(string, string) *regexp.Regexp { return espoID },
		view: func(t *testing.T, c mxClients, record, name string) mxView {
			rec := c.espo.record(t, http.MethodGet, mxCollection+"/"+record, nil)
			names, _ := rec[mxField+"Names"].(map[string]any)
			for _, id := range linkIDs(rec, mxField) {
				if names[id] != name {
					continue
				}
				status, _, body := c.espo.call(t, http.MethodGet, "Attachment/"+id, nil)
				if status != http.StatusOK {
					t.Fatalf("espocrm GET Attachment/%s: status %d", id, status)
				}
				a := decodeEspoAttachment(t, "GET Attachment", body)
				h, data := c.espo.file(t, id)
				if ct := h.Get("Content-Type"); ct != a.Type {
					t.Errorf("espocrm file Content-Type %q, attachment type %q", ct, a.Type)
				}
				return mxView{found: true, id: id, name: a.Name, typ: a.Type, size: a.Size, data: data}
			}
			return mxView{}
		},
		gone: func(t *testing.T, c mxClients, record string, v mxView) {
			for _, path := range []string{"Attachment/file/" + v.id, "Attachment/" + v.id} {
				status, h, body := c.espo.call(t, http.MethodGet, path, nil)
				wantEspoError(t, "espocrm GET "+path+" of the deleted attachment", status, h, body, http.StatusNotFound)
			}
		},
	},
	{
		name: "infolobby",
		native: func(_, name string) *regexp.Regexp {
			return regexp.MustCompile(`^/uploads/[0-9a-f]{17}-` + regexp.QuoteMeta(name) + `$`)
		},
		view: func(t *testing.T, c mxClients, record, name string) mxView {
			for _, f := range c.il.fieldFiles(t, mxCollection, record, mxField) {
				if f.Name != name {
					continue
				}
				gotName, typ, size, data := c.il.get(t, mxCollection, record, mxField, f.Path)
				if gotName != f.Name || typ != f.Type || size != f.Size {
					t.Errorf("infolobby files/get says %q %q %d, record get %q %q %d", gotName, typ, size, f.Name, f.Type, f.Size)
				}
				return mxView{found: true, id: f.Path, name: f.Name, typ: f.Type, size: f.Size, data: data}
			}
			return mxView{}
		},
		gone: func(t *testing.T, c mxClients, record string, v mxView) {
			status, body := c.il.post(t, mxCollection, record, "files/get", map[string]any{"field_id": mxField, "path": v.id})
			wantILError(t, "infolobby files/get of the deleted attachment", status, body, http.StatusBadRequest, "")
		},
	},
	{
		name: "nimblex",
		native: func(record, name string) *regexp.Regexp {
			return regexp.MustCompile(`^` + regexp.QuoteMeta(mxCollection+"/"+record+"/attachments/"+name) + `$`)
		},
		view: func(t *testing.T, c mxClients, record, name string) mxView {
			v := viewNimblex(t, c.nx, mxCollection, record, "", name)
			if !v.found {
				return mxView{}
			}
			return mxView{found: true, id: mxCollection + "/" + record + "/attachments/" + name, name: v.name, typ: v.typ, size: v.size, data: v.data}
		},
		gone: func(t *testing.T, c mxClients, record string, v mxView) {
			status, _, body := c.nx.fetch(t, c.nx.contentURL(mxCollection, record, "", v.name), nil)
			wantEmpty(t, "nimblex content of the deleted attachment", status, body, http.StatusNotFound)
		},
	},
	{
		name:   "mediapocket",
		native: func(string, string) *regexp.Regexp { return mpID },
		view: func(t *testing.T, c mxClients, record, name string) mxView {
			for _, a := range c.mp.list(t, mxCollection, record) {
				if deref(a.OriginalFilename) != name {
					continue
				}
				if a.ParentID != record {
					t.Errorf("mediapocket parent_id %q, want %q", a.ParentID, record)
				}
				v := mxView{found: true, id: a.ID, name: name, typ: a.MediaType, size: -1}
				if a.MD5Sum != nil {
					v.md5 = *a.MD5Sum
				}
				return v
			}
			return mxView{}
		},
		gone: func(*testing.T, mxClients, string, mxView) {}, // no call takes a Media Pocket id
	},
}

var mxDeleters = []mxDeleter{
	{"transactionlink", func(t *testing.T, c mxClients, record string, views map[string]mxView) {
		status, _, body := do(t, http.MethodDelete, c.tl.attachment(mxCollection, record, views["transactionlink"].id), c.tl.auth(), nil)
		if status != http.StatusNoContent {
			t.Fatalf("transactionlink delete: status %d %s", status, snippet(body))
		}
	}},
	{"espocrm PUT without it", func(t *testing.T, c mxClients, record string, views map[string]mxView) {
		ids := linkIDs(c.espo.record(t, http.MethodGet, mxCollection+"/"+record, nil), mxField)
		keep := slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return id == views["espocrm"].id })
		if len(keep) != len(ids)-1 {
			t.Fatalf("espocrm %sIds %v does not list %s", mxField, ids, views["espocrm"].id)
		}
		c.espo.record(t, http.MethodPut, mxCollection+"/"+record, map[string]any{mxField + "Ids": keep})
	}},
	{"infolobby", func(t *testing.T, c mxClients, record string, views map[string]mxView) {
		c.il.delete(t, mxCollection, record, mxField, views["infolobby"].id)
	}},
	{"nimblex", func(t *testing.T, c mxClients, record string, views map[string]mxView) {
		status, _, body := do(t, http.MethodDelete, c.nx.deleteURL(mxCollection, record, "", views["nimblex"].name), bearer(c.nx.key), nil)
		if status != http.StatusNoContent {
			t.Fatalf("nimblex delete: status %d %s", status, snippet(body))
		}
	}},
}

// mxNames are the file names the matrix writes (formatted with the
// writer's and reader's indexes): spaces, non-ASCII and characters that
// URLs, JSON and multipart headers treat specially.
var mxNames = []string{
	"Q3 report %d-%d.pdf",
	"Übersicht %d-%d.pdf",
	"a+b&c=%d;%d.pdf",
	"50%% done %d %d.pdf",
	"#%d [final] (%d).pdf",
	"it's \"quoted\" %d-%d.pdf",
}

// mxData is a PDF of unique bytes, so a download can only match its own
// attachment.
func mxData(t *testing.T) []byte {
	return append(append([]byte(nil), pdfBytes...), randomBytes(t, 2048)...)
}

// mxSeed makes the record through Nimblex with a file that every step
// must leave alone, and returns that file's bytes.
func mxSeed(t *testing.T, c mxClients, record string) []byte {
	t.Helper()
	kept := mxData(t)
	c.nx.upload(t, mxCollection, record, "", "kept.pdf", kept, mxType)
	return kept
}

// checkView holds one dialect's view of an attachment to what was written.
func checkView(t *testing.T, r mxReader, record string, v mxView, name string, data []byte) {
	t.Helper()
	if !v.found {
		t.Errorf("%s does not show %q", r.name, name)
		return
	}
	if !r.native(record, name).MatchString(v.id) {
		t.Errorf("%s id %q does not look native (%s)", r.name, v.id, r.native(record, name))
	}
	if v.name != name || v.typ != mxType || (v.size >= 0 && v.size != int64(len(data))) {
		t.Errorf("%s shows name %q type %q size %d, want %q %q %d", r.name, v.name, v.typ, v.size, name, mxType, len(data))
	}
	if v.data != nil && !bytes.Equal(v.data, data) {
		t.Errorf("%s downloads %d bytes that are not the %d written", r.name, len(v.data), len(data))
	}
	if v.md5 != "" && v.md5 != md5Hex(data) {
		t.Errorf("%s md5 %s, want %s", r.name, v.md5, md5Hex(data))
	}
	if r.name == "mediapocket" && v.md5 == "" {
		t.Errorf("mediapocket shows no md5_sum for a file with bytes")
	}
}

func TestMatrixEveryWriterEveryReader(t *testing.T) {
	t.Parallel()
	gw := startGateway(t, "--rate-limit", "0")
	key := gw.key(t, "matrix")
	c := mxClients{tl{gw, key}, espo{gw, key}, il{gw, key}, nx{gw, key}, mp{gw, key}}

	for wi, w := range mxWriters {
		for ri, r := range mxReaders {
			t.Run(w.name+" -> "+r.name, func(t *testing.T) {
				t.Parallel()
				record := fmt.Sprintf("rw-%d-%d", wi, ri)
				kept := mxSeed(t, c, record)
				name := fmt.Sprintf(mxNames[(wi+ri)%len(mxNames)], wi, ri)
				data := mxData(t)
				w.upload(t, c, record, name, data)
				checkView(t, r, record, r.view(t, c, record, name), name, data)
				checkView(t, r, record, r.view(t, c, record, "kept.pdf"), "kept.pdf", kept)
			})
		}
	}
}

func TestMatrixDeleteThroughAnyIsSeenByAll(t *testing.T) {
	t.Parallel()
	gw := startGateway(t, "--rate-limit", "0")
	key := gw.key(t, "matrix")
	c := mxClients{tl{gw, key}, espo{gw, key}, il{gw, key}, nx{gw, key}, mp{gw, key}}

	for wi, w := range mxWriters {
		for di, d := range mxDeleters {
			t.Run(w.name+" deleted through "+d.name, func(t *testing.T) {
				t.Parallel()
				record := fmt.Sprintf("del-%d-%d", wi, di)
				kept := mxSeed(t, c, record)
				name := fmt.Sprintf(mxNames[(wi+di)%len(mxNames)], wi, di)
				data := mxData(t)
				w.upload(t, c, record, name, data)

				// Every dialect's id, each checked to reach the same bytes.
				views := map[string]mxView{}
				for _, r := range mxReaders {
					views[r.name] = r.view(t, c, record, name)
					checkView(t, r, record, views[r.name], name, data)
				}
				if t.Failed() {
					t.FailNow()
				}
				d.delete(t, c, record, views)
				for _, r := range mxReaders {
					if v := r.view(t, c, record, name); v.found {
						t.Errorf("%s still shows the attachment deleted through %s", r.name, d.name)
					}
					r.gone(t, c, record, views[r.name])
					checkView(t, r, record, r.view(t, c, record, "kept.pdf"), "kept.pdf", kept)
				}
			})
		}
	}
}

func TestMatrixIDsAreNotInterchangeable(t *testing.T) {
	t.Parallel()
	gw := startGateway(t)
	key := gw.key(t, "matrix")
	c := mxClients{tl{gw, key}, espo{gw, key}, il{gw, key}, nx{gw, key}, mp{gw, key}}
	mxSeed(t, c, "ids")
	views := map[string]mxView{}
	for _, r := range mxReaders {
		views[r.name] = r.view(t, c, "ids", "kept.pdf")
	}
	// Another dialect's id of the same attachment is not an id here.
	for _, other := range []string{"espocrm", "mediapocket"} {
		status, h, body := do(t, http.MethodGet, c.tl.attachment(mxCollection, "ids", views[other].id), c.tl.auth(), nil)
		wantTLError(t, "transactionlink link with the "+other+" id", status, h, body, http.StatusNotFound)
	}
	for _, other := range []string{"transactionlink", "mediapocket"} {
		status, h, body := c.espo.call(t, http.MethodGet, "Attachment/file/"+views[other].id, nil)
		wantEspoError(t, "espocrm file with the "+other+" id", status, h, body, http.StatusNotFound)
	}
	for _, other := range []string{"transactionlink", "espocrm"} {
		status, body := c.il.post(t, mxCollection, "ids", "files/get", map[string]any{"field_id": mxField, "path": views[other].id})
		wantILError(t, "infolobby files/get with the "+other+" id", status, body, http.StatusBadRequest, "")
	}
}
