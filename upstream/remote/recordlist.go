package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"

	bolt "go.etcd.io/bbolt"

	"github.com/dragoman-gw/dragoman/upstream"
)

// No upstream dialect can list a collection's records for the gateway
// (EspoCRM's GET /{Entity} answers pages of records that the reader does
// not read back, and the other four have no such call), so the gateway
// lists the records it knows: every record a request through it has
// made, changed, read or listed, and every record a file it has shown a
// client belongs to. A record made upstream by another client of the
// legacy system is known from the first request through the gateway that
// names it. Each record of a page is read from the upstream, which stays
// the source of truth for its data and files; a record the upstream no
// longer has is forgotten when a page comes to it.

var _ upstream.RecordLister = (*Store)(nil)

// bucketSeen keys every record the gateway knows by recordKey.
var bucketSeen = []byte("records-seen")

// recordReads bounds the records of one listing read at once.
const recordReads = 8

// ListRecords implements upstream.RecordLister over the records the
// gateway knows, in id order.
func (s *Store) ListRecords(ctx context.Context, collection string, q upstream.RecordQuery) ([]upstream.RecordEntry, int, error) {
	if collection == "" || q.Offset < 0 || q.Limit < 0 {
		return nil, 0, upstream.Errorf(upstream.KindInvalid, "a listing needs a collection and a page that is not negative")
	}
	known, err := s.ids.seenIn(collection)
	if err != nil {
		return nil, 0, err
	}
	if len(q.Equals) == 0 {
		return s.pageOf(ctx, known, q)
	}
	// A filter on record data needs every record's data: read them all,
	// then the files of the page only.
	recs, err := s.readRecords(ctx, known)
	if err != nil {
		return nil, 0, err
	}
	var matched []upstream.Record
	for _, r := range recs {
		if r != nil && q.Matches(*r) {
			matched = append(matched, *r)
		}
	}
	page := window(len(matched), q)
	out := make([]upstream.RecordEntry, 0, len(page))
	for _, i := range page {
		files, err := s.List(ctx, matched[i].Ref)
		if upstream.IsKind(err, upstream.KindNotFound) {
			files, err = nil, nil
		}
		if err != nil {
			return nil, 0, err
		}
		out = append(out, upstream.RecordEntry{Record: matched[i], Files: files})
	}
	return out, len(matched), nil
}

// pageOf lists the page of known records q asks for, without a filter:
// only the page's records are read, and the total counts the records not
// yet found gone.
func (s *Store) pageOf(ctx context.Context, known []upstream.RecordRef, q upstream.RecordQuery) ([]upstream.RecordEntry, int, error) {
	total := len(known)
	var out []upstream.RecordEntry
	next := min(q.Offset, len(known))
	for next < len(known) && (q.Limit == 0 || len(out) < q.Limit) {
		n := len(known) - next
		if q.Limit > 0 {
			n = min(n, q.Limit-len(out))
		}
		batch := known[next : next+n]
		next += n
		recs, err := s.readRecords(ctx, batch)
		if err != nil {
			return nil, 0, err
		}
		for i, r := range recs {
			if r == nil {
				total-- // gone since the gateway saw it
				continue
			}
			files, err := s.List(ctx, batch[i])
			if upstream.IsKind(err, upstream.KindNotFound) {
				files, err = nil, nil
			}
			if err != nil {
				return nil, 0, err
			}
			out = append(out, upstream.RecordEntry{Record: *r, Files: files})
		}
	}
	return out, total, nil
}

// window returns the indexes of the page q asks for among n.
func window(n int, q upstream.RecordQuery) []int {
	var out []int
	for i := q.Offset; i < n && (q.Limit == 0 || len(out) < q.Limit); i++ {
		out = append(out, i)
	}
	return out
}

// readRecords reads records from the upstream, several at a time; a
// record the upstream no longer has is nil, and forgotten.
func (s *Store) readRecords(ctx context.Context, refs []upstream.RecordRef) ([]*upstream.Record, error) {
	out := make([]*upstream.Record, len(refs))
	errs := make([]error, len(refs))
	sem := make(chan struct{}, recordReads)
	var wg sync.WaitGroup
	for i, ref := range refs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r, err := s.GetRecord(ctx, ref)
			if err == nil {
				out[i] = &r
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if upstream.IsKind(err, upstream.KindNotFound) {
			if err := s.ids.forgetRecord(refs[i]); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// noteRecord makes rec known to ListRecords; a record known already
// costs a read transaction, no commit.
func (m *idMap) noteRecord(rec upstream.RecordRef) error {
	if rec.Collection == "" || rec.ID == "" {
		return nil
	}
	k := recordKey(rec)
	known := false
	if err := m.db.View(func(tx *bolt.Tx) error {
		known = tx.Bucket(bucketSeen).Get(k) != nil
		return nil
	}); err != nil || known {
		return err
	}
	err := m.write(func(tx *bolt.Tx) error { return tx.Bucket(bucketSeen).Put(k, nil) })
	if err != nil {
		return upstream.Wrap(upstream.KindInternal, err, "note a record")
	}
	return nil
}

// seeRecordsIn marks the records of refs known, within a commit that
// records them.
func seeRecordsIn(tx *bolt.Tx, refs ...ref) error {
	b := tx.Bucket(bucketSeen)
	for _, r := range refs {
		if r.Record.ID == "" {
			continue
		}
		k := recordKey(r.Record)
		if b.Get(k) == nil {
			if err := b.Put(k, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// forgetRecord drops a record the upstream no longer has from the known.
func (m *idMap) forgetRecord(rec upstream.RecordRef) error {
	err := m.write(func(tx *bolt.Tx) error { return tx.Bucket(bucketSeen).Delete(recordKey(rec)) })
	if err != nil {
		return upstream.Wrap(upstream.KindInternal, err, "forget a record")
	}
	return nil
}

// seenIn returns the known records of a collection, in id order.
func (m *idMap) seenIn(collection string) ([]upstream.RecordRef, error) {
	var out []upstream.RecordRef
	prefix := []byte(collection + "\x00")
	err := m.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSeen).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			out = append(out, upstream.RecordRef{Collection: collection, ID: string(k[len(prefix):])})
		}
		return nil
	})
	if err != nil {
		return nil, upstream.Wrap(upstream.KindInternal, err, "read the known records")
	}
	return out, nil
}

// backfillSeen makes known the records of an id map written before the
// gateway kept its known records: those of its files and kept records.
func backfillSeen(tx *bolt.Tx) error {
	var refs []ref
	if err := tx.Bucket(bucketByID).ForEach(func(_, v []byte) error {
		var r ref
		if err := json.Unmarshal(v, &r); err == nil {
			refs = append(refs, r)
		}
		return nil
	}); err != nil {
		return err
	}
	if err := tx.Bucket(bucketRecords).ForEach(func(k, _ []byte) error {
		col, id, ok := bytes.Cut(k, []byte{0})
		if ok {
			refs = append(refs, ref{Record: upstream.RecordRef{Collection: string(col), ID: string(id)}})
		}
		return nil
	}); err != nil {
		return err
	}
	return seeRecordsIn(tx, refs...)
}
