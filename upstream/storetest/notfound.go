package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

func testDeleteTwice(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	a := create(t, s, o.ref("del"), "files", "a", []byte("a"))
	if err := s.Delete(ctx, a.ID); err != nil {
		t.Fatalf("first Delete: %v", err)
	}
	wantKind(t, s.Delete(ctx, a.ID), upstream.KindNotFound, "second Delete")
	gone(t, s, a.ID)
	if got := list(t, s, o.ref("del")); len(got) != 0 {
		t.Fatalf("deleted attachment still listed: %v", ids(got))
	}
}

// testUnknownID uses an id the store really issued and then forgot, so it
// has the store's own format.
func testUnknownID(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	a := create(t, s, o.ref("unknown"), "files", "a", []byte("a"))
	if err := s.Delete(ctx, a.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	gone(t, s, a.ID)
	wantKind(t, s.Delete(ctx, a.ID), upstream.KindNotFound, "Delete")
}

func testMalformedID(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	good := create(t, s, o.ref("malformed"), "files", "a", []byte("a")).ID
	tests := []string{
		"",
		"x",
		"..",
		"/",
		"../../../../etc/passwd",
		"../" + good,
		good + "/..",
		good[:len(good)-1],
		good + "0",
		strings.ToUpper(good) + "X",
		"%2e%2e%2f" + good,
		"a\x00b",
		"blobs/" + good,
		strings.Repeat("f", 4096),
	}
	for _, id := range tests {
		t.Run(strings.ToValidUTF8(id[:min(len(id), 40)], "?"), func(t *testing.T) {
			_, err := s.Stat(ctx, id)
			wantKind(t, err, upstream.KindNotFound, "Stat")
			_, _, err = s.Open(ctx, id)
			wantKind(t, err, upstream.KindNotFound, "Open")
			wantKind(t, s.Delete(ctx, id), upstream.KindNotFound, "Delete")
		})
	}
	// None of that touched the good one.
	if got := read(t, s, good); string(got) != "a" {
		t.Fatalf("content of %s is now %q", good, got)
	}
}
