package bundled

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/dragoman-gw/dragoman/upstream"
)

var _ upstream.RecordLister = (*Store)(nil)

// ListRecords implements upstream.RecordLister with one read transaction
// over the collection's records, in key (id) order.
func (s *Store) ListRecords(ctx context.Context, collection string, q upstream.RecordQuery) ([]upstream.RecordEntry, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, ctxError(err)
	}
	if collection == "" || q.Offset < 0 || q.Limit < 0 {
		return nil, 0, upstream.Errorf(upstream.KindInvalid, "a listing needs a collection and a page that is not negative")
	}
	var out []upstream.RecordEntry
	total := 0
	filtered := len(q.Equals) > 0
	offPage := func() bool { return total <= q.Offset || (q.Limit > 0 && len(out) >= q.Limit) }
	err := s.db.View(func(tx *bolt.Tx) error {
		m := s.metaOf(tx)
		prefix := []byte(collection + sep)
		c := m.records().Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if err := ctx.Err(); err != nil {
				return ctxError(err)
			}
			if !filtered {
				// Without a filter a record off the page is only counted:
				// its key says it is there, and nothing of it is decoded.
				total++
				if offPage() {
					continue
				}
			}
			ref := upstream.RecordRef{Collection: collection, ID: string(k[len(prefix):])}
			r, ok, err := m.record(ref)
			if err != nil {
				return err
			}
			if filtered {
				if !ok || !q.Matches(r) {
					continue
				}
				total++
				if offPage() {
					continue
				}
			}
			files, err := m.scan(recordPrefix(ref))
			if err != nil {
				return err
			}
			out = append(out, upstream.RecordEntry{Record: r, Files: files})
		}
		return nil
	})
	if err != nil {
		return nil, 0, classify(err, fmt.Sprintf("list records of %s", collection))
	}
	return out, total, nil
}
