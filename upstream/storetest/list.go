package storetest

import (
	"context"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

func testListOrder(t *testing.T, s upstream.Store, o Options) {
	rec := o.ref("order")
	// Interleaved fields: List groups them by field name, and keeps
	// creation order within each.
	x1 := create(t, s, rec, "b", "x1", []byte("x1"))
	y1 := create(t, s, rec, "a", "y1", []byte("y1"))
	x2 := create(t, s, rec, "b", "x2", nil)
	y2 := create(t, s, rec, "a", "y2", []byte("y2"))
	x3 := create(t, s, rec, "b", "x3", []byte("x3"))

	got := list(t, s, rec)
	wantIDs(t, got, y1.ID, y2.ID, x1.ID, x2.ID, x3.ID)
	wantPositionsIncrease(t, got)
	for _, a := range got {
		st, err := s.Stat(context.Background(), a.ID)
		if err != nil {
			t.Fatalf("Stat %s: %v", a.ID, err)
		}
		sameAttachment(t, a, st)
	}

	// A new file goes after the last one, even when one before it is gone.
	if err := s.Delete(context.Background(), x2.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	x4 := create(t, s, rec, "b", "x4", []byte("x4"))
	got = list(t, s, rec)
	wantIDs(t, got, y1.ID, y2.ID, x1.ID, x3.ID, x4.ID)
	wantPositionsIncrease(t, got)
}

// wantPositionsIncrease checks that positions rise strictly within each
// field of a listing.
func wantPositionsIncrease(t *testing.T, atts []upstream.Attachment) {
	t.Helper()
	for i := 1; i < len(atts); i++ {
		prev, cur := atts[i-1], atts[i]
		if prev.Field > cur.Field {
			t.Fatalf("field %q listed after %q; want fields in order", cur.Field, prev.Field)
		}
		if prev.Field == cur.Field && prev.Position >= cur.Position {
			t.Fatalf("field %q: position %d (%s) listed after %d (%s); want strictly increasing",
				cur.Field, cur.Position, cur.Name, prev.Position, prev.Name)
		}
	}
}

func testListUnknownRecord(t *testing.T, s upstream.Store, o Options) {
	create(t, s, o.ref("known"), "files", "f", []byte("f"))
	tests := []struct {
		name string
		rec  upstream.RecordRef
	}{
		{"never written", o.ref("never")},
		{"same id, other collection", upstream.RecordRef{Collection: "other", ID: "known"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.List(context.Background(), tt.rec)
			wantKind(t, err, upstream.KindNotFound, "List")
		})
	}
}

func testRecordOutlivesFiles(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	rec := o.ref("emptied")
	a := create(t, s, rec, "files", "a", []byte("a"))
	b := create(t, s, rec, "other", "b", nil)
	for _, id := range []string{a.ID, b.ID} {
		if err := s.Delete(ctx, id); err != nil {
			t.Fatalf("Delete %s: %v", id, err)
		}
	}
	got, err := s.List(ctx, rec)
	if err != nil {
		t.Fatalf("List after deleting every file: %v; want an empty list", err)
	}
	if got == nil || len(got) != 0 {
		t.Fatalf("List after deleting every file: %#v; want an empty, non-nil list", got)
	}
	r, err := s.GetRecord(ctx, rec)
	skipUnsupported(t, err, "GetRecord")
	if err != nil {
		t.Fatalf("GetRecord after deleting every file: %v", err)
	}
	if r.Ref != rec {
		t.Fatalf("GetRecord: ref %+v, want %+v", r.Ref, rec)
	}
}

func testGetRecordUnknown(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	_, err := s.GetRecord(ctx, o.ref("never"))
	skipUnsupported(t, err, "GetRecord")
	wantKind(t, err, upstream.KindNotFound, "GetRecord of a record never written")

	// An upload is a write: it brings the record into being.
	create(t, s, o.ref("uploaded"), "files", "f", []byte("f"))
	r, err := s.GetRecord(ctx, o.ref("uploaded"))
	if err != nil {
		t.Fatalf("GetRecord after an upload: %v", err)
	}
	if r.Ref != o.ref("uploaded") {
		t.Fatalf("GetRecord: ref %+v, want %+v", r.Ref, o.ref("uploaded"))
	}
}
