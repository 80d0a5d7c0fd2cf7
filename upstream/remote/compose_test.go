package remote_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"testing"

	"github.com/dragoman-gw/dragoman"
	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/remote"
)

// These cases cover what the conformance suite cannot reach through the
// remote store: most of its cases start from a placeholder, which no
// dialect that takes bytes can make, so here the same behaviours are
// checked with files that have content, and against what the bundled
// store behind the gateway really holds.

func routes(t testing.TB) *translate.Config {
	t.Helper()
	cfg, err := translate.Load(dragoman.DefaultRoutes())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// writers are the dialects that can upload bytes into any collection.
var writers = []string{"espocrm", "infolobby", "nimblex", "transactionlink"}

var tables = func(id string) upstream.RecordRef { return upstream.RecordRef{Collection: "tables", ID: id} }

func mustCreate(t *testing.T, s upstream.Store, rec upstream.RecordRef, field, name, content string) upstream.Attachment {
	t.Helper()
	na := upstream.NewAttachment{Record: rec, Field: field, Name: name, Type: "text/plain", Owner: "client-key"}
	a, err := s.Create(context.Background(), na, bytes.NewReader([]byte(content)))
	if err != nil {
		t.Fatalf("Create %s/%s: %v", field, name, err)
	}
	return a
}

func listIDs(t *testing.T, s upstream.Store, rec upstream.RecordRef) []string {
	t.Helper()
	atts, err := s.List(context.Background(), rec)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	out := make([]string, len(atts))
	for i, a := range atts {
		out[i] = a.ID
	}
	return out
}

func names(atts []upstream.Attachment) []string {
	out := make([]string, len(atts))
	for i, a := range atts {
		out[i] = a.Field + "/" + a.Name
	}
	return out
}

func readAll(t *testing.T, s upstream.Store, id string) string {
	t.Helper()
	_, c, err := s.Open(context.Background(), id)
	if err != nil {
		t.Fatalf("Open %s: %v", id, err)
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	return string(b)
}

// TestListOrderWithContent is the suite's ListOrder with bytes in every
// file: fields grouped, upstream order kept, Stat agreeing with List, and
// a new file after the last even when one before it is gone.
func TestListOrderWithContent(t *testing.T) {
	cfg := routes(t)
	for _, dialect := range writers {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			s := loopbackWith(t, cfg, dialect, t.TempDir()).s
			ctx := context.Background()
			rec := tables("order")
			x1 := mustCreate(t, s, rec, "b", "x1", "1")
			y1 := mustCreate(t, s, rec, "a", "y1", "2")
			x2 := mustCreate(t, s, rec, "b", "x2", "3")
			y2 := mustCreate(t, s, rec, "a", "y2", "4")
			x3 := mustCreate(t, s, rec, "b", "x3", "5")
			if got, want := listIDs(t, s, rec), []string{y1.ID, y2.ID, x1.ID, x2.ID, x3.ID}; !slices.Equal(got, want) {
				t.Fatalf("listed %v, want %v", got, want)
			}
			atts, _ := s.List(ctx, rec)
			for i, a := range atts {
				st, err := s.Stat(ctx, a.ID)
				if err != nil {
					t.Fatalf("Stat: %v", err)
				}
				st.Created, st.Modified, a.Created, a.Modified = a.Created, a.Modified, st.Created, st.Modified
				if !sameJSON(st, a) {
					t.Fatalf("Stat %+v\nList %+v", st, a)
				}
				if i > 0 && atts[i-1].Field == a.Field && atts[i-1].Position >= a.Position {
					t.Fatalf("positions do not increase: %v", atts)
				}
				if a.Owner != "client-key" {
					t.Fatalf("owner %q: the gateway's client, not the upstream's key, owns it", a.Owner)
				}
			}
			if err := s.Delete(ctx, x2.ID); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			x4 := mustCreate(t, s, rec, "b", "x4", "6")
			if got, want := listIDs(t, s, rec), []string{y1.ID, y2.ID, x1.ID, x3.ID, x4.ID}; !slices.Equal(got, want) {
				t.Fatalf("after delete and create: %v, want %v", got, want)
			}
			if got := readAll(t, s, x4.ID); got != "6" {
				t.Fatalf("content %q", got)
			}
		})
	}
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestFieldlessUpstream checks a dialect without fields: the upstream
// keeps every file in its one list, and the gateway keeps the field.
func TestFieldlessUpstream(t *testing.T) {
	g := loopbackWith(t, routes(t), "transactionlink", t.TempDir())
	s, back := g.s, g.back
	ctx := context.Background()
	a := mustCreate(t, s, tables("r"), "contracts", "a.txt", "a")
	if a.Field != "contracts" {
		t.Fatalf("field %q, want contracts", a.Field)
	}
	up, err := back.List(ctx, tables("r"))
	if err != nil || len(up) != 1 || up[0].Field != upstream.DefaultField || up[0].Owner != "gateway" {
		t.Fatalf("upstream holds %+v, %v; want one file in the default field, owned by the gateway's key", up, err)
	}
}

// TestDeleteThroughRecordUpdate checks EspoCRM, which has no delete call:
// a file is deleted by leaving it out of its field.
func TestDeleteThroughRecordUpdate(t *testing.T) {
	g := loopbackWith(t, routes(t), "espocrm", t.TempDir())
	s, back := g.s, g.back
	ctx := context.Background()
	rec := tables("doc")
	a := mustCreate(t, s, rec, "files", "a", "a")
	b := mustCreate(t, s, rec, "files", "b", "b")
	c := mustCreate(t, s, rec, "files", "c", "c")
	other := mustCreate(t, s, rec, "other", "b", "other b")
	if err := s.Delete(ctx, b.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got, want := listIDs(t, s, rec), []string{a.ID, c.ID, other.ID}; !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	up, _ := back.List(ctx, rec)
	if got := names(up); !slices.Equal(got, []string{"files/a", "files/c", "other/b"}) {
		t.Fatalf("upstream holds %v", got)
	}
	if _, err := s.Stat(ctx, b.ID); !upstream.IsKind(err, upstream.KindNotFound) {
		t.Fatalf("Stat of the deleted file: %v", err)
	}
	if err := s.Delete(ctx, b.ID); !upstream.IsKind(err, upstream.KindNotFound) {
		t.Fatalf("second Delete: %v", err)
	}

	// An unlinked upload is in no field: the gateway forgets it at once,
	// and the upstream's own expiry of unlinked uploads removes it.
	u, err := s.Create(ctx, upstream.NewAttachment{Record: upstream.RecordRef{Collection: "tables"}, Field: "files", Name: "u"},
		bytes.NewReader([]byte("u")))
	if err != nil {
		t.Fatalf("Create unlinked: %v", err)
	}
	if err := s.Delete(ctx, u.ID); err != nil {
		t.Fatalf("Delete unlinked: %v", err)
	}
	if _, err := s.Stat(ctx, u.ID); !upstream.IsKind(err, upstream.KindNotFound) {
		t.Fatalf("Stat of a deleted unlinked file: %v", err)
	}
	if n, err := back.ExpireUnlinked(ctx, u.Created.Add(1<<40)); err != nil || n != 1 {
		t.Fatalf("the upstream expired %d unlinked uploads (%v), want the one the gateway let go", n, err)
	}
}

// TestUpdateRecordWithContent is the suite's reorder and prune cases with
// bytes, through the dialects with a record update.
func TestUpdateRecordWithContent(t *testing.T) {
	cfg := routes(t)
	for _, dialect := range []string{"espocrm", "infolobby"} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			g := loopbackWith(t, cfg, dialect, t.TempDir())
			s, back := g.s, g.back
			ctx := context.Background()
			rec := tables("upd")
			a := mustCreate(t, s, rec, "files", "a", "a")
			b := mustCreate(t, s, rec, "files", "b", "b")
			c := mustCreate(t, s, rec, "files", "c", "c")
			d := mustCreate(t, s, rec, "other", "d", "d")
			r, err := s.UpdateRecord(ctx, rec, upstream.RecordUpdate{Data: json.RawMessage(`{"k":1}`),
				Fields: map[string][]string{"files": {c.ID, a.ID, b.ID}}})
			if err != nil {
				t.Fatalf("reorder: %v", err)
			}
			if !sameJSON(json.RawMessage(r.Data), json.RawMessage(`{"k":1}`)) {
				t.Fatalf("data %s", r.Data)
			}
			if got, want := listIDs(t, s, rec), []string{c.ID, a.ID, b.ID, d.ID}; !slices.Equal(got, want) {
				t.Fatalf("after reorder %v, want %v", got, want)
			}
			if _, err := s.UpdateRecord(ctx, rec, upstream.RecordUpdate{Fields: map[string][]string{"files": {b.ID}}}); err != nil {
				t.Fatalf("prune: %v", err)
			}
			if got, want := listIDs(t, s, rec), []string{b.ID, d.ID}; !slices.Equal(got, want) {
				t.Fatalf("after prune %v, want %v", got, want)
			}
			up, _ := back.List(ctx, rec)
			if got := names(up); !slices.Equal(got, []string{"files/b", "other/d"}) {
				t.Fatalf("upstream holds %v", got)
			}
			for _, id := range []string{a.ID, c.ID} {
				if _, err := s.Stat(ctx, id); !upstream.IsKind(err, upstream.KindNotFound) {
					t.Fatalf("Stat of a pruned file: %v", err)
				}
			}
			// Another record's file is made again here, under the id its
			// clients know, and leaves its old record.
			x := mustCreate(t, s, tables("elsewhere"), "files", "x", "x")
			if _, err := s.UpdateRecord(ctx, rec, upstream.RecordUpdate{Fields: map[string][]string{"files": {b.ID, x.ID}}}); err != nil {
				t.Fatalf("move from another record: %v", err)
			}
			if got, want := listIDs(t, s, rec), []string{b.ID, x.ID, d.ID}; !slices.Equal(got, want) {
				t.Fatalf("after the move %v, want %v", got, want)
			}
			up, _ = back.List(ctx, rec)
			if got := names(up); !slices.Equal(got, []string{"files/b", "files/x", "other/d"}) {
				t.Fatalf("upstream holds %v after the move", got)
			}
			if left, _ := back.List(ctx, tables("elsewhere")); len(left) != 0 {
				t.Fatalf("the record moved from still holds %v upstream", names(left))
			}
			if got := readAll(t, s, x.ID); got != "x" {
				t.Fatalf("moved content %q", got)
			}
			wantData(t, s, rec, `{"k":1}`)
		})
	}
}

