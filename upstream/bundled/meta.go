package bundled

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"time"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
)

// meta is the metadata seen through one bbolt transaction. Its methods keep
// the attachments bucket, the index, the names index, the unlinked bucket
// and partials in step. Each bucket is opened the first time a method needs it, within the
// transaction only (bbolt's buckets die with it): opening one costs about
// three allocations, and a download reads one bucket of the five, a
// listing three.
type meta struct {
	tx                               *bolt.Tx
	att, idx, unl, part, recs, names *bolt.Bucket
	// decoded, when set, saves decoding attachments read again unchanged.
	decoded *decodeCache
}

// metaOf is the store's view of tx, with its decode cache.
func (s *Store) metaOf(tx *bolt.Tx) meta {
	return meta{tx: tx, decoded: &s.decoded}
}

// metaOf is the view of tx without a decode cache, for the checks that
// read every attachment once.
func metaOf(tx *bolt.Tx) meta { return meta{tx: tx} }

// bucket opens the named bucket into *b the first time it is asked for.
func (m *meta) bucket(b **bolt.Bucket, name string) *bolt.Bucket {
	if *b == nil {
		*b = m.tx.Bucket([]byte(name))
	}
	return *b
}

func (m *meta) atts() *bolt.Bucket     { return m.bucket(&m.att, bucketAttachments) }
func (m *meta) index() *bolt.Bucket    { return m.bucket(&m.idx, bucketIndex) }
func (m *meta) unlinked() *bolt.Bucket { return m.bucket(&m.unl, bucketUnlinked) }
func (m *meta) partials() *bolt.Bucket { return m.bucket(&m.part, bucketPartials) }
func (m *meta) records() *bolt.Bucket  { return m.bucket(&m.recs, bucketRecords) }
func (m *meta) named() *bolt.Bucket    { return m.bucket(&m.names, bucketNamed) }

// attachment loads an attachment; ok is false when there is none.
func (m *meta) attachment(id string) (upstream.Attachment, bool, error) {
	return m.attachmentBytes([]byte(id))
}

// attachmentBytes is attachment for an id still in bytes (an index key's
// tail): a listing reads one per file, and neither path below allocates
// when the decoded copy is cached.
func (m *meta) attachmentBytes(id []byte) (upstream.Attachment, bool, error) {
	v := m.atts().Get(id)
	if v == nil {
		return upstream.Attachment{}, false, nil
	}
	if got, ok := m.decoded.get(id, v); ok {
		return got, true, nil
	}
	return m.decode(string(id), v)
}

// decode decodes a stored attachment and caches the result. It is apart
// from attachmentBytes so that only a miss puts a decoded value on the
// heap (json.Unmarshal takes its address).
func (m *meta) decode(id string, v []byte) (upstream.Attachment, bool, error) {
	var a upstream.Attachment
	if err := json.Unmarshal(v, &a); err != nil {
		return upstream.Attachment{}, false, fmt.Errorf("decode attachment %s: %w", id, err)
	}
	m.decoded.put(id, v, a)
	return a, true, nil
}

// put stores a and its entry in the index (or, unlinked, in the unlinked
// bucket). An attachment that moves must be unindexed under its old
// record, field and position first.
func (m *meta) put(a upstream.Attachment) error {
	v, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode attachment %s: %w", a.ID, err)
	}
	if err := m.atts().Put([]byte(a.ID), v); err != nil {
		return fmt.Errorf("put attachment %s: %w", a.ID, err)
	}
	if linked(a) {
		if err = m.index().Put(indexKey(a), []byte{}); err == nil {
			err = m.named().Put(nameKey(a), []byte{})
		}
	} else {
		err = m.unlinked().Put(unlinkedKey(a), []byte{})
	}
	if err != nil {
		return fmt.Errorf("index attachment %s: %w", a.ID, err)
	}
	return nil
}

func (m *meta) unindex(a upstream.Attachment) error {
	var err error
	if linked(a) {
		if err = m.index().Delete(indexKey(a)); err == nil {
			err = m.named().Delete(nameKey(a))
		}
	} else {
		err = m.unlinked().Delete(unlinkedKey(a))
	}
	if err != nil {
		return fmt.Errorf("unindex attachment %s: %w", a.ID, err)
	}
	return nil
}

// remove deletes a's metadata and reports whether a has a blob file (its
// content, or the bytes appended so far); the blob is the caller's to
// remove after the commit.
func (m *meta) remove(a upstream.Attachment) (hasBlob bool, err error) {
	_, partial, err := m.expected(a.ID)
	if err != nil {
		return false, err
	}
	if err := m.unindex(a); err != nil {
		return false, err
	}
	if err := m.atts().Delete([]byte(a.ID)); err != nil {
		return false, fmt.Errorf("delete attachment %s: %w", a.ID, err)
	}
	if partial {
		if err := m.partials().Delete([]byte(a.ID)); err != nil {
			return false, fmt.Errorf("delete partial %s: %w", a.ID, err)
		}
	}
	return a.HasContent || partial, nil
}

