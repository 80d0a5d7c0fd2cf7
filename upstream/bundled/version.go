package bundled

import (
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the on-disk format this code reads and writes: the
// buckets of schema.go and the blob layout of store.go. It is stored in
// meta.db (bucket "schema", key "version", 8 bytes big-endian) and raised,
// with an entry in upgrades, whenever either changes in a way older code
// would misread.
//
//	0  the format before it carried a version (same buckets as 1)
//	1  the version stamp itself
//	2  the names bucket: each record's attachments by name
const SchemaVersion = 2

// ErrNewerSchema: the store was written by a newer dragoman, whose format
// this one would misread.
var ErrNewerSchema = errors.New("store schema is newer than this dragoman")

const bucketSchema = "schema"

var keySchemaVersion = []byte("version")

// upgrades returns the step from each version to the next: upgrades()[v]
// takes a store at version v to v+1, inside the transaction of Open.
func upgrades() []func(tx *bolt.Tx) error {
	return []func(tx *bolt.Tx) error{
		0: createBuckets, // a store from before versioning may lack the newer buckets
		1: indexNames,
	}
}

// indexNames fills the names bucket from the index, for a store written
// before it existed.
func indexNames(tx *bolt.Tx) error {
	if err := tx.DeleteBucket([]byte(bucketNamed)); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
		return err
	}
	names, err := tx.CreateBucket([]byte(bucketNamed))
	if err != nil {
		return err
	}
	m := metaOf(tx)
	c := m.index().Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		a, ok, err := m.attachment(indexID(k))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("index names attachment %q, which does not exist", indexID(k))
		}
		if err := names.Put(nameKey(a), []byte{}); err != nil {
			return err
		}
	}
	return nil
}

// schemaVersion reads the stored version: a store with no schema bucket
// but attachments is version 0; one with no buckets at all is new (fresh).
func schemaVersion(tx *bolt.Tx) (v uint64, fresh bool, err error) {
	b := tx.Bucket([]byte(bucketSchema))
	if b == nil {
		return 0, tx.Bucket([]byte(bucketAttachments)) == nil, nil
	}
	raw := b.Get(keySchemaVersion)
	if len(raw) != 8 {
		return 0, false, fmt.Errorf("schema version is %x, want 8 bytes", raw)
	}
	return binary.BigEndian.Uint64(raw), false, nil
}

// upgradeSchema brings the store to SchemaVersion, creating it when new,
// and returns the version it found (SchemaVersion for a new store). A
// newer version is refused with ErrNewerSchema and nothing is written.
func upgradeSchema(tx *bolt.Tx) (found uint64, err error) {
	v, fresh, err := schemaVersion(tx)
	if err != nil {
		return 0, err
	}
	if fresh {
		v = SchemaVersion
		if err := createBuckets(tx); err != nil {
			return 0, err
		}
	}
	if v > SchemaVersion {
		return v, fmt.Errorf("%w: it is version %d, this dragoman reads up to %d: run the dragoman that wrote it, or a newer one", ErrNewerSchema, v, SchemaVersion)
	}
	found = v
	steps := upgrades()
	for ; v < SchemaVersion; v++ {
		if err := steps[v](tx); err != nil {
			return found, fmt.Errorf("upgrade schema from version %d to %d: %w", v, v+1, err)
		}
	}
	b, err := tx.CreateBucketIfNotExists([]byte(bucketSchema))
	if err != nil {
		return found, err
	}
	if err := b.Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, SchemaVersion)); err != nil {
		return found, err
	}
	return found, nil
}
