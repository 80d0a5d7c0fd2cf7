package bundled

import (
	"context"
	"fmt"

	"github.com/tidwall/gjson"
	bolt "go.etcd.io/bbolt"
)

// Stats counts the attachments in the store and the bytes of their
// content, for the store gauges. It reads every attachment's size, so it
// is for a metrics scrape, not for a request.
func (s *Store) Stats(ctx context.Context) (attachments, bytes int64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, ctxError(err)
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		m := metaOf(tx)
		return m.atts().ForEach(func(_, v []byte) error {
			attachments++
			bytes += gjson.GetBytes(v, "size").Int()
			return nil
		})
	})
	if err != nil {
		return 0, 0, fmt.Errorf("store stats: %w", err)
	}
	return attachments, bytes, nil
}
