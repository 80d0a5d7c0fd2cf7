package pgstore

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// DefaultGrace is how long an object no row names is left alone before
// the sweeper removes it: far longer than an upload's heartbeat (a
// minute), so an upload still streaming is never swept.
const DefaultGrace = time.Hour

// SweepReport says what one sweep removed.
type SweepReport struct {
	// Objects is the loose objects deleted (uploads a crash abandoned,
	// objects a crash kept from being deleted).
	Objects int
	// Uploads is the multipart uploads aborted.
	Uploads int
}

// Sweep removes what crashes leave in the bucket: loose objects (and
// their multipart uploads) that no gateway touched for grace, and
// multipart uploads begun more than grace ago whose object no gateway is
// still writing. Any number of gateways may sweep at once: each takes the
// rows it removes with SKIP LOCKED.
func (s *Store) Sweep(ctx context.Context, grace time.Duration) (SweepReport, error) {
	var rep SweepReport
	for {
		var batch []struct{ name, upload string }
		err := s.inTx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
			batch = batch[:0]
			rows, err := tx.Query(ctx, `SELECT name, coalesce(upload_id, '') FROM loose_objects
				WHERE touched < now() - $1::interval ORDER BY name LIMIT 100 FOR UPDATE SKIP LOCKED`, grace)
			if err != nil {
				return err
			}
			for rows.Next() {
				var e struct{ name, upload string }
				if err := rows.Scan(&e.name, &e.upload); err != nil {
					rows.Close()
					return err
				}
				batch = append(batch, e)
			}
			if err := rows.Err(); err != nil {
				return err
			}
			var gone []string
			for _, e := range batch {
				if e.upload != "" {
					if err := s.blobs.Abort(ctx, e.name, e.upload); err != nil {
						continue
					}
				}
				if err := s.blobs.Delete(ctx, e.name); err != nil {
					continue
				}
				gone = append(gone, e.name)
			}
			rep.Objects += len(gone)
			_, err = tx.Exec(ctx, `DELETE FROM loose_objects WHERE name = ANY($1)`, gone)
			return err
		})
		if err != nil {
			return rep, classify(err, "sweep loose objects")
		}
		if len(batch) < 100 {
			break
		}
	}

	// Records a gateway of schema 1 wrote during an upgrade get their
	// match (see match.go).
	if _, err := s.backfillMatch(ctx); err != nil {
		return rep, err
	}

	// An upload whose id was never recorded (a crash between starting it
	// and the UPDATE that records it) is found by listing.
	ups, err := s.blobs.Uploads(ctx, time.Now().Add(-grace))
	if err != nil {
		return rep, classify(err, "sweep: list multipart uploads")
	}
	for _, u := range ups {
		var live bool
		if err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM loose_objects WHERE name = $1 AND touched >= now() - $2::interval)`,
			u.Name, grace).Scan(&live); err != nil {
			return rep, classify(err, "sweep")
		}
		if live {
			continue
		}
		if err := s.blobs.Abort(ctx, u.Name, u.ID); err != nil {
			return rep, classify(err, "sweep: abort upload")
		}
		rep.Uploads++
	}
	return rep, nil
}

// RunSweeper sweeps every interval until ctx ends, logging what it
// removed. It is the caller's goroutine: serve runs it among the workers
// it stops on shutdown.
func (s *Store) RunSweeper(ctx context.Context, every, grace time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rep, err := s.Sweep(ctx, grace)
			if err != nil && ctx.Err() == nil {
				log.Error("sweep the object store", "err", err)
			} else if rep.Objects > 0 || rep.Uploads > 0 {
				log.Info("swept the object store", "objects", rep.Objects, "uploads", rep.Uploads)
			}
		}
	}
}

func (r SweepReport) String() string {
	return fmt.Sprintf("%d objects, %d uploads", r.Objects, r.Uploads)
}
