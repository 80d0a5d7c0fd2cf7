package bundled

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
)

// checkConsistent checks the invariants of meta.db and blobs/ with no
// operation in flight: every attachment has exactly one entry, in index
// when linked (and then its record is in records) and in unlinked when
// not, and nothing else is in either; partials name attachments without content whose blob holds exactly the
// committed size; an attachment with content has its blob of its size, and
// a plain placeholder has none.
func checkConsistent(t *testing.T, s *Store) {
	t.Helper()
	err := s.db.View(func(tx *bolt.Tx) error {
		m := metaOf(tx)
		wantIndex, wantUnlinked := map[string]bool{}, map[string]bool{}
		atts := map[string]upstream.Attachment{}
		err := m.atts().ForEach(func(k, v []byte) error {
			var a upstream.Attachment
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			atts[string(k)] = a
			if linked(a) {
				wantIndex[string(indexKey(a))] = true
			} else {
				wantUnlinked[string(unlinkedKey(a))] = true
			}
			return nil
		})
		if err != nil {
			return err
		}
		keys := func(b *bolt.Bucket) map[string]bool {
			out := map[string]bool{}
			_ = b.ForEach(func(k, _ []byte) error { out[string(k)] = true; return nil })
			return out
		}
		if got := keys(m.index()); !maps.Equal(got, wantIndex) {
			t.Errorf("index keys %q, want %q", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(wantIndex)))
		}
		if got := keys(m.unlinked()); !maps.Equal(got, wantUnlinked) {
			t.Errorf("unlinked keys %q, want %q", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(wantUnlinked)))
		}
		for id := range keys(m.partials()) {
			a, ok := atts[id]
			if !ok || a.HasContent {
				t.Errorf("partials names %s, which does not exist or is complete", id)
			}
		}
		for id, a := range atts {
			// List answers a record from its index entries alone.
			if linked(a) && !m.hasRecord(a.Record) {
				t.Errorf("%s is indexed under %s/%s, which is not in records", id, a.Record.Collection, a.Record.ID)
			}
			_, partial, err := m.expected(id)
			if err != nil {
				return err
			}
			fi, err := os.Stat(s.blobPath(id))
			switch {
			case a.HasContent || partial:
				if err != nil {
					t.Errorf("%s: blob missing: %v", id, err)
				} else if fi.Size() != a.Size {
					t.Errorf("%s: blob of %d bytes, size %d committed", id, fi.Size(), a.Size)
				}
			case err == nil:
				t.Errorf("plain placeholder %s has a blob", id)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
