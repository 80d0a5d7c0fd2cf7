package storetest

import (
	"bytes"
	"context"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// testListNamed checks that a NamedLister answers what List kept to one
// name (and field) answers, in List's order, through creates, a replace
// by name, a delete and a move, and List's not-found for a record that
// does not exist.
func testListNamed(t *testing.T, s upstream.Store, o Options) {
	nl, ok := s.(upstream.NamedLister)
	if !ok {
		t.Skipf("store %T does not implement upstream.NamedLister", s)
	}
	ctx := context.Background()
	rec, other := o.ref("named"), o.ref("named-other")
	check := func(when string) {
		t.Helper()
		for _, r := range []upstream.RecordRef{rec, other} {
			all := list(t, s, r)
			for _, field := range []string{"", "files", "extra"} {
				for _, name := range []string{"a.txt", "a", "b.txt", "none.txt"} {
					var want []upstream.Attachment
					for _, a := range all {
						if a.Name == name && (field == "" || a.Field == field) {
							want = append(want, a)
						}
					}
					got, err := nl.ListNamed(ctx, r, field, name)
					if err != nil {
						t.Fatalf("%s: ListNamed(%s, %q, %q): %v", when, r.ID, field, name, err)
					}
					if len(got) != len(want) {
						t.Fatalf("%s: ListNamed(%s, %q, %q) = %v, List has %v", when, r.ID, field, name, ids(got), ids(want))
					}
					for i := range got {
						sameAttachment(t, got[i], want[i])
					}
				}
			}
		}
	}
	first := create(t, s, rec, "files", "a.txt", []byte("one"))
	create(t, s, rec, "files", "a.txt", []byte("two"))
	create(t, s, rec, "extra", "a.txt", []byte("three"))
	gone := create(t, s, rec, "files", "b.txt", []byte("four"))
	create(t, s, rec, "files", "a", []byte("five"))
	create(t, s, other, "files", "a.txt", []byte("six"))
	check("after the creates")

	if _, err := s.Create(ctx, upstream.NewAttachment{Record: rec, Field: "files", Name: "a.txt", ReplaceSameName: true}, bytes.NewReader([]byte("seven"))); err != nil {
		t.Fatalf("Create replacing a.txt: %v", err)
	}
	check("after a create that replaced by name")
	if err := s.Delete(ctx, gone.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	check("after a delete")
	if _, err := s.UpdateRecord(ctx, other, upstream.RecordUpdate{Fields: map[string][]string{"extra": {first.ID}}}); err != nil {
		t.Fatalf("UpdateRecord moving a file: %v", err)
	}
	check("after a file moved to another record")

	_, err := nl.ListNamed(ctx, o.ref("named-never"), "", "a.txt")
	wantKind(t, err, upstream.KindNotFound, "ListNamed of a record that does not exist")
}
