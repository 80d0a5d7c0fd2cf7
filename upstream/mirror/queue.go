package mirror

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
)

// Buckets of the queue's database:
//
//	ops         sequence (8 bytes, big-endian) -> JSON op, in the order the primary acknowledged them
//	ids         primary attachment id -> mirror attachment id
//	mirror-ids  mirror attachment id -> primary attachment id
var (
	bucketOps       = []byte("ops")
	bucketIDs       = []byte("ids")
	bucketMirrorIDs = []byte("mirror-ids")
)

// Kinds of write the queue carries.
const (
	opCreate = "create"
	opDelete = "delete"
	opUpdate = "update"
)

// op is one write the primary acknowledged, to be made at the mirror.
type op struct {
	Seq  uint64    `json:"-"`
	Kind string    `json:"kind"`
	At   time.Time `json:"at"`
	// ID is the primary's attachment (create, delete).
	ID string `json:"id,omitempty"`
	// Replace is the create's ReplaceSameName.
	Replace bool `json:"replace,omitempty"`
	// Was is the attachment as it was before a delete, to find it at the
	// mirror when the id map does not know it (a file migrated before
	// dual-write began).
	Was *upstream.Attachment `json:"was,omitempty"`
	// Record, Data and Fields are an update's.
	Record upstream.RecordRef  `json:"record"`
	Data   json.RawMessage     `json:"data,omitempty"`
	Fields map[string][]string `json:"fields,omitempty"`
}

// queue is the durable queue of writes for the mirror, and the map of
// primary ids to mirror ids, in one bbolt database in the data dir: an op
// is durable (fsynced) when enqueue returns, and leaves the queue only
// once the mirror has it.
type queue struct {
	db *bolt.DB
	// wake is signalled (without blocking) on every enqueue.
	wake chan struct{}

	mu sync.Mutex
	// pending counts queued ops per record, so that shadow reads do not
	// compare a record whose writes are still on their way.
	pending map[upstream.RecordRef]int
	// count is how many ops are queued.
	count int
}

func openQueue(path string) (*queue, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open mirror queue %s: %w", path, err)
	}
	q := &queue{db: db, wake: make(chan struct{}, 1), pending: map[upstream.RecordRef]int{}}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketOps, bucketIDs, bucketMirrorIDs} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketOps).ForEach(func(_, v []byte) error {
			var o op
			if json.Unmarshal(v, &o) == nil {
				q.pending[o.record()]++
			}
			q.count++
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open mirror queue %s: %w", path, err)
	}
	return q, nil
}

// record is the record an op writes to (for a delete, where the file was).
func (o op) record() upstream.RecordRef {
	if o.Was != nil {
		return o.Was.Record
	}
	return o.Record
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// enqueue appends o durably.
func (q *queue) enqueue(o op) error {
	v, err := json.Marshal(o)
	if err != nil {
		return err
	}
	err = q.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOps)
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(seqKey(seq), v)
	})
	if err != nil {
		return upstream.Wrap(upstream.KindUnavailable, err, "the write is done but could not be queued for the mirror")
	}
	q.mu.Lock()
	q.pending[o.record()]++
	q.count++
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// first returns the oldest op, if any.
func (q *queue) first() (op, bool, error) {
	var o op
	found := false
	err := q.db.View(func(tx *bolt.Tx) error {
		k, v := tx.Bucket(bucketOps).Cursor().First()
		if k == nil {
			return nil
		}
		found = true
		o.Seq = binary.BigEndian.Uint64(k)
		return json.Unmarshal(v, &o)
	})
	return o, found, err
}

// done removes an op the mirror has (or can never have), recording the
// mirror id of a create in the same commit.
func (q *queue) done(o op, primaryID, mirrorID string) error {
	err := q.db.Update(func(tx *bolt.Tx) error {
		if primaryID != "" {
			if err := q.mapIDs(tx, primaryID, mirrorID); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketOps).Delete(seqKey(o.Seq))
	})
	if err != nil {
		return err
	}
	q.mu.Lock()
	q.count--
	if q.pending[o.record()]--; q.pending[o.record()] <= 0 {
		delete(q.pending, o.record())
	}
	q.mu.Unlock()
	return nil
}

// mapIDs maps a primary id to a mirror id; an empty mirror id forgets it.
func (q *queue) mapIDs(tx *bolt.Tx, primaryID, mirrorID string) error {
	ids, back := tx.Bucket(bucketIDs), tx.Bucket(bucketMirrorIDs)
	if old := ids.Get([]byte(primaryID)); old != nil {
		if err := back.Delete(old); err != nil {
			return err
		}
	}
	if mirrorID == "" {
		return ids.Delete([]byte(primaryID))
	}
	if err := ids.Put([]byte(primaryID), []byte(mirrorID)); err != nil {
		return err
	}
	return back.Put([]byte(mirrorID), []byte(primaryID))
}

// mirrorID returns the mirror's id of a primary attachment.
func (q *queue) mirrorID(primaryID string) (string, bool) {
	var id string
	q.db.View(func(tx *bolt.Tx) error {
		id = string(tx.Bucket(bucketIDs).Get([]byte(primaryID)))
		return nil
	})
	return id, id != ""
}

// mapped reports whether a mirror attachment stands for a primary one.
func (q *queue) mapped(mirrorID string) bool {
	var ok bool
	q.db.View(func(tx *bolt.Tx) error {
		ok = tx.Bucket(bucketMirrorIDs).Get([]byte(mirrorID)) != nil
		return nil
	})
	return ok
}

// depth returns how many ops wait, and when the oldest was acknowledged.
func (q *queue) depth() (int, time.Time) {
	q.mu.Lock()
	n := q.count
	q.mu.Unlock()
	var oldest time.Time
	q.db.View(func(tx *bolt.Tx) error {
		if _, v := tx.Bucket(bucketOps).Cursor().First(); v != nil {
			var o op
			if json.Unmarshal(v, &o) == nil {
				oldest = o.At
			}
		}
		return nil
	})
	return n, oldest
}

// busy reports whether writes to rec are still queued.
func (q *queue) busy(rec upstream.RecordRef) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending[rec] > 0
}

func (q *queue) close() error { return q.db.Close() }
