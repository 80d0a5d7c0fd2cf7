package pgstore

import (
	"context"
	"sync"
	"time"
)

// StatsTTL is how long Stats answers from its last count: a scrape every
// few seconds from each of many gateways then costs the database one
// count per gateway per StatsTTL.
const StatsTTL = 30 * time.Second

// statsCache is the last count Stats made.
type statsCache struct {
	// mu is held while a count runs, so scrapes that come together wait
	// for one count instead of each making its own.
	mu                 sync.Mutex
	at                 time.Time
	attachments, bytes int64
}

// Stats reports how many attachments the store holds and the bytes of
// their content (for /metrics' dragoman_store_attachments and
// dragoman_store_bytes, as the bundled store's Stats), counted in one
// statement and kept for ttl (StatsTTL): a gauge of a store shared by many
// gateways need not be exact to the second, and the count reads the whole
// attachments table.
func (s *Store) Stats(ctx context.Context) (attachments, bytes int64, err error) {
	c := &s.stats
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < s.statsTTL {
		return c.attachments, c.bytes, nil
	}
	if err := s.db.QueryRow(ctx, `SELECT count(*), coalesce(sum(size), 0)::bigint FROM attachments`).Scan(&attachments, &bytes); err != nil {
		return 0, 0, classify(err, "store stats")
	}
	c.at, c.attachments, c.bytes = time.Now(), attachments, bytes
	return attachments, bytes, nil
}
