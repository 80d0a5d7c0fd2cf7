package remote

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
}

var (
	bucketByKey = []byte("by-upstream-key")
	bucketByID  = []byte("by-canonical-id")
)

// ref is the upstream's address of an object, and what the gateway knows
// of it that the upstream's dialect cannot carry.
type ref struct {
	NativeID string             `json:"native_id,omitempty"`
	Record   upstream.RecordRef `json:"record"`
	Field    string             `json:"field"`
	Name     string             `json:"name"`
	// Extra is the metadata of an attachment created through the gateway:
	// digests computed while the bytes streamed out, tags, owner, times.
	Extra *upstream.Attachment `json:"extra,omitempty"`
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
		for _, b := range [][]byte{bucketByKey, bucketByID} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init id map %s: %w", path, err)
	}
	return &idMap{db: db}, nil
}

// ids returns the canonical id of every ref, minting ids for new ones, in
// one transaction.
func (m *idMap) ids(refs []ref) ([]string, error) {
	out := make([]string, len(refs))
	err := m.db.Update(func(tx *bolt.Tx) error {
		byKey, byID := tx.Bucket(bucketByKey), tx.Bucket(bucketByID)
		for i, r := range refs {
			val, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if id := byKey.Get(r.key()); id != nil {
				out[i] = string(id)
				// Keep the address current (a file moved between records),
				// and what the gateway knows of it.
				if r.Extra == nil {
					var old ref
					if json.Unmarshal(byID.Get(id), &old) == nil && old.Extra != nil {
						r.Extra = old.Extra
						if val, err = json.Marshal(r); err != nil {
							return err
						}
					}
				}
				if err := byID.Put(id, val); err != nil {
					return err
				}
				continue
			}
			var raw [8]byte
			if _, err := rand.Read(raw[:]); err != nil {
				return err
			}
			id := hex.EncodeToString(raw[:])
			if err := byKey.Put(r.key(), []byte(id)); err != nil {
				return err
			}
			if err := byID.Put([]byte(id), val); err != nil {
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

// extras returns the gateway's own metadata of canonical ids.
func (m *idMap) extras(ids []string) map[string]*upstream.Attachment {
	out := map[string]*upstream.Attachment{}
	_ = m.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketByID)
		for _, id := range ids {
			var r ref
			if v := b.Get([]byte(id)); v != nil && json.Unmarshal(v, &r) == nil && r.Extra != nil {
				out[id] = r.Extra
			}
		}
		return nil
	})
	return out
}

// lookup returns the upstream address of a canonical id.
func (m *idMap) lookup(id string) (ref, error) {
	var r ref
	found := false
	err := m.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketByID).Get([]byte(id))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &r)
	})
	if err != nil {
		return ref{}, upstream.Wrap(upstream.KindInternal, err, "read upstream ids")
	}
	if !found {
		return ref{}, upstream.Errorf(upstream.KindNotFound, "attachment not found")
	}
	return r, nil
}

// forget drops a canonical id once its object is deleted.
func (m *idMap) forget(id string) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		byID := tx.Bucket(bucketByID)
		v := byID.Get([]byte(id))
		if v == nil {
			return nil
		}
		var r ref
		if err := json.Unmarshal(v, &r); err == nil {
			if err := tx.Bucket(bucketByKey).Delete(r.key()); err != nil {
				return err
			}
		}
		return byID.Delete([]byte(id))
	})
}

func (m *idMap) close() error { return m.db.Close() }
