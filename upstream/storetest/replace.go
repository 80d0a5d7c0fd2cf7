package storetest

import (
	"bytes"
	"context"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

func testReplaceSameName(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	rec := o.ref("replace")
	old := create(t, s, rec, "files", "a.txt", []byte("old"))
	b := create(t, s, rec, "files", "b.txt", []byte("b"))
	// Same name in another field: not the same file.
	other := create(t, s, rec, "other", "a.txt", []byte("other"))
	// Without ReplaceSameName, names may repeat.
	dup := create(t, s, rec, "files", "b.txt", []byte("b again"))

	na := upstream.NewAttachment{Record: rec, Field: "files", Name: "a.txt", ReplaceSameName: true}
	repl, err := s.Create(ctx, na, bytes.NewReader([]byte("new")))
	skipUnsupported(t, err, "Create with ReplaceSameName")
	if err != nil {
		t.Fatalf("Create replacing: %v", err)
	}
	if repl.ID == old.ID {
		t.Fatal("the replacement has the id of the file it replaced")
	}
	wantIDs(t, list(t, s, rec), b.ID, dup.ID, repl.ID, other.ID)
	gone(t, s, old.ID)
	if got := read(t, s, repl.ID); string(got) != "new" {
		t.Fatalf("replacement content %q, want %q", got, "new")
	}
	if got := read(t, s, other.ID); string(got) != "other" {
		t.Fatalf("same name in another field: content %q, want %q", got, "other")
	}

	// Replacing a name that is not there is a plain create.
	na.Name = "c.txt"
	c, err := s.Create(ctx, na, bytes.NewReader([]byte("c")))
	if err != nil {
		t.Fatalf("Create replacing a name not there: %v", err)
	}
	wantIDs(t, list(t, s, rec), b.ID, dup.ID, repl.ID, c.ID, other.ID)

	// Of two files of one name, the one replaced is the one a request by
	// the name reaches, the last; the older one stays.
	na.Name = "b.txt"
	b2, err := s.Create(ctx, na, bytes.NewReader([]byte("b at last")))
	if err != nil {
		t.Fatalf("Create replacing one of two of a name: %v", err)
	}
	wantIDs(t, list(t, s, rec), b.ID, repl.ID, c.ID, b2.ID, other.ID)
	gone(t, s, dup.ID)
	if got := read(t, s, b.ID); string(got) != "b" {
		t.Fatalf("the older file of the name: content %q, want %q", got, "b")
	}
}
