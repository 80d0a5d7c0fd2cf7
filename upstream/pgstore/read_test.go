package pgstore_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// TestReadsSeeOneMoment checks the promise of the single-statement reads
// across two stores on one database (two gateways): an upload is seen by
// the other store as soon as Create returns, and no read pairs a record
// from before an upload with the upload's file (the record's modified
// time is never older than a file it lists), while uploads commit
// beside it. Four readers make the check bite: a record read as two
// statements outside a transaction fails it within a run.
func TestReadsSeeOneMoment(t *testing.T) {
	b := servers.Get(t)
	writer, reader := openStore(t, b), openStore(t, b)
	ctx := context.Background()
	ref := upstream.RecordRef{Collection: "moments", ID: "r1"}
	if _, err := writer.UpdateRecord(ctx, ref, upstream.RecordUpdate{Data: []byte(`{"k":"v"}`)}); err != nil {
		t.Fatal(err)
	}
	const uploads, readers = 60, 4
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var readErr error
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if readErr == nil {
			readErr = err
		}
	}
	for r := range readers {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				var rec upstream.Record
				var files []upstream.Attachment
				var err error
				if r == 0 { // one reader lists the collection, the others the record
					var entries []upstream.RecordEntry
					entries, _, err = reader.ListRecords(ctx, ref.Collection, upstream.RecordQuery{})
					if err == nil && len(entries) == 1 {
						rec, files = entries[0].Record, entries[0].Files
					}
				} else {
					rec, files, err = reader.ReadRecord(ctx, ref)
				}
				if err != nil {
					fail(err)
					return
				}
				for _, f := range files {
					if f.Created.After(rec.Modified) {
						fail(fmt.Errorf("a read lists %s created %v with the record as of %v", f.ID, f.Created, rec.Modified))
						return
					}
				}
			}
		})
	}
	for i := range uploads {
		a, err := writer.Create(ctx, upstream.NewAttachment{Record: ref, Name: fmt.Sprintf("f%02d", i)}, strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		list, err := reader.List(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != i+1 || list[i].ID != a.ID {
			t.Fatalf("after upload %d the other store lists %d files, the last %+v; want %s last", i, len(list), list[len(list)-1], a.ID)
		}
	}
	close(done)
	wg.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
}