func wantData(t *testing.T, s upstream.Store, rec upstream.RecordRef, want string) {
	t.Helper()
	r, err := s.GetRecord(context.Background(), rec)
	if err != nil {
		t.Fatalf("GetRecord: %v", err)
	}
	var g, w any
	_ = json.Unmarshal(r.Data, &g)
	_ = json.Unmarshal([]byte(want), &w)
	if !sameJSON(g, w) {
		t.Fatalf("data %s, want %s", r.Data, want)
	}
}

// TestIDsOutliveTheProcess checks that an id handed out keeps reaching the
// same upstream object after the gateway restarts.
func TestIDsOutliveTheProcess(t *testing.T) {
	cfg := routes(t)
	for _, dialect := range writers {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			g := loopbackWith(t, cfg, dialect, dir)
			s := g.s
			a := mustCreate(t, s, tables("r"), "files", "kept.txt", "kept")
			url := g.url
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			sp, _ := cfg.Speaker(dialect)
			again, err := remote.New(remote.Options{Speaker: sp, URL: url, Token: upstreamToken, DataDir: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer again.Close()
			st, err := again.Stat(context.Background(), a.ID)
			if err != nil || st.Name != "kept.txt" || st.SHA256 != a.SHA256 || st.Owner != "client-key" {
				t.Fatalf("after restart: %+v, %v", st, err)
			}
			if got := readAll(t, again, a.ID); got != "kept" {
				t.Fatalf("content %q", got)
			}
		})
	}
}

