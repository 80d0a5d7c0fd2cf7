// Package pgstore is the store for many stateless gateways: records,
// attachment metadata, chunk state, keys and rate limits in PostgreSQL,
// attachment bytes in an S3-compatible bucket (see upstream/s3blobs).
//
// A Create streams the content into a new object (a multipart upload as
// it arrives), and only then commits the attachment's row: the row is
// what makes the attachment visible, so a gateway killed mid-upload
// leaves no attachment. What it may leave is an object, or an unfinished
// multipart upload, that no row names; each upload is registered in
// loose_objects before it starts, and the sweeper (see sweep.go) removes
// the ones no gateway has touched for the grace period. A Delete removes
// the row and registers the object as loose in one commit, then deletes
// the object; a crash between the two leaves it to the sweeper.
//
// Every change to a record's attachments first upserts the record's row,
// which locks it: writers of one record serialise on it across gateways,
// so positions within a field never collide. Reads see committed rows, so
// a write acknowledged by one gateway is seen by every other at once.
package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/s3blobs"
)

var (
	_ upstream.Store           = (*Store)(nil)
	_ upstream.Appender        = (*Store)(nil)
	_ upstream.UnlinkedExpirer = (*Store)(nil)
	_ upstream.RecordLister    = (*Store)(nil)
	_ upstream.RecordReader    = (*Store)(nil)
	_ upstream.ListedOpener    = (*Store)(nil)
)

// Store is the PostgreSQL + S3 store. It is safe for concurrent use, and
// any number of Stores (in any number of processes) may share one
// database and bucket.
type Store struct {
	db *pgxpool.Pool
	// locks holds the connections of Appends waiting for or holding their
	// advisory lock: apart from db, so that appends waiting on each other
	// never take the connections the holder needs to commit.
	locks *pgxpool.Pool
	blobs *s3blobs.Bucket

	schemaFound int
	// heartbeat is how often an upload in progress touches its
	// loose_objects row; the sweeper's grace must be well above it.
	heartbeat time.Duration

	// stats is Stats' last count, kept for statsTTL.
	stats    statsCache
	statsTTL time.Duration
}

// Options say where the store lives.
type Options struct {
	// DatabaseURL is postgres://USER:PASS@HOST:PORT/DB[?...].
	DatabaseURL string
	// Blobs is the bucket the bytes go to.
	Blobs s3blobs.Config

	// dial, when set, makes the database connections (the tests count
	// round trips with it).
	dial pgconn.DialFunc
}

// Open connects to the database (creating or upgrading the schema) and
// checks that the bucket answers.
func Open(ctx context.Context, o Options) (*Store, error) {
	pcfg, err := pgxpool.ParseConfig(o.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", errMalformedURL)
	}
	b, err := s3blobs.New(o.Blobs)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if !strings.Contains(o.DatabaseURL, "pool_max_conns") {
		// pgx's default is the number of cores; requests wait on the
		// network, not the CPU.
		pcfg.MaxConns = defaultMaxConns
	}
	// This connection writes records.match with data (see match.go).
	pcfg.ConnConfig.RuntimeParams["dragoman.match"] = "on"
	if o.dial != nil {
		pcfg.ConnConfig.DialFunc = o.dial
	}
	lcfg := pcfg.Copy()
	lcfg.MaxConns = max(pcfg.MaxConns/2, 2)
	db, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("open store: connect to PostgreSQL: %w", err)
	}
	locks, err := pgxpool.NewWithConfig(ctx, lcfg)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: connect to PostgreSQL: %w", err)
	}
	s := &Store{db: db, locks: locks, blobs: b, heartbeat: time.Minute, statsTTL: StatsTTL}
	conn, err := db.Acquire(ctx)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: connect to PostgreSQL at %s:%d: %w", pcfg.ConnConfig.Host, pcfg.ConnConfig.Port, err)
	}
	s.schemaFound, err = migrate(ctx, conn.Conn())
	conn.Release()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if _, err := s.backfillMatch(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := b.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// Schema reports the schema version Open found and the one the database
// has now: they differ when Open upgraded it.
func (s *Store) Schema() (found, now int) { return s.schemaFound, SchemaVersion }

// DB is the connection pool, for the keys and rate limits kept beside the
// store (see keys.go, ratelimit.go).
func (s *Store) DB() *pgxpool.Pool { return s.db }

// Ping reports whether the database and the bucket answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.Ping(ctx); err != nil {
		return upstream.Wrap(upstream.KindUnavailable, fmt.Errorf("ping PostgreSQL: %w", err), "store unavailable")
	}
	if err := s.blobs.Ping(ctx); err != nil {
		return upstream.Wrap(upstream.KindUnavailable, err, "store unavailable")
	}
	return nil
}

