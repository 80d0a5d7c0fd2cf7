package remote

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/dragoman-gw/dragoman/upstream"
)

// idMap keeps, for every upstream object the gateway has shown a client,
// a canonical 64-bit id and the upstream's own address of the object. The
// client only ever sees canonical ids in its dialect's format, so it cannot
// name an upstream object the gateway never handed out, and every id it was
// given keeps reaching the same object.
type idMap struct {
	db *bolt.DB
	// decoded keeps refs read again unchanged decoded: a listing reads
	// one per file, and JSON decoding was a fifth of a chain's list.
	decoded refCache
	// heldCount is how many chunked uploads are held (held.go), so that
	// listings look for them only when there are some.
	heldCount atomic.Int64
	// recordCount is how many records the gateway keeps (records.go),
	// likewise.
	recordCount atomic.Int64
	// gen counts the commits; known holds what listings found, good only
	// while gen has not moved since it was read.
	gen   atomic.Uint64
	known knownKeys
}

// knownKeys maps upstream addresses to the canonical ids and refs a
// listing last read for them, all as of one generation of the map: a
// listing of known files, the common case, then reads no transaction.
type knownKeys struct {
	mu      sync.RWMutex
	gen     uint64
	entries map[refKey]knownEntry
}

type knownEntry struct {
	id string
	r  ref
}

// refKey is ref.key as a comparable value, for map lookups that allocate
// nothing.
type refKey struct {
	nativeID, collection, record, field, name string
}

func keyOf(r ref) refKey {
	if r.NativeID != "" {
		return refKey{nativeID: r.NativeID}
	}
	return refKey{collection: r.Record.Collection, record: r.Record.ID, field: r.Field, name: r.Name}
}

// write commits f, and then moves the generation on, so nothing read
// before the commit is used after it returns.
func (m *idMap) write(f func(tx *bolt.Tx) error) error {
	defer m.gen.Add(1)
	return m.db.Update(f)
}

// knownIDs answers idsUnchangedInto from the entries of the current
// generation, if they hold every ref.
func (m *idMap) knownIDs(refs []ref, extras map[string]*upstream.Attachment) ([]string, bool) {
	gen := m.gen.Load()
	m.known.mu.RLock()
	defer m.known.mu.RUnlock()
	if m.known.gen != gen || len(m.known.entries) == 0 {
		return nil, false
	}
	out := make([]string, len(refs))
	for i, r := range refs {
		e, ok := m.known.entries[keyOf(r)]
		if !ok || e.r.Record != r.Record || e.r.Field != r.Field || e.r.Name != r.Name {
			return nil, false
		}
		if e.r.Deleted {
			continue
		}
		out[i] = e.id
		if extras != nil && e.r.Extra != nil {
			extras[e.id] = e.r.Extra
		}
	}
	return out, true
}

// remember keeps what a read transaction begun at generation gen found.
func (m *idMap) remember(gen uint64, found map[refKey]knownEntry) {
	m.known.mu.Lock()
	defer m.known.mu.Unlock()
	if m.gen.Load() != gen {
		return // a commit came since: what was read may be stale
	}
	if m.known.entries == nil || m.known.gen != gen || len(m.known.entries)+len(found) > refCacheSize {
		m.known.gen, m.known.entries = gen, map[refKey]knownEntry{}
	}
	for k, e := range found {
		m.known.entries[k] = e
	}
}

// refCache maps a canonical id to its stored bytes and decoded ref; an
// entry is used only when the stored bytes are the same, so no write can
// be hidden by it.
type refCache struct {
	mu      sync.RWMutex
	entries map[string]refEntry
}

type refEntry struct {
	raw []byte
	r   ref
}

// refCacheSize bounds the cache; past it, the cache starts over.
const refCacheSize = 65536

