package bundled

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
	bolt "go.etcd.io/bbolt"
)

// UpdateRecord implements upstream.Store, in one bbolt transaction: any
// error (an unknown id included) rolls back everything. Blobs of the
// attachments it deletes are removed after the commit.
func (s *Store) UpdateRecord(ctx context.Context, ref upstream.RecordRef, u upstream.RecordUpdate) (upstream.Record, error) {
	if err := checkRef(ref); err != nil {
		return upstream.Record{}, err
	}
	fields, err := upstream.CheckFields(u.Fields, normField)
	if err != nil {
		return upstream.Record{}, err
	}
	patch, err := upstream.ParseRecordData(u.Data)
	if err != nil {
		return upstream.Record{}, err
	}
	if err := ctx.Err(); err != nil {
		return upstream.Record{}, ctxError(err)
	}

	var rec upstream.Record
	var deleted []string // blobs to remove after the commit
	err = s.db.Update(func(tx *bolt.Tx) error {
		deleted = nil
		m := s.metaOf(tx)
		t := now()
		r, err := m.touch(ref, t)
		if err != nil {
			return err
		}
		if patch != nil {
			if r.Data, err = upstream.MergeRecordData(r.Data, patch); err != nil {
				return err
			}
			if err := m.putRecord(r); err != nil {
				return err
			}
		}
		rec = r
		deleted, err = setFields(m, ref, fields, t)
		return err
	})
	if err != nil {
		return upstream.Record{}, classify(err, fmt.Sprintf("update record %s/%s", ref.Collection, ref.ID))
	}
	s.removeBlobs(deleted)
	return rec, nil
}

// setFields makes each named field of ref hold exactly its listed
// attachments, positioned in list order, and returns the ids of the blobs
// of the attachments it deleted. Every listed id is loaded before anything
// changes, so an unknown one fails the update with KindInvalid. A listed
// unlinked attachment becomes linked here.
func setFields(m meta, ref upstream.RecordRef, fields map[string][]string, t time.Time) ([]string, error) {
	names := slices.Sorted(maps.Keys(fields))
	listed := map[string]upstream.Attachment{}
	for _, field := range names {
		for _, id := range fields[field] {
			a, ok, err := m.attachment(id)
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, upstream.Errorf(upstream.KindInvalid, "attachment %s does not exist", id)
			}
			listed[id] = a
		}
	}

	var deleted []string
	for _, field := range names {
		current, err := m.scan(fieldPrefix(ref, field))
		if err != nil {
			return nil, err
		}
		for _, a := range current {
			if _, keep := listed[a.ID]; keep {
				continue
			}
			hasBlob, err := m.remove(a)
			if err != nil {
				return nil, err
			}
			if hasBlob {
				deleted = append(deleted, a.ID)
			}
		}
	}

	for _, field := range names {
		for i, id := range fields[field] {
			a := listed[id]
			if a.Record == ref && a.Field == field && a.Position == int64(i) {
				continue
			}
			if err := m.unindex(a); err != nil {
				return nil, err
			}
			if a.Record != ref && linked(a) {
				// Losing an attachment is a change to the record it came from.
				if _, err := m.touch(a.Record, t); err != nil {
					return nil, err
				}
			}
			a.Record, a.Field, a.Position, a.Modified = ref, field, int64(i), t
			if err := m.put(a); err != nil {
				return nil, err
			}
		}
	}
	return deleted, nil
}
