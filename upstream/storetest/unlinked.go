package storetest

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// createUnlinked makes an attachment that belongs to no record (rec.ID is
// empty), skipping when the store cannot.
func createUnlinked(t *testing.T, s upstream.Store, rec upstream.RecordRef, name string, content []byte) upstream.Attachment {
	t.Helper()
	if rec.ID != "" {
		t.Fatalf("createUnlinked with record id %q", rec.ID)
	}
	na := upstream.NewAttachment{Record: rec, Field: "files", Name: name, Type: "application/octet-stream"}
	var r io.Reader
	if content != nil {
		r = bytes.NewReader(content)
	}
	a, err := s.Create(context.Background(), na, r)
	skipUnsupported(t, err, "unlinked attachments (Create with an empty record id)")
	if err != nil {
		t.Fatalf("Create unlinked %q in collection %q: %v", name, rec.Collection, err)
	}
	return a
}

// wantNoRecord fails the test unless rec is unknown to List and GetRecord.
func wantNoRecord(t *testing.T, s upstream.Store, rec upstream.RecordRef) {
	t.Helper()
	_, err := s.List(context.Background(), rec)
	wantKind(t, err, upstream.KindNotFound, "List "+rec.Collection+"/"+rec.ID)
	_, err = s.GetRecord(context.Background(), rec)
	if upstream.IsKind(err, upstream.KindUnsupported) {
		return
	}
	wantKind(t, err, upstream.KindNotFound, "GetRecord "+rec.Collection+"/"+rec.ID)
}

func testUnlinked(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	col := o.unlinked()
	rec := o.ref("beside")
	a := create(t, s, rec, "files", "a", []byte("a"))
	u := createUnlinked(t, s, col, "u.txt", []byte("unlinked content"))
	// Not even a collection, and no content yet.
	bare := createUnlinked(t, s, upstream.RecordRef{}, "bare", nil)
	b := create(t, s, rec, "files", "b", []byte("b"))

	if u.Record != col {
		t.Fatalf("Create unlinked: record %+v, want %+v", u.Record, col)
	}
	if u.Size != int64(len("unlinked content")) || !u.HasContent || u.SHA256 != sha256Hex([]byte("unlinked content")) {
		t.Fatalf("Create unlinked: size %d, has content %v, sha256 %s", u.Size, u.HasContent, u.SHA256)
	}
	for _, x := range []upstream.Attachment{u, bare} {
		st, err := s.Stat(ctx, x.ID)
		if err != nil {
			t.Fatalf("Stat unlinked %s: %v", x.ID, err)
		}
		sameAttachment(t, st, x)
	}
	if got := read(t, s, u.ID); string(got) != "unlinked content" {
		t.Fatalf("content of the unlinked attachment %q", got)
	}
	_, _, err := s.Open(ctx, bare.ID)
	wantKind(t, err, upstream.KindNotFound, "Open an unlinked placeholder")

	// In no listing, and no record came of it.
	got := list(t, s, rec)
	wantIDs(t, got, a.ID, b.ID)
	wantPositionsIncrease(t, got)
	wantNoRecord(t, s, col)
	wantNoRecord(t, s, upstream.RecordRef{})

	if err := s.Delete(ctx, u.ID); err != nil {
		t.Fatalf("Delete unlinked: %v", err)
	}
	gone(t, s, u.ID)
	wantKind(t, s.Delete(ctx, u.ID), upstream.KindNotFound, "second Delete of an unlinked attachment")
	if err := s.Delete(ctx, bare.ID); err != nil {
		t.Fatalf("Delete unlinked placeholder: %v", err)
	}
	gone(t, s, bare.ID)
	wantNoRecord(t, s, col)
	wantIDs(t, list(t, s, rec), a.ID, b.ID)
}

// testUnlinkedLink links unlinked attachments the way EspoCRM does: by
// listing them in a record's field.
func testUnlinkedLink(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	col := o.unlinked()
	rec := o.ref("linked-later")
	a := create(t, s, rec, "files", "a", []byte("a"))
	u := createUnlinked(t, s, col, "u", []byte("u"))
	v := createUnlinked(t, s, upstream.RecordRef{Collection: "elsewhere"}, "v", nil)
	w := createUnlinked(t, s, col, "w", []byte("w"))

	update(t, s, rec, upstream.RecordUpdate{Fields: fields("files", []string{a.ID, u.ID}, "docs", []string{v.ID})})
	got := list(t, s, rec)
	wantIDs(t, got, v.ID, a.ID, u.ID)
	wantPositionsIncrease(t, got)
	for _, x := range got {
		st, err := s.Stat(ctx, x.ID)
		if err != nil {
			t.Fatalf("Stat %s: %v", x.ID, err)
		}
		if st.Record != rec {
			t.Fatalf("linked %s: record %+v, want %+v", x.ID, st.Record, rec)
		}
		sameAttachment(t, st, x)
	}
	if got[0].Field != "docs" || got[2].Field != "files" {
		t.Fatalf("linked into fields %q and %q, want docs and files", got[0].Field, got[2].Field)
	}
	if c := read(t, s, u.ID); string(c) != "u" {
		t.Fatalf("content after linking %q", c)
	}
	// Linking wrote no record for the collection they were uploaded to.
	wantNoRecord(t, s, col)

	// w stays unlinked and unlisted until a record lists it, then moves
	// like any other attachment.
	other := o.ref("other")
	update(t, s, other, upstream.RecordUpdate{Fields: fields("files", []string{w.ID})})
	wantIDs(t, list(t, s, other), w.ID)
	update(t, s, rec, upstream.RecordUpdate{Fields: fields("files", []string{w.ID})})
	wantIDs(t, list(t, s, rec), v.ID, w.ID)
	wantIDs(t, list(t, s, other))
	gone(t, s, a.ID)
	gone(t, s, u.ID)
}