func (c *refCache) get(byID *bolt.Bucket, id []byte) (ref, bool) {
	v := byID.Get(id)
	if v == nil {
		return ref{}, false
	}
	c.mu.RLock()
	e, ok := c.entries[string(id)]
	c.mu.RUnlock()
	if ok && bytes.Equal(e.raw, v) {
		return e.r, true
	}
	var r ref
	if json.Unmarshal(v, &r) != nil {
		return ref{}, false
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= refCacheSize {
		c.entries = map[string]refEntry{}
	}
	c.entries[string(id)] = refEntry{raw: bytes.Clone(v), r: r}
	c.mu.Unlock()
	return r, true
}

var (
	bucketByKey = []byte("by-upstream-key")
	bucketByID  = []byte("by-canonical-id")
	// bucketHeld lists the ids of chunked uploads the gateway still holds
	// (held.go): they have no upstream key yet.
	bucketHeld = []byte("held")
)

// ref is the upstream's address of an object, and what the gateway knows
// of it that the upstream's dialect cannot carry.
type ref struct {
	NativeID string             `json:"native_id,omitempty"`
	Record   upstream.RecordRef `json:"record"`
	Field    string             `json:"field"`
	Name     string             `json:"name"`
	// Extra is what the gateway knows that the dialect cannot carry: for
	// an attachment created through the gateway, digests computed while
	// the bytes streamed out, tags, owner, times, the field when the
	// dialect has none; for one first seen in a listing, when it was seen.
	Extra *upstream.Attachment `json:"extra,omitempty"`
	// Created marks an object a create of the gateway's made (and so
	// claimed): concurrent creates of one name must not take each other's.
	Created bool `json:"created,omitempty"`
	// Held marks a chunked upload the gateway keeps until its last chunk
	// (held.go): the upstream has nothing of it yet, so it has no key.
	Held *held `json:"held,omitempty"`
	// Deleted marks an object the gateway deleted but the upstream could
	// not be told to (an unlinked EspoCRM upload, which it expires on its
	// own): the id stays unknown, and listings never show the object.
	Deleted bool `json:"deleted,omitempty"`
}

// key identifies the upstream object: its own id where it has one, else
// its record, field and name (Nimblex addresses files by name).
func (r ref) key() []byte {
	if r.NativeID != "" {
		return []byte("id\x00" + r.NativeID)
	}
	return []byte("name\x00" + r.Record.Collection + "\x00" + r.Record.ID + "\x00" + r.Field + "\x00" + r.Name)
}

func openIDMap(path string) (*idMap, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open id map %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		older := tx.Bucket(bucketSeen) == nil
		for _, b := range [][]byte{bucketByKey, bucketByID, bucketHeld, bucketRecords, bucketSeen} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if older {
			return backfillSeen(tx)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init id map %s: %w", path, err)
	}
	m := &idMap{db: db}
	_ = db.View(func(tx *bolt.Tx) error {
		m.heldCount.Store(int64(tx.Bucket(bucketHeld).Stats().KeyN))
		m.recordCount.Store(int64(tx.Bucket(bucketRecords).Stats().KeyN))
		return nil
	})
	return m, nil
}

func newID() (string, error) {
	var raw [8]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(raw[:]), nil
}

func putRef(byID *bolt.Bucket, id string, r ref) error {
	val, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return byID.Put([]byte(id), val)
}

func getRef(byID *bolt.Bucket, id []byte) (ref, bool) {
	var r ref
	v := byID.Get(id)
	if v == nil || json.Unmarshal(v, &r) != nil {
		return ref{}, false
	}
	return r, true
}

// ids returns the canonical id of every ref of a listing, minting ids for
// new ones, in one transaction; an object the gateway deleted gets "".
// The address of a known object is kept current (a file moved between
// fields or records), and so is what the gateway knows of it.
func (m *idMap) ids(refs []ref) ([]string, error) {
	// Most listings show only known objects where they were: a read
	// transaction answers them without a commit (and its fsyncs).
	if out, ok := m.idsUnchanged(refs); ok {
		return out, nil
	}
	out := make([]string, len(refs))
	err := m.write(func(tx *bolt.Tx) error {
		if err := seeRecordsIn(tx, refs...); err != nil {
			return err
		}
		byKey, byID := tx.Bucket(bucketByKey), tx.Bucket(bucketByID)
		for i, r := range refs {
			if id := byKey.Get(r.key()); id != nil {
				old, _ := getRef(byID, id)
				if old.Deleted {
					continue
				}
				out[i] = string(id)
				r.Extra, r.Created = old.Extra, old.Created
				if err := putRef(byID, out[i], r); err != nil {
					return err
				}
				continue
			}
			id, err := newID()
			if err != nil {
				return err
			}
			if r.Extra == nil {
				// An object the gateway did not create: its times, when its
				// dialect carries none, are when the gateway first saw it,
				// kept so they do not change from one listing to the next.
				seen := time.Now().UTC()
				r.Extra = &upstream.Attachment{Created: seen, Modified: seen}
			}
			if err := byKey.Put(r.key(), []byte(id)); err != nil {
				return err
			}
			if err := putRef(byID, id, r); err != nil {
				return err
			}
			out[i] = id
		}
		return nil
	})
	if err != nil {
		return nil, upstream.Wrap(upstream.KindInternal, err, "record upstream ids")
	}
	return out, nil
}

// idsAndExtras is ids and extras together: a listing of known objects,
// the common case, then costs one read transaction instead of two.
func (m *idMap) idsAndExtras(refs []ref) ([]string, map[string]*upstream.Attachment, error) {
	extras := map[string]*upstream.Attachment{}
	if out, ok := m.idsUnchangedInto(refs, extras); ok {
		return out, extras, nil
	}
	out, err := m.ids(refs)
	if err != nil {
		return nil, nil, err
	}
	return out, m.extras(out), nil
}

// idsUnchanged is ids for refs that are all known at the addresses given.
func (m *idMap) idsUnchanged(refs []ref) ([]string, bool) {
	return m.idsUnchangedInto(refs, nil)
}

// idsUnchangedInto is idsUnchanged that also collects the extras it reads
// on the way, when extras is not nil.
func (m *idMap) idsUnchangedInto(refs []ref, extras map[string]*upstream.Attachment) ([]string, bool) {
	if out, ok := m.knownIDs(refs, extras); ok {
		return out, true
	}
	gen := m.gen.Load()
	found := make(map[refKey]knownEntry, len(refs))
	out := make([]string, len(refs))
	ok := true
	_ = m.db.View(func(tx *bolt.Tx) error {
		byKey, byID := tx.Bucket(bucketByKey), tx.Bucket(bucketByID)
		for i, r := range refs {
			id := byKey.Get(r.key())
			if id == nil {
				ok = false
				return nil
			}
			old, _ := m.decoded.get(byID, id)
			found[keyOf(r)] = knownEntry{id: string(id), r: old}
			if old.Deleted {
				continue
			}
			if old.Record != r.Record || old.Field != r.Field || old.Name != r.Name {
				ok = false
				return nil
			}
			out[i] = string(id)
			if extras != nil && old.Extra != nil {
				extras[out[i]] = old.Extra
			}
		}
		return nil
	})
	if ok {
		m.remember(gen, found)
	}
	return out, ok
}

// fresh gives an object the gateway just created its canonical id, with
// what the gateway knows of it. An object with an id of its own is new
// upstream, but a listing made meanwhile may have given it an id already,
// which is kept: a client may hold it. For a dialect that addresses files
// by name, an upload of the same name is a new file that replaced the old
// one, whose id is dropped.
func (m *idMap) fresh(r ref) (string, error) {
	r.Created = true
	var id string
	err := m.write(func(tx *bolt.Tx) error {
		if err := seeRecordsIn(tx, r); err != nil {
			return err
		}
		byKey, byID := tx.Bucket(bucketByKey), tx.Bucket(bucketByID)
		if old := byKey.Get(r.key()); old != nil {
			if prev, ok := getRef(byID, old); ok && r.NativeID != "" && !prev.Created && !prev.Deleted {
				id = string(old)
				return putRef(byID, id, r)
			}
			if err := byID.Delete(old); err != nil {
				return err
			}
		}
		var err error
		if id, err = newID(); err != nil {
			return err
		}
		if err := byKey.Put(r.key(), []byte(id)); err != nil {
			return err
		}
		return putRef(byID, id, r)
	})
	if err != nil {
		return "", upstream.Wrap(upstream.KindInternal, err, "record upstream ids")
	}
	return id, nil
}

// extras returns the gateway's own metadata of canonical ids.
func (m *idMap) extras(ids []string) map[string]*upstream.Attachment {
	out := map[string]*upstream.Attachment{}
	_ = m.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketByID)
		for _, id := range ids {
			if r, ok := getRef(b, []byte(id)); ok && r.Extra != nil {
				out[id] = r.Extra
			}
		}
		return nil
	})
	return out
}

