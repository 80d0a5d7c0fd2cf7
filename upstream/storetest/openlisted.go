package storetest

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// testOpenListed checks that a ListedOpener gives the bytes Open gives,
// with the metadata it was handed, and that a file deleted since it was
// listed is not found rather than answered from the stale listing.
func testOpenListed(t *testing.T, s upstream.Store, o Options) {
	lo, ok := s.(upstream.ListedOpener)
	if !ok {
		t.Skipf("store %T does not implement upstream.ListedOpener", s)
	}
	ctx := context.Background()
	rec := o.ref("open-listed")
	content := patterned(70<<10 + 3)
	create(t, s, rec, "files", "first.bin", []byte("first"))
	made := create(t, s, rec, "files", "second.bin", content)
	listed := list(t, s, rec)
	if len(listed) != 2 || listed[1].ID != made.ID {
		t.Fatalf("listed %v, want the two files made", ids(listed))
	}

	got, c, err := lo.OpenListed(ctx, listed[1])
	skipUnsupported(t, err, "OpenListed")
	if err != nil {
		t.Fatalf("OpenListed: %v", err)
	}
	b, err := io.ReadAll(c)
	c.Close()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if !bytes.Equal(b, content) {
		t.Fatalf("OpenListed read %d bytes, not the %d made", len(b), len(content))
	}
	sameAttachment(t, got, listed[1])

	if err := s.Delete(ctx, made.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	_, c, err = lo.OpenListed(ctx, listed[1])
	if err == nil {
		c.Close()
	}
	wantKind(t, err, upstream.KindNotFound, "OpenListed of a file deleted since it was listed")
}
