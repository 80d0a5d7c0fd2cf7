package bundled

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
)

func TestVerify(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, s *Store, id string)
		kind   string
		detail string
	}{
		{"sound", func(*testing.T, *Store, string) {}, "", ""},
		{"missing", func(t *testing.T, s *Store, id string) {
			if err := os.Remove(s.blobPath(id)); err != nil {
				t.Fatal(err)
			}
		}, ProblemMissing, "no file"},
		{"a flipped byte", func(t *testing.T, s *Store, id string) {
			if err := os.WriteFile(s.blobPath(id), []byte("bravO"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, ProblemCorrupt, "sha256"},
		{"cut short", func(t *testing.T, s *Store, id string) {
			if err := os.Truncate(s.blobPath(id), 2); err != nil {
				t.Fatal(err)
			}
		}, ProblemCorrupt, "2 bytes, want 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustOpen(t, t.TempDir())
			mustCreate(t, s, rec("r"), "a.txt", []byte("alpha"))
			b := mustCreate(t, s, rec("r"), "b.txt", []byte("bravo"))
			mustCreate(t, s, rec("r"), "placeholder", nil) // no blob to check
			tt.damage(t, s, b.ID)
			var reported []Problem
			rep, err := s.Verify(t.Context(), func(p Problem) { reported = append(reported, p) })
			if err != nil {
				t.Fatal(err)
			}
			if rep.Checked != 2 || rep.Bytes != 10 {
				t.Errorf("checked %d attachments, %d bytes; want 2, 10", rep.Checked, rep.Bytes)
			}
			ready, err := s.Ready(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if tt.kind == "" {
				if len(rep.Problems) != 0 || len(reported) != 0 || ready.Damaged != 0 {
					t.Errorf("a sound store: problems %v, reported %v, ready %+v", rep.Problems, reported, ready)
				}
				return
			}
			if len(rep.Problems) != 1 || len(reported) != 1 {
				t.Fatalf("problems %v, reported %v; want the one of b.txt", rep.Problems, reported)
			}
			p := rep.Problems[0]
			if p.ID != b.ID || p.Name != "b.txt" || p.Kind != tt.kind || !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("problem %+v, want %s of %s saying %q", p, tt.kind, b.ID, tt.detail)
			}
			if ready.Damaged != 1 || ready.Problems[0].ID != b.ID {
				t.Errorf("Ready after Verify: %+v", ready)
			}
			// Open finds a missing or resized blob without hashing.
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = mustOpen(t, s.dir)
			ready, _ = s.Ready(t.Context())
			if want := tt.kind != ProblemCorrupt || tt.detail != "sha256"; (ready.Damaged == 1) != want {
				t.Errorf("Ready after reopening: %+v; want damaged=%v", ready, want)
			}
		})
	}
}

func TestVerifyPartial(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	a, err := s.Create(t.Context(), upstream.NewAttachment{Record: rec("r"), Name: "big", ExpectedSize: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(t.Context(), a.ID, strings.NewReader("12345")); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Verify(t.Context(), nil); err != nil || len(rep.Problems) != 0 || rep.Checked != 1 {
		t.Fatalf("a partial upload: %+v, %v", rep, err)
	}
	if err := os.Truncate(s.blobPath(a.ID), 3); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Verify(t.Context(), nil)
	if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Kind != ProblemCorrupt {
		t.Fatalf("a partial cut below its committed size: %+v, %v", rep, err)
	}
}

func TestMissingBlobAtReadTime(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	a := mustCreate(t, s, rec("r"), "a.txt", []byte("alpha"))
	if err := os.Remove(s.blobPath(a.ID)); err != nil {
		t.Fatal(err)
	}
	_, _, err := s.Open(t.Context(), a.ID)
	if upstream.KindOf(err) != upstream.KindInternal || !strings.Contains(err.Error(), "blob lost") {
		t.Fatalf("reading a lost blob: %v (%v), want an internal error saying so", err, upstream.KindOf(err))
	}
	ready, err := s.Ready(t.Context())
	if err != nil || ready.Damaged != 1 || ready.Problems[0].ID != a.ID || ready.Problems[0].Kind != ProblemMissing {
		t.Errorf("Ready after a read found a lost blob: %+v, %v", ready, err)
	}
	// Deleting the damaged attachment ends the damage.
	if err := s.Delete(t.Context(), a.ID); err != nil {
		t.Fatal(err)
	}
	if ready, _ := s.Ready(t.Context()); ready.Damaged != 0 {
		t.Errorf("Ready after the damaged attachment was deleted: %+v", ready)
	}
	// A delete racing a read is not damage.
	if err := s.missingBlob(t.Context(), "0000000000000000000000000000000000000000"[:upstream.IDLen]); upstream.KindOf(err) != upstream.KindNotFound {
		t.Errorf("a blob missing because its attachment went: %v, want not found", err)
	}
}

func TestHoldDefersBlobRemoval(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	a := mustCreate(t, s, rec("r"), "a.txt", []byte("alpha"))
	release := s.holds.hold()
	if err := s.Delete(t.Context(), a.ID); err != nil {
		t.Fatal(err)
	}
	if !exists(s.blobPath(a.ID)) {
		t.Fatal("a delete removed a blob while a hold was on")
	}
	release()
	release() // a second release changes nothing
	if exists(s.blobPath(a.ID)) {
		t.Fatal("the deferred removal did not happen on release")
	}
}

func TestSchemaVersion(t *testing.T) {
	setVersion := func(t *testing.T, dir string, v uint64, drop bool) {
		t.Helper()
		db, err := bolt.Open(dir+"/meta.db", 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.Update(func(tx *bolt.Tx) error {
			if drop {
				return tx.DeleteBucket([]byte(bucketSchema))
			}
			return tx.Bucket([]byte(bucketSchema)).Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, v))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	s := mustOpen(t, dir)
	if found, now := s.Schema(); found != SchemaVersion || now != SchemaVersion {
		t.Errorf("a new store: schema %d -> %d, want %d", found, now, SchemaVersion)
	}
	a := mustCreate(t, s, rec("r"), "a.txt", []byte("alpha"))
	s.Close()

	setVersion(t, dir, 0, true) // as a store from before versioning
	s = mustOpen(t, dir)
	if found, now := s.Schema(); found != 0 || now != SchemaVersion {
		t.Errorf("an unversioned store: schema %d -> %d, want 0 -> %d", found, now, SchemaVersion)
	}
	if got, err := s.Stat(t.Context(), a.ID); err != nil || got.Name != "a.txt" {
		t.Errorf("after the upgrade: %+v, %v", got, err)
	}
	s.Close()
	s = mustOpen(t, dir)
	if found, _ := s.Schema(); found != SchemaVersion {
		t.Errorf("the upgrade was not stored: found %d", found)
	}
	s.Close()

	setVersion(t, dir, SchemaVersion+1, false)
	before, _ := os.ReadFile(dir + "/meta.db")
	_, err := Open(dir)
	if !errors.Is(err, ErrNewerSchema) || !strings.Contains(err.Error(), fmt.Sprintf("version %d, this dragoman reads up to %d", SchemaVersion+1, SchemaVersion)) {
		t.Fatalf("a newer store: %v, want ErrNewerSchema naming both versions", err)
	}
	if after, _ := os.ReadFile(dir + "/meta.db"); string(after) != string(before) {
		t.Error("refusing a newer store changed meta.db")
	}
}
