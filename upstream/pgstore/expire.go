package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// expireBatch bounds the attachments one ExpireUnlinked commit deletes.
const expireBatch = 1000

// ExpireUnlinked implements upstream.UnlinkedExpirer: it deletes the
// unlinked attachments created before cutoff, partial ones included, and
// their objects, a batch per commit. Rows another gateway is expiring at
// the same moment are skipped, not waited for.
func (s *Store) ExpireUnlinked(ctx context.Context, cutoff time.Time) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, classify(err, "expire unlinked attachments")
		}
		var objects []string
		n := 0
		err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
			objects, n = nil, 0
			rows, err := tx.Query(ctx, `DELETE FROM attachments WHERE id IN (
					SELECT id FROM attachments WHERE record_id = '' AND created < $1
					ORDER BY created LIMIT $2 FOR UPDATE SKIP LOCKED)
				RETURNING objects`, cutoff, expireBatch)
			if err != nil {
				return err
			}
			for rows.Next() {
				var objs []string
				if err := rows.Scan(&objs); err != nil {
					rows.Close()
					return err
				}
				objects = append(objects, objs...)
				n++
			}
			if err := rows.Err(); err != nil {
				return err
			}
			return loosen(ctx, tx, objects)
		})
		if err != nil {
			return total, classify(err, "expire unlinked attachments")
		}
		s.removeObjects(ctx, objects)
		total += n
		if n < expireBatch {
			return total, nil
		}
	}
}
