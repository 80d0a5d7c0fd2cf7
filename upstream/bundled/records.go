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
	if err := ctx.Err(); err != nil {
		return nil, ctxError(err)
	}
	if !validRef(ref) {
		return nil, errRecordNotFound()
	}
	var list []upstream.Attachment
	err := s.db.View(func(tx *bolt.Tx) error {
		m := s.metaOf(tx)
		// Only whether the record exists: decoding it was a listing's
		// second largest cost.
		if !m.hasRecord(ref) {
			return errRecordNotFound()
		}
		var err error
		list, err = m.scan(recordPrefix(ref))
		return err
	})
	if err != nil {
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
