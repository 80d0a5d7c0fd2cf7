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
// beside it.
func TestReadsSeeOneMoment(t *testing.T) {
	b := servers.Get(t)
	writer, reader := openStore(t, b), openStore(t, b)
	ctx := context.Background()
	ref := upstream.RecordRef{Collection: "moments", ID: "r1"}
	if _, err := writer.UpdateRecord(ctx, ref, upstream.RecordUpdate{Data: []byte(`{"k":"v"}`)}); err != nil {
		t.Fatal(err)
	}
	const uploads = 30
	done := make(chan struct{})
	var wg sync.WaitGroup
	var readErr error
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			rec, files, err := reader.ReadRecord(ctx, ref)
			if err == nil {
				var entries []upstream.RecordEntry
				entries, _, err = reader.ListRecords(ctx, ref.Collection, upstream.RecordQuery{})
				if err == nil && len(entries) == 1 {
					files = append(files, entries[0].Files...)
					if entries[0].Record.Modified.After(rec.Modified) {
						rec = entries[0].Record
					}
				}
			}
			if err != nil {
				readErr = err
				return
			}
			for _, f := range files {
				if f.Created.After(rec.Modified) {
					readErr = fmt.Errorf("a read lists %s created %v with the record as of %v", f.ID, f.Created, rec.Modified)
					return
				}
			}
		}
	})
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
