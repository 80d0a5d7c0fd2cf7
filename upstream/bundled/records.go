package bundled

import (
	"context"
	"fmt"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
)

// List implements upstream.Store: one prefix scan of the index, which is
// ordered by field name, then position.
func (s *Store) List(ctx context.Context, ref upstream.RecordRef) ([]upstream.Attachment, error) {
	return s.list(ctx, ref, false, "", "")
}

// ListNamed implements upstream.NamedLister from the names index: a
// download by name in a record of thousands of files reads the files of
// that name, not the thousands.
func (s *Store) ListNamed(ctx context.Context, ref upstream.RecordRef, field, name string) ([]upstream.Attachment, error) {
	return s.list(ctx, ref, true, field, name)
}

// list is List, or with byName ListNamed of field and name.
func (s *Store) list(ctx context.Context, ref upstream.RecordRef, byName bool, field, name string) ([]upstream.Attachment, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxError(err)
	}
	if !validRef(ref) {
		return nil, errRecordNotFound()
	}
	var list []upstream.Attachment
	err := s.db.View(func(tx *bolt.Tx) error {
		m := s.metaOf(tx)
		var err error
		if byName {
			list, err = m.scanNamed(ref, name, field)
		} else {
			list, err = m.scan(recordPrefix(ref))
		}
		if err != nil || len(list) > 0 {
			// A record with an attachment in the index exists: every
			// write that indexes one touches its record in the same
			// transaction, and records are never deleted. So only an
			// empty listing opens the records bucket (three allocations),
			// and only to learn whether the record exists, not to decode
			// it.
			return err
		}
		if !m.hasRecord(ref) {
			return errRecordNotFound()
		}
		return nil
	})
	if err != nil {
		if byName {
			return nil, classify(err, fmt.Sprintf("list %q in %s/%s", name, ref.Collection, ref.ID))
		}
		return nil, classify(err, fmt.Sprintf("list %s/%s", ref.Collection, ref.ID))
	}
	return list, nil
}

// ReadRecord implements upstream.RecordReader: the record and its
// attachments from one read transaction.
func (s *Store) ReadRecord(ctx context.Context, ref upstream.RecordRef) (upstream.Record, []upstream.Attachment, error) {
	if err := ctx.Err(); err != nil {
		return upstream.Record{}, nil, ctxError(err)
	}
	if !validRef(ref) {
		return upstream.Record{}, nil, errRecordNotFound()
	}
	var r upstream.Record
	var list []upstream.Attachment
	err := s.db.View(func(tx *bolt.Tx) error {
		m := s.metaOf(tx)
		got, ok, err := m.record(ref)
		if err == nil && !ok {
			err = errRecordNotFound()
		}
		if err != nil {
			return err
		}
		r = got
		list, err = m.scan(recordPrefix(ref))
		return err
	})
	if err != nil {
		return upstream.Record{}, nil, classify(err, fmt.Sprintf("read record %s/%s", ref.Collection, ref.ID))
	}
	return r, list, nil
}

// GetRecord implements upstream.Store.
func (s *Store) GetRecord(ctx context.Context, ref upstream.RecordRef) (upstream.Record, error) {
	if err := ctx.Err(); err != nil {
		return upstream.Record{}, ctxError(err)
	}
	if !validRef(ref) {
		return upstream.Record{}, errRecordNotFound()
	}
	var r upstream.Record
	err := s.db.View(func(tx *bolt.Tx) error {
		m := s.metaOf(tx)
		got, ok, err := m.record(ref)
		if err == nil && !ok {
			err = errRecordNotFound()
		}
		r = got
		return err
	})
	if err != nil {
		return upstream.Record{}, classify(err, fmt.Sprintf("get record %s/%s", ref.Collection, ref.ID))
	}
	return r, nil
}
