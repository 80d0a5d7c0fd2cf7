package storetest

import (
	"context"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// testReadRecord checks that a RecordReader answers what GetRecord and
// List answer for the same record, and the same not found.
func testReadRecord(t *testing.T, s upstream.Store, o Options) {
	rr, ok := s.(upstream.RecordReader)
	if !ok {
		t.Skipf("store %T does not implement upstream.RecordReader", s)
	}
	ctx := context.Background()
	rec := o.ref("read-record")
	create(t, s, rec, "files", "b.txt", []byte("bee"))
	create(t, s, rec, "docs", "a.txt", []byte("ay"))
	update(t, s, rec, upstream.RecordUpdate{Data: []byte(`{"title":"read together"}`)})

	got, files, err := rr.ReadRecord(ctx, rec)
	skipUnsupported(t, err, "ReadRecord")
	if err != nil {
		t.Fatalf("ReadRecord: %v", err)
	}
	want, err := s.GetRecord(ctx, rec)
	if err != nil {
		t.Fatalf("GetRecord: %v", err)
	}
	if got.Ref != want.Ref || string(got.Data) != string(want.Data) || !got.Created.Equal(want.Created) || !got.Modified.Equal(want.Modified) {
		t.Fatalf("ReadRecord's record %+v, GetRecord's %+v", got, want)
	}
	listed := list(t, s, rec)
	if len(files) != len(listed) {
		t.Fatalf("ReadRecord's %d files, List's %d", len(files), len(listed))
	}
	for i := range files {
		sameAttachment(t, files[i], listed[i])
	}

	_, _, err = rr.ReadRecord(ctx, o.ref("never-made"))
	wantKind(t, err, upstream.KindNotFound, "ReadRecord of an unknown record")
}
