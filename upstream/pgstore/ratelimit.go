package pgstore

import (
	"context"
	"log/slog"
	"time"
)

// Limiter is a token bucket per key kept in PostgreSQL, so that the rate
// is the key's across all gateways together: each request takes a token
// in one statement on the key's row (the row lock orders the requests of
// one key; other keys never wait). It costs one round trip per request.
type Limiter struct {
	s     *KeyStore
	rate  float64
	burst float64
	log   *slog.Logger
}

// limitTimeout bounds the statement: a request never waits long on the
// limiter.
const limitTimeout = time.Second

// Limiter returns a limiter of rate requests a second per key, with the
// given burst. When the database cannot answer, requests are let through
// (and logged): a limiter must not turn a database blip into an outage of
// every key, and the store's own calls fail then anyway.
func (s *KeyStore) Limiter(rate float64, burst int, log *slog.Logger) *Limiter {
	return &Limiter{s: s, rate: rate, burst: float64(max(burst, 1)), log: log}
}

// Allow takes one token from key's bucket and reports whether there was one.
func (l *Limiter) Allow(key string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), limitTimeout)
	defer cancel()
	var ok bool
	err := l.s.db.QueryRow(ctx, `
		INSERT INTO rate_buckets AS b (key, tokens, updated, allowed) VALUES ($1, $3 - 1, clock_timestamp(), true)
		ON CONFLICT (key) DO UPDATE SET
			tokens = least($3, b.tokens + extract(epoch FROM clock_timestamp() - b.updated) * $2)
				- CASE WHEN least($3, b.tokens + extract(epoch FROM clock_timestamp() - b.updated) * $2) >= 1 THEN 1 ELSE 0 END,
			allowed = least($3, b.tokens + extract(epoch FROM clock_timestamp() - b.updated) * $2) >= 1,
			updated = clock_timestamp()
		RETURNING allowed`, key, l.rate, l.burst).Scan(&ok)
	if err != nil {
		if l.log != nil {
			l.log.Error("rate limit: the database did not answer; letting the request through", "err", err)
		}
		return true
	}
	return ok
}
