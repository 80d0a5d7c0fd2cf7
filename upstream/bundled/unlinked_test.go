package bundled

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
)

func createUnlinked(t *testing.T, s *Store, collection, name string, content []byte) upstream.Attachment {
	t.Helper()
	na := upstream.NewAttachment{Record: upstream.RecordRef{Collection: collection}, Name: name}
	var src io.Reader // a nil *bytes.Reader would not be a nil io.Reader
	if content != nil {
		src = bytes.NewReader(content)
	}
	a, err := s.Create(t.Context(), na, src)
	if err != nil {
		t.Fatalf("Create unlinked %q: %v", name, err)
	}
	return a
}

func createPartial(t *testing.T, s *Store, r upstream.RecordRef, name string, expected int64) upstream.Attachment {
	t.Helper()
	a, err := s.Create(t.Context(), upstream.NewAttachment{Record: r, Field: "files", Name: name, ExpectedSize: expected}, nil)
	if err != nil {
		t.Fatalf("Create partial %q: %v", name, err)
	}
	return a
}

// TestUnlinkedIndex follows unlinked attachments through every operation
// that can touch them, checking the buckets stay in step.
func TestUnlinkedIndex(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t, t.TempDir())
	l := mustCreate(t, s, rec("r"), "l", []byte("l"))
	u := createUnlinked(t, s, "tables", "u", []byte("u"))
	v := createUnlinked(t, s, "", "v", nil)
	w := createUnlinked(t, s, "tables", "w", []byte("w"))
	p := createPartial(t, s, upstream.RecordRef{Collection: "tables"}, "p", 10)
	checkConsistent(t, s)
	if u.Field != upstream.DefaultField || u.Position != 0 {
		t.Fatalf("unlinked: field %q position %d; want %q, 0", u.Field, u.Position, upstream.DefaultField)
	}

	// NUL is refused in an unlinked collection as in any other.
	_, err := s.Create(ctx, upstream.NewAttachment{Record: upstream.RecordRef{Collection: "t\x00"}}, bytes.NewReader([]byte("x")))
	if !upstream.IsKind(err, upstream.KindInvalid) {
		t.Fatalf("Create unlinked with NUL in the collection: %v, want invalid", err)
	}
	// ReplaceSameName has no record to replace in.
	w2, err := s.Create(ctx, upstream.NewAttachment{Record: upstream.RecordRef{Collection: "tables"}, Name: "w", ReplaceSameName: true}, bytes.NewReader([]byte("w2")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, w.ID); err != nil {
		t.Fatalf("ReplaceSameName on an unlinked create replaced %s: %v", w.ID, err)
	}

	before, err := s.GetRecord(ctx, rec("r"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, v.ID); err != nil {
		t.Fatal(err)
	}
	if after, _ := s.GetRecord(ctx, rec("r")); after.Modified != before.Modified {
		t.Fatal("deleting an unlinked attachment touched a record")
	}
	checkConsistent(t, s)

	if _, err := s.UpdateRecord(ctx, rec("r"), upstream.RecordUpdate{Fields: map[string][]string{"files": {l.ID, u.ID, p.ID}}}); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
	list, err := s.List(ctx, rec("r"))
	if err != nil || len(list) != 3 || list[1].ID != u.ID || list[2].ID != p.ID {
		t.Fatalf("List after linking: %v, %v", ids(list), err)
	}
	// Pruning the field deletes what was linked, blobs and all.
	if _, err := s.UpdateRecord(ctx, rec("r"), upstream.RecordUpdate{Fields: map[string][]string{"files": {}}}); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
	for _, id := range []string{l.ID, u.ID, p.ID} {
		if exists(s.blobPath(id)) {
			t.Errorf("blob of %s outlived its attachment", id)
		}
	}
	if _, err := s.ExpireUnlinked(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	checkConsistent(t, s)
	for _, id := range []string{w.ID, w2.ID} {
		if exists(s.blobPath(id)) {
			t.Errorf("blob of expired %s left", id)
		}
	}
}

func ids(atts []upstream.Attachment) []string {
	out := make([]string, len(atts))
	for i, a := range atts {
		out[i] = a.ID
	}
	return out
}

// TestExpireUnlinkedBatches expires more than one batch, partials
// included, and removes their blobs.
func TestExpireUnlinkedBatches(t *testing.T) {
	defer func(n int) { expireBatch = n }(expireBatch)
	expireBatch = 3
	ctx := t.Context()
	dir := t.TempDir()
	s := mustOpen(t, dir)
	keep := mustCreate(t, s, rec("r"), "keep", []byte("keep"))
	const n = 8
	for i := range n {
		if i%2 == 0 {
			createUnlinked(t, s, "tables", fmt.Sprint(i), []byte("u"))
		} else {
			p := createPartial(t, s, upstream.RecordRef{Collection: "tables"}, fmt.Sprint(i), 10)
			if _, err := s.Append(ctx, p.ID, bytes.NewReader([]byte("half"))); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := s.ExpireUnlinked(ctx, time.Now().Add(time.Second))
	if err != nil || got != n {
		t.Fatalf("ExpireUnlinked: %d, %v; want %d", got, err, n)
	}
	if left := files(t, filepath.Join(dir, "blobs")); len(left) != 1 {
		t.Fatalf("blobs left %v, want only %s's", left, keep.ID)
	}
	checkConsistent(t, s)

	// A cancelled sweep stops.
	createUnlinked(t, s, "tables", "late", []byte("late"))
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.ExpireUnlinked(cancelled, time.Now().Add(time.Second)); !upstream.IsKind(err, upstream.KindTimeout) {
		t.Fatalf("ExpireUnlinked with a cancelled context: %v", err)
	}
}