// expected reports the size a partial attachment (one Append is filling)
// will have when complete; ok is false for any other attachment.
func (m *meta) expected(id string) (size int64, ok bool, err error) {
	v := m.partials().Get([]byte(id))
	if v == nil {
		return 0, false, nil
	}
	if len(v) < 8 {
		return 0, false, fmt.Errorf("partial %s: bad expected size %x", id, v)
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}

// digestState is the sha256 and md5 of a partial's committed bytes, as
// the hashes' own marshalled state, so the chunk that completes a file
// need not read it all again. A partial that has none yet (nothing
// appended) gets fresh hashes.
func (m *meta) digestState(id string) (sha, md hash.Hash, stated bool, err error) {
	sha, md = sha256.New(), md5.New()
	v := m.partials().Get([]byte(id))
	if len(v) <= 8 {
		return sha, md, false, nil
	}
	rest := v[8:]
	if len(rest) < 4 {
		return nil, nil, false, fmt.Errorf("partial %s: bad digest state", id)
	}
	n := int(binary.BigEndian.Uint32(rest))
	if len(rest) < 4+n {
		return nil, nil, false, fmt.Errorf("partial %s: bad digest state", id)
	}
	if err := sha.(encoding.BinaryUnmarshaler).UnmarshalBinary(rest[4 : 4+n]); err != nil {
		return nil, nil, false, fmt.Errorf("partial %s: sha256 state: %w", id, err)
	}
	if err := md.(encoding.BinaryUnmarshaler).UnmarshalBinary(rest[4+n:]); err != nil {
		return nil, nil, false, fmt.Errorf("partial %s: md5 state: %w", id, err)
	}
	return sha, md, true, nil
}

// setDigestState stores the digests' state beside the expected size.
func (m *meta) setDigestState(id string, expected int64, sha, md hash.Hash) error {
	shaState, err := sha.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return fmt.Errorf("partial %s: sha256 state: %w", id, err)
	}
	mdState, err := md.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return fmt.Errorf("partial %s: md5 state: %w", id, err)
	}
	v := binary.BigEndian.AppendUint64(nil, uint64(expected))
	v = binary.BigEndian.AppendUint32(v, uint32(len(shaState)))
	v = append(append(v, shaState...), mdState...)
	if err := m.partials().Put([]byte(id), v); err != nil {
		return fmt.Errorf("put partial %s: %w", id, err)
	}
	return nil
}

// setExpected marks id partial, to be complete at size bytes.
func (m *meta) setExpected(id string, size int64) error {
	if err := m.partials().Put([]byte(id), binary.BigEndian.AppendUint64(nil, uint64(size))); err != nil {
		return fmt.Errorf("put partial %s: %w", id, err)
	}
	return nil
}

// completed marks id no longer partial.
func (m *meta) completed(id string) error {
	if err := m.partials().Delete([]byte(id)); err != nil {
		return fmt.Errorf("delete partial %s: %w", id, err)
	}
	return nil
}

// scan returns the attachments whose index keys start with prefix, in
// index order.
func (m *meta) scan(prefix []byte) ([]upstream.Attachment, error) {
	// Counting the keys first costs a walk over index keys alone, and
	// saves growing the list by doubling: attachments are a few hundred
	// bytes each, and the doublings were two thirds of a listing's
	// garbage.
	n := 0
	c := m.index().Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		n++
	}
	list := make([]upstream.Attachment, 0, n)
	// One cursor for every attachment read: a Get makes a cursor of its
	// own each time, and its stack was most of a listing's allocations.
	atts := m.atts().Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		a, err := m.indexed(atts, k, "index")
		if err != nil {
			return nil, err
		}
		list = append(list, a)
	}
	return list, nil
}

// indexed reads the attachment that key, a key of the index or of the
// names index (what says which), ends with, through atts: the cursor of
// the attachments bucket that a scan reuses for every key.
func (m *meta) indexed(atts *bolt.Cursor, key []byte, what string) (upstream.Attachment, error) {
	id := indexIDBytes(key)
	found, v := atts.Seek(id)
	if !bytes.Equal(found, id) || v == nil {
		return upstream.Attachment{}, fmt.Errorf("%s names attachment %q, which does not exist", what, id)
	}
	if a, ok := m.decoded.get(id, v); ok {
		return a, nil
	}
	a, _, err := m.decode(string(id), v)
	return a, err
}

