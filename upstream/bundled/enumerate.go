package bundled

import (
	"context"
	"strings"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
)

// Records returns every record the store holds, ordered by collection and
// then id: the whole store, for a migration that is given no list of
// records. Only the references are read, so the answer stays small.
func (s *Store) Records(ctx context.Context) ([]upstream.RecordRef, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxError(err)
	}
	var refs []upstream.RecordRef
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketRecords))
		refs = make([]upstream.RecordRef, 0, b.Stats().KeyN)
		return b.ForEach(func(k, _ []byte) error {
			coll, id, ok := strings.Cut(string(k), sep)
			if ok {
				refs = append(refs, upstream.RecordRef{Collection: coll, ID: id})
			}
			return nil
		})
	})
	if err != nil {
		return nil, classify(err, "list records")
	}
	return refs, nil
}
