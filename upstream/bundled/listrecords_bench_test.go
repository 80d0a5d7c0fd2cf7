package bundled

import (
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/dragoman-gw/dragoman/upstream"
)

// BenchmarkListRecordsPage measures EspoCRM's GET /{Entity}: the first
// page of 20 of a collection of 10,000 records, without a filter.
func BenchmarkListRecordsPage(b *testing.B) {
	ctx := b.Context()
	s := mustOpen(b, b.TempDir())
	err := s.db.Update(func(tx *bolt.Tx) error {
		m := s.metaOf(tx)
		for i := range 10000 {
			r := upstream.Record{Ref: upstream.RecordRef{Collection: "Document", ID: fmt.Sprintf("d%05d", i)},
				Data: []byte(`{"name":"a document","status":"Active"}`)}
			if err := m.putRecord(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		page, total, err := s.ListRecords(ctx, "Document", upstream.RecordQuery{Limit: 20})
		if err != nil || len(page) != 20 || total != 10000 {
			b.Fatalf("ListRecords: %d of %d, %v", len(page), total, err)
		}
	}
}
