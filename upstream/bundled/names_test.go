package bundled

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
)

// createIn creates name in field of r with ReplaceSameName as asked.
func createIn(t *testing.T, s *Store, r upstream.RecordRef, field, name string, replace bool) upstream.Attachment {
	t.Helper()
	a, err := s.Create(t.Context(), upstream.NewAttachment{Record: r, Field: field, Name: name, ReplaceSameName: replace}, bytes.NewReader([]byte(field+"/"+name)))
	if err != nil {
		t.Fatalf("create %s %s/%s: %v", r.ID, field, name, err)
	}
	return a
}

// namedByList is what ListNamed must answer: List kept to the name and
// field.
func namedByList(t *testing.T, s *Store, r upstream.RecordRef, field, name string) ([]upstream.Attachment, error) {
	t.Helper()
	all, err := s.List(t.Context(), r)
	if err != nil {
		return nil, err
	}
	var out []upstream.Attachment
	for _, a := range all {
		if a.Name == name && (field == "" || a.Field == field) {
			out = append(out, a)
		}
	}
	return out, nil
}

// checkNamed compares ListNamed with List for every record, field and name
// the test uses, and a few it does not.
func checkNamed(t *testing.T, s *Store, when string) {
	t.Helper()
	for _, r := range []upstream.RecordRef{rec("r1"), rec("r2"), rec("never")} {
		for _, field := range []string{"", "files", "other", "none"} {
			for _, name := range []string{"a.txt", "b.txt", "a", "a.txt\x00x", "missing"} {
				want, wantErr := namedByList(t, s, r, field, name)
				got, err := s.ListNamed(t.Context(), r, field, name)
				if upstream.KindOf(err) != upstream.KindOf(wantErr) || (err == nil) != (wantErr == nil) {
					t.Fatalf("%s: ListNamed(%s, %q, %q) error %v, List's %v", when, r.ID, field, name, err, wantErr)
				}
				if !slices.EqualFunc(got, want, func(x, y upstream.Attachment) bool { return x.ID == y.ID && x.Position == y.Position }) {
					t.Fatalf("%s: ListNamed(%s, %q, %q) = %v, List has %v", when, r.ID, field, name, placed(got), placed(want))
				}
			}
		}
	}
}

func placed(as []upstream.Attachment) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = fmt.Sprintf("%s@%s/%d", a.ID, a.Field, a.Position)
	}
	return out
}

func TestListNamedFollowsEveryWrite(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := mustOpen(t, dir)
	r1, r2 := rec("r1"), rec("r2")
	checkNamed(t, s, "empty store")

	a1 := createIn(t, s, r1, "files", "a.txt", false)
	createIn(t, s, r1, "files", "a.txt", false) // two of one name
	createIn(t, s, r1, "other", "a.txt", false) // the same name in another field
	b1 := createIn(t, s, r1, "files", "b.txt", false)
	createIn(t, s, r1, "files", "a", false)          // a prefix of another name
	createIn(t, s, r1, "files", "a.txt\x00x", false) // a name sharing a's key prefix
	createIn(t, s, r2, "files", "a.txt", false)
	checkNamed(t, s, "after the creates")

	createIn(t, s, r1, "files", "a.txt", true) // replaces the newest a.txt of files
	checkNamed(t, s, "after a create that replaces by name")

	if err := s.Delete(ctx, b1.ID); err != nil {
		t.Fatal(err)
	}
	checkNamed(t, s, "after a delete")

	// Moves: a1 to r2's other field, and r1's files reordered.
	list, err := s.List(ctx, r1)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, a := range list {
		if a.Field == "files" && a.ID != a1.ID {
			keep = append([]string{a.ID}, keep...) // reversed: every position changes
		}
	}
	if _, err := s.UpdateRecord(ctx, r1, upstream.RecordUpdate{Fields: map[string][]string{"files": keep}}); err != nil {
		t.Fatal(err)
	}
	checkNamed(t, s, "after a field was reordered (and a1 dropped from it)")
	moved := createIn(t, s, r1, "files", "a.txt", false)
	if _, err := s.UpdateRecord(ctx, r2, upstream.RecordUpdate{Fields: map[string][]string{"other": {moved.ID}}}); err != nil {
		t.Fatal(err)
	}
	checkNamed(t, s, "after an attachment moved to another record")

	s.Close()
	s = mustOpen(t, dir)
	checkNamed(t, s, "after a reopen")
}

// TestNamesIndexIsBuiltOnUpgrade: a store written before the names bucket
// (schema version 1) gets it filled when opened.
func TestNamesIndexIsBuiltOnUpgrade(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	r1 := rec("r1")
	for i := range 30 {
		createIn(t, s, r1, []string{"files", "other"}[i%2], fmt.Sprintf("f%d.txt", i%7), false)
	}
	createIn(t, s, rec("r2"), "files", "f1.txt", false)
	s.Close()

	db, err := bolt.Open(dir+"/meta.db", 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket([]byte(bucketNamed)); err != nil {
			return err
		}
		return tx.Bucket([]byte(bucketSchema)).Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, 1))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}

	s = mustOpen(t, dir)
	defer s.Close()
	if found, now := s.Schema(); found != 1 || now != SchemaVersion {
		t.Fatalf("schema %d -> %d, want 1 -> %d", found, now, SchemaVersion)
	}
	for i := range 7 {
		name := fmt.Sprintf("f%d.txt", i)
		for _, field := range []string{"", "files", "other"} {
			want, _ := namedByList(t, s, r1, field, name)
			got, err := s.ListNamed(t.Context(), r1, field, name)
			if err != nil || len(want) == 0 || !slices.EqualFunc(got, want, func(x, y upstream.Attachment) bool { return x.ID == y.ID }) {
				t.Fatalf("after the upgrade, ListNamed(%q, %q) = %v, %v; List has %v", field, name, placed(got), err, placed(want))
			}
		}
	}
}

// BenchmarkResolveByName: the look-up of one file by name in a record of
// a thousand, through List (what a download by name did) and ListNamed.
func BenchmarkResolveByName(b *testing.B) {
	s := mustOpen(b, b.TempDir())
	r := rec("big")
	for i := range 1000 {
		if _, err := s.Create(b.Context(), upstream.NewAttachment{Record: r, Field: "files", Name: fmt.Sprintf("f%04d.bin", i)}, bytes.NewReader([]byte("x"))); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("List", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			all, err := s.List(b.Context(), r)
			if err != nil || !slices.ContainsFunc(all, func(a upstream.Attachment) bool { return a.Name == "f0500.bin" }) {
				b.Fatal(err)
			}
		}
	})
	b.Run("ListNamed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			got, err := s.ListNamed(b.Context(), r, "files", "f0500.bin")
			if err != nil || len(got) != 1 {
				b.Fatal(err)
			}
		}
	})
}
