package remote

import (
	"path/filepath"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/dragoman-gw/dragoman/upstream"
)

// An id map written before the gateway kept its known records gets them
// from its files and kept records when it is opened.
func TestSeenRecordsBackfilled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ids.db")
	m, err := openIDMap(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.fresh(ref{NativeID: "n1", Record: upstream.RecordRef{Collection: "c", ID: "r2"}, Name: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.putLocalRecord(upstream.RecordRef{Collection: "c", ID: "r1"}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := m.fresh(ref{NativeID: "n2", Record: upstream.RecordRef{Collection: "other", ID: "x"}, Name: "b"}); err != nil {
		t.Fatal(err)
	}
	// As an older gateway left it: no known records at all.
	if err := m.db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(bucketSeen) }); err != nil {
		t.Fatal(err)
	}
	if err := m.close(); err != nil {
		t.Fatal(err)
	}

	m, err = openIDMap(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	got, err := m.seenIn("c")
	if err != nil {
		t.Fatal(err)
	}
	want := []upstream.RecordRef{{Collection: "c", ID: "r1"}, {Collection: "c", ID: "r2"}}
	if !slices.Equal(got, want) {
		t.Fatalf("known records of c after reopening: %v, want %v", got, want)
	}
	if err := m.forgetRecord(want[0]); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.seenIn("c"); !slices.Equal(got, want[1:]) {
		t.Fatalf("known records of c after forgetting r1: %v, want %v", got, want[1:])
	}
}
