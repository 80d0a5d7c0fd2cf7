package pgstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/pgstore"
)

// TestStats checks the store gauges: attachments and bytes counted over
// every gateway's writes (placeholders and unlinked files included, as
// the bundled store counts them), answered from the last count within
// the TTL, counted again after it.
func TestStats(t *testing.T) {
	b := servers.Get(t)
	s, other := openStore(t, b), openStore(t, b)
	ctx := context.Background()
	check := func(what string, wantN, wantBytes int64) {
		t.Helper()
		n, bytes, err := s.Stats(ctx)
		if err != nil || n != wantN || bytes != wantBytes {
			t.Errorf("%s: Stats %d attachments, %d bytes (%v); want %d, %d", what, n, bytes, err, wantN, wantBytes)
		}
	}
	check("an empty store", 0, 0)
	ref := upstream.RecordRef{Collection: "c", ID: "r"}
	if _, err := other.Create(ctx, upstream.NewAttachment{Record: ref, Name: "a.txt"}, strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	check("within the TTL", 0, 0)
	pgstore.SetStatsTTL(s, 0)
	check("a file written through another gateway", 1, 5)
	if _, err := other.Create(ctx, upstream.NewAttachment{Name: "unlinked.bin"}, strings.NewReader("abc")); err != nil {
		t.Fatal(err)
	}
	ph, err := other.Create(ctx, upstream.NewAttachment{Record: ref, Name: "later.bin", ExpectedSize: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("an unlinked file and a placeholder", 3, 8)
	if err := other.Delete(ctx, ph.ID); err != nil {
		t.Fatal(err)
	}
	check("after a delete", 2, 8)
	pgstore.SetStatsTTL(s, time.Hour)
	if _, err := other.Create(ctx, upstream.NewAttachment{Record: ref, Name: "b.txt"}, strings.NewReader("more")); err != nil {
		t.Fatal(err)
	}
	check("within the TTL, the last count", 2, 8)
}