// Close closes the connection pools.
func (s *Store) Close() error {
	s.db.Close()
	s.locks.Close()
	return nil
}

// errMalformedURL is said instead of pgx's message, which may quote the
// URL, password and all.
var errMalformedURL = errors.New("the database URL is malformed: want postgres://USER:PASS@HOST:PORT/DB")

// defaultMaxConns is the size of the connection pool when the database
// URL does not say (pool_max_conns=N).
const defaultMaxConns = 32

// txRetries is how often a transaction that PostgreSQL aborted for a
// deadlock or a serialisation failure is run again.
const txRetries = 5

// inTx runs fn in a transaction and commits it, running it again when
// PostgreSQL aborts it for a deadlock (writers of two records that lock
// them in opposite orders) or a serialisation failure. fn must have no
// effect outside the transaction.
func (s *Store) inTx(ctx context.Context, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	var err error
	for range txRetries {
		err = pgx.BeginTxFunc(ctx, s.db, opts, fn)
		if !retryable(err) {
			return err
		}
	}
	return err
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// snapshot is the options of a read of several statements that must see
// one moment.
var snapshot = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

// classify adds context to err and gives it a kind: its own if it has
// one, timeout for a done context, unavailable when PostgreSQL or S3
// cannot be reached, internal otherwise.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s: %w", what, err)
	if _, ok := errors.AsType[*upstream.Error](err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return upstream.Wrap(upstream.KindTimeout, err, "the request was cancelled")
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return upstream.Wrap(upstream.KindTimeout, err, "the request timed out")
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "22021" || pe.Code == "22P05": // bad UTF-8, NUL in text
			return upstream.Wrap(upstream.KindInvalid, err, "a name or value holds bytes that are not text")
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "53"), strings.HasPrefix(pe.Code, "57P"):
			return upstream.Wrap(upstream.KindUnavailable, err, "the database is unavailable")
		}
		return upstream.Wrap(upstream.KindInternal, err, "storage failure")
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) {
		return upstream.Wrap(upstream.KindUnavailable, err, "the database is unavailable")
	}
	return upstream.Wrap(upstream.KindInternal, err, "storage failure")
}

func errAttachmentNotFound() error {
	return upstream.Errorf(upstream.KindNotFound, "attachment not found")
}

func errRecordNotFound() error {
	return upstream.Errorf(upstream.KindNotFound, "record not found")
}

func newID() string { return randomHex(8) }

// newObjectName is a fresh object name: 128 random bits, so two uploads
// never write one object, whatever happens to attachment ids.
func newObjectName() string { return "o/" + randomHex(16) }

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails since Go 1.24
	return hex.EncodeToString(b)
}

// now is the time stamped on rows: UTC, in PostgreSQL's microseconds, so
// a value returned by a write equals the one read back.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// checkRef refuses a record reference that cannot name a record.
func checkRef(ref upstream.RecordRef) error {
	if ref.Collection == "" || ref.ID == "" {
		return upstream.Errorf(upstream.KindMissing, "record collection and id are required")
	}
	return checkText(ref.Collection, ref.ID)
}

// checkText refuses strings PostgreSQL's text cannot hold (a NUL), as
// the bundled store refuses NUL in its keys.
func checkText(ss ...string) error {
	for _, s := range ss {
		if strings.Contains(s, "\x00") {
			return upstream.Errorf(upstream.KindInvalid, "names must not contain NUL")
		}
	}
	return nil
}

func validRef(ref upstream.RecordRef) bool {
	return ref.Collection != "" && ref.ID != "" && checkText(ref.Collection, ref.ID) == nil
}

// normField maps an empty field to the default field.
func normField(field string) (string, error) {
	if field == "" {
		return upstream.DefaultField, nil
	}
	if err := checkText(field); err != nil {
		return "", err
	}
	return field, nil
}
