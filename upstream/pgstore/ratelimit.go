package pgstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// Limiter is a token bucket per key kept in PostgreSQL, so that the rate
// is the key's across all gateways together. A gateway takes tokens from
// the key's row in leases (one statement; the row lock orders the gateways)
// and spends them locally: one round trip a token made one key's requests a
// single queue on its row, about 2,000 a second whatever the number of
// gateways (docs/scale-out.md). A lease never exceeds what the shared
// bucket holds, so the gateways together never let through more than the
// rate and the burst; a lease not spent within leaseLife is dropped, which
// costs the key at most leaseLife's worth of its rate per gateway, and
// never lets one through more.
type Limiter struct {
	s     *KeyStore
	rate  float64
	burst float64
	lease float64 // tokens asked for at a time
	log   *slog.Logger

	mu   sync.Mutex
	keys map[string]*leased

	takes atomic.Int64 // statements made, for tests
}

// leased is one key's tokens taken from the shared bucket and not yet
// spent here. Its mutex is held across the statement that refills it, so
// a gateway's requests of one key wait for that one round trip instead of
// each making its own.
type leased struct {
	mu      sync.Mutex
	tokens  float64
	expires time.Time
	// refusedUntil answers a key with an empty bucket without the
	// database for a moment: a key hammering past its limit would
	// otherwise cost a statement per refusal, one after another.
	refusedUntil time.Time
	// openUntil lets the key's requests through without the database for
	// a moment after it failed to answer.
	openUntil time.Time
}

// limitTimeout bounds the statement: a request never waits long on the
// limiter.
const limitTimeout = time.Second

// leaseLife is how long a lease is good for, and how much of the rate one
// lease asks for: a tenth of a second's tokens.
const leaseLife = 100 * time.Millisecond

// Limiter returns a limiter of rate requests a second per key, with the
// given burst. When the database cannot answer, requests are let through
// (and logged): a limiter must not turn a database blip into an outage of
// every key, and the store's own calls fail then anyway.
func (s *KeyStore) Limiter(rate float64, burst int, log *slog.Logger) *Limiter {
	b := float64(max(burst, 1))
	lease := math.Min(b, math.Max(1, math.Ceil(rate*leaseLife.Seconds())))
	return &Limiter{s: s, rate: rate, burst: b, lease: lease, log: log, keys: map[string]*leased{}}
}

// Allow takes one token for key and reports whether there was one.
func (l *Limiter) Allow(key string) bool {
	l.mu.Lock()
	k := l.keys[key]
	if k == nil {
		k = &leased{}
		l.keys[key] = k
	}
	l.mu.Unlock()

	k.mu.Lock()
	defer k.mu.Unlock()
	now := time.Now()
	if k.tokens >= 1 && now.Before(k.expires) {
		k.tokens--
		return true
	}
	if now.Before(k.refusedUntil) {
		return false
	}
	if now.Before(k.openUntil) {
		return true
	}
	granted, err := l.take(key)
	if err != nil {
		if l.log != nil {
			l.log.Error("rate limit: the database did not answer; letting the request through", "err", err)
		}
		// For a moment the key's next requests here neither wait in turn
		// on a database that does not answer nor log each.
		k.openUntil = time.Now().Add(leaseLife)
		return true
	}
	if granted < 1 {
		// No token comes back sooner than 1/rate; tokens not given out
		// meanwhile stay in the bucket.
		k.tokens, k.refusedUntil = 0, now.Add(min(leaseLife, time.Duration(float64(time.Second)/l.rate)))
		return false
	}
	k.tokens, k.expires = granted-1, now.Add(leaseLife)
	return true
}

// take refills key's shared bucket for the time since it was last touched
// and takes up to a lease of whole tokens from it, returning how many. A
// key's first take makes its row, full.
func (l *Limiter) take(key string) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limitTimeout)
	defer cancel()
	l.takes.Add(1)
	for range 2 {
		var granted float64
		// The row is locked before it is read, so that two gateways
		// taking at once each see what the other left.
		err := l.s.db.QueryRow(ctx, `
			WITH cur AS (
				SELECT least($3, tokens + extract(epoch FROM clock_timestamp() - updated) * $2) AS t,
					clock_timestamp() AS at
				FROM rate_buckets WHERE key = $1 FOR UPDATE)
			UPDATE rate_buckets b SET tokens = cur.t - least($4, floor(cur.t)), allowed = cur.t >= 1, updated = cur.at
			FROM cur WHERE b.key = $1
			RETURNING least($4, floor(cur.t))`, key, l.rate, l.burst, l.lease).Scan(&granted)
		if !errors.Is(err, pgx.ErrNoRows) {
			return granted, err
		}
		if _, err := l.s.db.Exec(ctx, `
			INSERT INTO rate_buckets (key, tokens, updated, allowed) VALUES ($1, $2, clock_timestamp(), true)
			ON CONFLICT (key) DO NOTHING`, key, l.burst); err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("rate limit: the bucket of %q vanished as it was made", key)
}