// scanNamed returns ref's attachments called name (in field, if not
// empty), in index order, from the names index: what scan of the record
// and a filter by name would return, without reading the record's other
// attachments.
func (m *meta) scanNamed(ref upstream.RecordRef, name, field string) ([]upstream.Attachment, error) {
	prefix := namePrefix(ref, name, field)
	var list []upstream.Attachment
	atts := m.atts().Cursor()
	c := m.named().Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		a, err := m.indexed(atts, k, "names index")
		if err != nil {
			return nil, err
		}
		// A name holding a NUL shares a prefix with a shorter one.
		if a.Name == name && (field == "" || a.Field == field) {
			list = append(list, a)
		}
	}
	return list, nil
}

// nextPosition is one past the highest position in the field, or 0 for an
// empty field.
func (m *meta) nextPosition(ref upstream.RecordRef, field string) (int64, error) {
	prefix := fieldPrefix(ref, field)
	// Seek past every position of the field, then step back to its last key.
	c := m.index().Cursor()
	k, _ := c.Seek(append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, 9)...))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return 0, nil
	}
	a, ok, err := m.attachment(indexID(k))
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("index names attachment %q, which does not exist", indexID(k))
	}
	return a.Position + 1, nil
}

// record loads a record; ok is false when it was never written.
func (m *meta) record(ref upstream.RecordRef) (r upstream.Record, ok bool, err error) {
	v := m.records().Get(recordKey(ref))
	if v == nil {
		return r, false, nil
	}
	if r, ok := decodeRecord(ref, v); ok {
		return r, true, nil
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return r, false, fmt.Errorf("decode record %s/%s: %w", ref.Collection, ref.ID, err)
	}
	return r, true, nil
}

// decodeRecord is json.Unmarshal of a record as putRecord writes it, for
// a record read by its key: the ref is the one asked for (its strings
// are not made again), the times parse without reflection, and only the
// data is copied out of bbolt's memory. Anything else it meets (a key it
// does not know, a value of another type, a ref that is not the key's)
// makes it say no, and json.Unmarshal decides. Reading a record was seven
// allocations of a record get's answer.
func decodeRecord(ref upstream.RecordRef, v []byte) (upstream.Record, bool) {
	if len(v) == 0 {
		return upstream.Record{}, false
	}
	text := unsafe.String(&v[0], len(v)) // read only, and within the transaction
	if !gjson.Valid(text) {
		return upstream.Record{}, false
	}
	doc := gjson.Parse(text)
	if !doc.IsObject() {
		return upstream.Record{}, false
	}
	r := upstream.Record{Ref: ref}
	ok, sawRef := true, false
	doc.ForEach(func(k, val gjson.Result) bool {
		switch k.Str {
		case "ref":
			sawRef = val.IsObject() && val.Get("collection").Type == gjson.String && val.Get("id").Type == gjson.String &&
				val.Get("collection").Str == ref.Collection && val.Get("id").Str == ref.ID
			ok = sawRef
		case "data":
			if val.Type == gjson.Null || !val.IsObject() {
				ok = false
				break
			}
			r.Data = json.RawMessage([]byte(val.Raw))
		case "created", "modified":
			if val.Type != gjson.String {
				ok = false
				break
			}
			t, err := time.Parse(time.RFC3339Nano, val.Str)
			if err != nil {
				ok = false
				break
			}
			if k.Str == "created" {
				r.Created = t
			} else {
				r.Modified = t
			}
		default:
			ok = false
		}
		return ok
	})
	return r, ok && sawRef
}

// hasRecord reports whether the record exists, without decoding it.
func (m *meta) hasRecord(ref upstream.RecordRef) bool {
	return m.records().Get(recordKey(ref)) != nil
}

func (m *meta) putRecord(r upstream.Record) error {
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode record %s/%s: %w", r.Ref.Collection, r.Ref.ID, err)
	}
	if err := m.records().Put(recordKey(r.Ref), v); err != nil {
		return fmt.Errorf("put record %s/%s: %w", r.Ref.Collection, r.Ref.ID, err)
	}
	return nil
}

// touch marks a record modified at now, creating it if it was never
// written: any change to its attachments is a write to the record.
func (m *meta) touch(ref upstream.RecordRef, now time.Time) (upstream.Record, error) {
	r, ok, err := m.record(ref)
	if err != nil {
		return r, err
	}
	if !ok {
		r = upstream.Record{Ref: ref, Created: now}
	}
	r.Modified = now
	return r, m.putRecord(r)
}

// now is the time stamped on metadata: UTC and without a monotonic reading,
// so a value returned by a write equals the one read back later.
func now() time.Time { return time.Now().UTC().Round(0) }