// TestMediaPocketUpstream checks the one dialect that makes placeholders
// and takes no bytes, on its own collections.
func TestMediaPocketUpstream(t *testing.T) {
	g := loopbackWith(t, routes(t), "mediapocket", t.TempDir())
	s, back := g.s, g.back
	ctx := context.Background()
	asset := upstream.RecordRef{Collection: "assets", ID: "A1"}
	// Media Pocket creates attachments only on assets that exist: one
	// comes into being through any other dialect's upload.
	if _, err := back.Create(ctx, upstream.NewAttachment{Record: asset, Name: "seed"}, bytes.NewReader([]byte("s"))); err != nil {
		t.Fatal(err)
	}
	na := upstream.NewAttachment{Record: asset, Name: "scan.pdf", Title: "Scan", Description: "a scan",
		Tags: []string{"x"}, ExternalID: "e1", Owner: "client-key"}
	a, err := s.Create(ctx, na, nil)
	if err != nil {
		t.Fatalf("Create placeholder: %v", err)
	}
	if a.HasContent || a.Title != "Scan" || a.Description != "a scan" || a.ExternalID != "e1" || a.Owner != "client-key" ||
		!slices.Equal(a.Tags, []string{"x"}) || a.Field != upstream.DefaultField {
		t.Fatalf("placeholder %+v", a)
	}
	st, err := s.Stat(ctx, a.ID)
	if err != nil || !sameJSON(st, a) {
		t.Fatalf("Stat %+v, %v\nwant %+v", st, err, a)
	}
	if _, _, err := s.Open(ctx, a.ID); !upstream.IsKind(err, upstream.KindNotFound) {
		t.Fatalf("Open a placeholder: %v", err)
	}
	if _, err := s.Create(ctx, na, bytes.NewReader([]byte("bytes"))); !upstream.IsKind(err, upstream.KindUnsupported) {
		t.Fatalf("Create with bytes: %v", err)
	}
	if err := s.Delete(ctx, a.ID); !upstream.IsKind(err, upstream.KindUnsupported) {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.List(ctx, upstream.RecordRef{Collection: "assets", ID: "nope"}); !upstream.IsKind(err, upstream.KindNotFound) {
		t.Fatalf("List an unknown asset: %v", err)
	}
	if _, err := s.List(ctx, tables("r")); !upstream.IsKind(err, upstream.KindUnsupported) {
		t.Fatalf("List outside assets and projects: %v", err)
	}
}