// lookup returns the upstream address of a canonical id. Anything the
// gateway never minted, or has deleted, is not found: a client cannot
// reach an upstream object by making up an id.
func (m *idMap) lookup(id string) (ref, error) {
	notFound := upstream.Errorf(upstream.KindNotFound, "attachment not found")
	if !upstream.ValidID(id) {
		return ref{}, notFound
	}
	var r ref
	found := false
	err := m.db.View(func(tx *bolt.Tx) error {
		r, found = getRef(tx.Bucket(bucketByID), []byte(id))
		return nil
	})
	if err != nil {
		return ref{}, upstream.Wrap(upstream.KindInternal, err, "read upstream ids")
	}
	if !found || r.Deleted {
		return ref{}, notFound
	}
	return r, nil
}

// update changes what the map says of a canonical id.
func (m *idMap) update(id string, f func(r *ref)) error {
	err := m.write(func(tx *bolt.Tx) error {
		byID := tx.Bucket(bucketByID)
		r, ok := getRef(byID, []byte(id))
		if !ok {
			return nil
		}
		f(&r)
		return putRef(byID, id, r)
	})
	if err != nil {
		return upstream.Wrap(upstream.KindInternal, err, "record upstream ids")
	}
	return nil
}

// forget drops a canonical id once its object is deleted.
func (m *idMap) forget(id string) error {
	wasHeld := false
	err := m.write(func(tx *bolt.Tx) error {
		wasHeld = false
		byID := tx.Bucket(bucketByID)
		r, ok := getRef(byID, []byte(id))
		if !ok {
			return nil
		}
		if r.Held != nil {
			wasHeld = true
			if err := tx.Bucket(bucketHeld).Delete([]byte(id)); err != nil {
				return err
			}
			return byID.Delete([]byte(id))
		}
		byKey := tx.Bucket(bucketByKey)
		if cur := byKey.Get(r.key()); cur != nil && string(cur) == id {
			if err := byKey.Delete(r.key()); err != nil {
				return err
			}
		}
		return byID.Delete([]byte(id))
	})
	if err != nil {
		return upstream.Wrap(upstream.KindInternal, err, "record upstream ids")
	}
	if wasHeld {
		m.heldCount.Add(-1)
	}
	return nil
}

func (m *idMap) close() error { return m.db.Close() }

// claimed reports whether an upstream object is known as one the gateway
// created (or deleted): a create looking for what it made passes over it.
func (m *idMap) claimed(r ref) bool {
	found := false
	_ = m.db.View(func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketByKey).Get(r.key())
		if id == nil {
			return nil
		}
		prev, ok := getRef(tx.Bucket(bucketByID), id)
		found = ok && (prev.Created || prev.Deleted)
		return nil
	})
	return found
}

// unlinkedBefore lists the ids of objects linked to no record, held or
// upstream, that the gateway made before cutoff.
func (m *idMap) unlinkedBefore(cutoff time.Time) []string {
	var out []string
	_ = m.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketByID).ForEach(func(k, v []byte) error {
			var r ref
			if json.Unmarshal(v, &r) != nil || r.Record.ID != "" || r.Deleted || r.Extra == nil {
				return nil
			}
			if r.Extra.Created.Before(cutoff) {
				out = append(out, string(k))
			}
			return nil
		})
	})
	return out
}
