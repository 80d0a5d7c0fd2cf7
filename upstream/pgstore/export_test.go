package pgstore

import (
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// WithDial returns o with its database connections made by dial.
func WithDial(o Options, dial pgconn.DialFunc) Options {
	o.dial = dial
	return o
}

// SchemaOf is the SQL that takes the schema from version v to v+1.
func SchemaOf(v int) string { return migrations[v] }

// SetStatsTTL sets how long s.Stats answers from its last count.
func SetStatsTTL(s *Store, ttl time.Duration) { s.statsTTL = ttl }

// SetLease sets how many tokens l asks the shared bucket for at a time.
func SetLease(l *Limiter, tokens float64) { l.lease = tokens }

// Takes is how many times l has asked the database for tokens.
func Takes(l *Limiter) int64 { return l.takes.Load() }
