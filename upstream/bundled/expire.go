package bundled

import (
	"context"
	"fmt"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
)

// expireBatch bounds the attachments one ExpireUnlinked commit deletes, so
// a large backlog does not make one huge write transaction. A variable for
// the tests.
var expireBatch = 1000

// ExpireUnlinked implements upstream.UnlinkedExpirer: it deletes the
// unlinked attachments created before cutoff, partial ones included, and
// their blobs. The unlinked bucket is ordered by creation time, so it reads
// only what it deletes (and one more). Linked attachments are never read.
func (s *Store) ExpireUnlinked(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, ctxError(err)
		}
		var blobs []string
		var n int
		var more bool
		err := s.db.Update(func(tx *bolt.Tx) error {
			blobs, n, more = nil, 0, false
			m := s.metaOf(tx)
			var old []upstream.Attachment
			c := m.unlinked().Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				if len(old) == expireBatch {
					more = true
					break
				}
				id := indexID(k)
				a, ok, err := m.attachment(id)
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("unlinked bucket names attachment %q, which does not exist", id)
				}
				if !a.Created.Before(cutoff) {
					break
				}
				old = append(old, a)
			}
			// Deleting under a live cursor skips keys; delete after the scan.
			for _, a := range old {
				hasBlob, err := m.remove(a)
				if err != nil {
					return err
				}
				if hasBlob {
					blobs = append(blobs, a.ID)
				}
			}
			n = len(old)
			return nil
		})
		if err != nil {
			return total, classify(err, "expire unlinked attachments")
		}
		s.removeBlobs(blobs)
		total += n
		if !more {
			return total, nil
		}
	}
}
