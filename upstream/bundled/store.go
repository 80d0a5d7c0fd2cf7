// Package bundled is dragoman's embedded store: attachment metadata and
// records in one bbolt database, content as one file per attachment.
//
// On disk, under the directory given to Open:
//
//	meta.db            bbolt: buckets attachments, index, unlinked, partials, records and schema (see schema.go, version.go)
//	blobs/ab/abcd...   the content of attachment abcd..., fanned out by the id's first byte
//	tmp/               uploads in progress; emptied at every Open
//
// A Create writes and fsyncs the content, links it into blobs/, fsyncs the
// directory and only then commits the metadata, so metadata never names a
// blob that is not durable. The reverse (a blob no metadata names) is what a
// crash between the two steps leaves, and what Open removes.
//
// A partial attachment (a placeholder Append fills in chunks) has a blob
// from the start, which grows with each chunk: the chunk is fsynced before
// its new size is committed, so the file always holds at least the
// committed size. A crash between the two leaves it longer; Open (and
// Append itself) cut it back to the committed size.
package bundled

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

var (
	_ upstream.Store           = (*Store)(nil)
	_ upstream.Appender        = (*Store)(nil)
	_ upstream.UnlinkedExpirer = (*Store)(nil)
)

// lockTimeout bounds the wait for bbolt's file lock, so a second process on
// the same directory fails with a clear error instead of hanging.
const lockTimeout = 5 * time.Second

// copyBufferSize is the size of the buffers each upload streams through;
// memory per upload is at most pipelineDepth of them (see pipeline),
// whatever the content's size.
const copyBufferSize = 256 << 10

// Store is the embedded store. It is safe for concurrent use; bbolt
// serialises the writers, so positions within a field never collide.
type Store struct {
	dir string
	db  *bolt.DB
	// blobsSlash is blobsDir and a separator, decided at open: a blob's
	// path is then one concatenation per download, not two Joins.
	blobsSlash string

	// bufs recycles copy buffers between uploads.
	bufs sync.Pool
	// appending serialises Appends per attachment id.
	appending keyLocks
	// decoded keeps recently read attachments decoded (listing a record is
	// the hot path, and JSON decoding was most of its cost).
	decoded decodeCache

	tmpRemoved, orphansRemoved int
	// partialsCut counts the partial blobs Open cut back to their
	// committed size.
	partialsCut int
	// schemaFound is the schema version Open found (see SchemaVersion).
	schemaFound uint64

	// holds defers blob removals while a backup or verify reads a snapshot.
	holds blobHolds
	// damage is what Open and reads found wrong with the blobs.
	damage damageLog
}

// Open opens (creating if needed) the store in dir, then removes what an
// interrupted upload left behind (see Recovered).
func Open(dir string) (*Store, error) { return open(dir, lockTimeout) }

func open(dir string, timeout time.Duration) (*Store, error) {
	s := &Store{dir: dir}
	s.blobsSlash = s.blobsDir() + string(filepath.Separator)
	s.bufs.New = func() any { b := make([]byte, copyBufferSize); return &b }
	for _, d := range []string{dir, s.blobsDir(), s.tmpDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	path := filepath.Join(dir, "meta.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: locked by another process (is another dragoman using %s?): %w", path, dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s.db = db
	if err := db.Update(func(tx *bolt.Tx) (err error) {
		s.schemaFound, err = upgradeSchema(tx)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	// Recovery runs under bbolt's file lock, so no other process is writing.
	if s.tmpRemoved, s.orphansRemoved, s.partialsCut, err = s.recoverDisk(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: recover: %w", err)
	}
	if err := s.checkPresence(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// Schema reports the schema version Open found and the one the store has
// now: they differ when Open upgraded it.
func (s *Store) Schema() (found, now uint64) { return s.schemaFound, SchemaVersion }

// Recovered reports what Open cleaned up: entries of tmp/ (uploads that
// never finished) and blob files that no metadata referenced (a crash
// between publishing a blob and committing its metadata, or an interrupted
// removal). Partial blobs cut back to their committed size are not
// counted: that is an ordinary interrupted chunk, which the client resends.
func (s *Store) Recovered() (tmpRemoved, orphanBlobsRemoved int) {
	return s.tmpRemoved, s.orphansRemoved
}

// Ping reports whether the metadata database is readable, for health checks.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return ctxError(err)
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		for _, name := range bucketNames() {
			if tx.Bucket([]byte(name)) == nil {
				return fmt.Errorf("bucket %s missing", name)
			}
		}
		return nil
	})
	if err != nil {
		return upstream.Wrap(upstream.KindUnavailable, fmt.Errorf("ping: %w", err), "store unavailable")
	}
	return nil
}

// Close closes the metadata database. Content readers returned by Open stay
// readable until they are closed.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close store: %w", err)
	}
	return nil
}

func (s *Store) blobsDir() string { return filepath.Join(s.dir, "blobs") }
func (s *Store) tmpDir() string   { return filepath.Join(s.dir, "tmp") }
