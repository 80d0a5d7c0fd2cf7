package remote

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// An upstream dialect without a record update (Nimblex, TransactionLink,
// Media Pocket) has nowhere to keep a record's data or the order of its
// fields' files. The gateway keeps them itself, beside the id map, and
// joins them with the upstream's listing on every read: the upstream
// stays the source of truth for which files exist and for their bytes.

// localRecord is what the gateway keeps of a record the upstream cannot.
type localRecord struct {
	Data json.RawMessage `json:"data,omitempty"`
	// Order lists each field's files, by canonical id, as the last record
	// update set them.
	Order map[string][]string `json:"order,omitempty"`
}

var bucketRecords = []byte("records")

// keepsRecords reports whether the gateway keeps records for this
// upstream, because its dialect has no record update.
func (s *Store) keepsRecords() bool {
	return s.sp.Can(translate.CapRecordUpdate).Gateway
}

func recordKey(rec upstream.RecordRef) []byte {
	return []byte(rec.Collection + "\x00" + rec.ID)
}

// keepRecord makes a record exist in the gateway where it keeps records,
// as a first write through any dialect makes one: a file held for the
// record (keep.go, held.go) is a write the upstream has not seen yet.
func (s *Store) keepRecord(rec upstream.RecordRef) error {
	if rec.ID == "" || !s.keepsRecords() {
		return nil
	}
	_, err := s.ids.putLocalRecord(rec, nil, nil)
	return err
}

// localRecord returns the gateway's record of rec, if it keeps one.
func (m *idMap) localRecord(rec upstream.RecordRef) (localRecord, bool, error) {
	var lr localRecord
	if m.recordCount.Load() == 0 {
		return lr, false, nil
	}
	found := false
	err := m.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRecords).Get(recordKey(rec))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &lr)
	})
	if err != nil {
		return localRecord{}, false, upstream.Wrap(upstream.KindInternal, err, "read the gateway's record")
	}
	return lr, found, nil
}

// putLocalRecord merges patch into the gateway's record of rec and sets
// the order of the fields given, in one commit.
func (m *idMap) putLocalRecord(rec upstream.RecordRef, patch map[string]json.RawMessage, order map[string][]string) (localRecord, error) {
	var lr localRecord
	added := false
	err := m.write(func(tx *bolt.Tx) error {
		lr, added = localRecord{}, false
		if err := seeRecordsIn(tx, ref{Record: rec}); err != nil {
			return err
		}
		b := tx.Bucket(bucketRecords)
		if v := b.Get(recordKey(rec)); v != nil {
			if err := json.Unmarshal(v, &lr); err != nil {
				return fmt.Errorf("decode the gateway's record: %w", err)
			}
		} else {
			added = true
		}
		if patch != nil {
			data, err := upstream.MergeRecordData(lr.Data, patch)
			if err != nil {
				return err
			}
			lr.Data = data
		}
		for field, ids := range order {
			if lr.Order == nil {
				lr.Order = map[string][]string{}
			}
			lr.Order[field] = append([]string(nil), ids...)
		}
		v, err := json.Marshal(lr)
		if err != nil {
			return err
		}
		return b.Put(recordKey(rec), v)
	})
	if err != nil {
		return localRecord{}, upstream.Wrap(upstream.KindInternal, err, "keep the record's data")
	}
	if added {
		m.recordCount.Add(1)
	}
	return lr, nil
}

// ordered puts each field's files in the order the gateway's record keeps
// for it; files it does not list (made since, or by another client of the
// upstream) follow in the upstream's order.
func (lr localRecord) ordered(atts []upstream.Attachment) []upstream.Attachment {
	if len(lr.Order) == 0 {
		return atts
	}
	rank := map[string]int{}
	for _, ids := range lr.Order {
		for i, id := range ids {
			rank[id] = i
		}
	}
	key := func(a upstream.Attachment) int {
		if r, ok := rank[a.ID]; ok {
			return r
		}
		return math.MaxInt
	}
	out := slices.Clone(atts)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Field != out[j].Field {
			return out[i].Field < out[j].Field
		}
		return key(out[i]) < key(out[j])
	})
	pos := map[string]int64{}
	for i := range out {
		out[i].Position = pos[out[i].Field]
		pos[out[i].Field]++
	}
	return out
}

// setFields sets each field a record update names, for a record the
// gateway keeps: files of the field the update does not list are deleted
// upstream, files listed from another field of the record move there, and
// the order of each field is kept with the record's data.
func (s *Store) setFields(ctx context.Context, rec upstream.RecordRef, u upstream.RecordUpdate, listed []placed) (localRecord, error) {
	patch, err := upstream.ParseRecordData(u.Data)
	if err != nil {
		return localRecord{}, err
	}
	order := map[string][]string{}
	for field := range u.Fields {
		order[field] = []string{}
	}
	isListed := map[string]bool{}
	for _, p := range listed {
		order[p.field] = append(order[p.field], p.id)
		isListed[p.id] = true
	}
	if len(u.Fields) > 0 {
		current, err := s.List(ctx, rec)
		if err != nil && !upstream.IsKind(err, upstream.KindNotFound) {
			return localRecord{}, err
		}
		for _, a := range current {
			if _, named := u.Fields[a.Field]; !named || isListed[a.ID] {
				continue
			}
			if err := s.Delete(ctx, a.ID); err != nil && !upstream.IsKind(err, upstream.KindNotFound) {
				return localRecord{}, err
			}
		}
	}
	for _, p := range listed {
		if p.r.Held == nil && p.a.Field != p.field && s.sp.CarriesFields() {
			if _, err := s.moveTo(ctx, rec, p); err != nil {
				return localRecord{}, err
			}
		}
	}
	return s.ids.putLocalRecord(rec, patch, order)
}

// moveTo moves an upstream file to another record, or to another field
// where the field is part of its upstream address (a Nimblex folder): it
// is made again there from the upstream's own copy, the first deleted, and
// the new one takes the canonical id the client knows.
func (s *Store) moveTo(ctx context.Context, rec upstream.RecordRef, p placed) (placed, error) {
	x := p.a
	na := s.heldNew(ref{Record: rec, Field: p.field, Name: p.a.Name, Extra: &x})
	a, err := s.recreate(ctx, p.a, na)
	if err != nil {
		return placed{}, err
	}
	if err := s.ids.rebind(p.id, a.ID); err != nil {
		return placed{}, err
	}
	err = s.ids.update(p.id, func(r *ref) {
		if r.Extra != nil {
			r.Extra.Created = p.a.Created
		}
	})
	if err != nil {
		return placed{}, err
	}
	moved, r, err := s.stat(ctx, p.id)
	if err != nil {
		return placed{}, err
	}
	return placed{id: p.id, field: p.field, a: moved, r: r}, nil
}
