package remote

import (
	"context"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// UpdateRecord updates through the dialect's record update call. Every
// listed id is checked first, so an update that would fail changes
// nothing.
func (s *Store) UpdateRecord(ctx context.Context, rec upstream.RecordRef, u upstream.RecordUpdate) (upstream.Record, error) {
	if rec.Collection == "" || rec.ID == "" {
		return upstream.Record{}, upstream.Errorf(upstream.KindInvalid, "a record needs a collection and an id")
	}
	if err := checkData(u.Data); err != nil {
		return upstream.Record{}, err
	}
	t := &translate.Target{Record: rec, Data: u.Data, Fields: map[string][]translate.Remote{}, Size: -1}
	rt, ok := s.sp.Find(translate.OpRecordUpdate, t)
	if !ok {
		return upstream.Record{}, s.unsupported("update a record")
	}
	if len(u.Fields) > 0 && !rt.CarriesFiles() {
		return upstream.Record{}, s.unsupported("set a record's files")
	}
	listed := map[string]bool{}
	// Held uploads (held.go) are not upstream yet: they move to their new
	// place in the gateway's own record of them, and go there when whole.
	moves := map[string]string{}
	for field, ids := range u.Fields {
		if err := translate.ValidateField(field); err != nil {
			return upstream.Record{}, err
		}
		t.Fields[field] = []translate.Remote{}
		for _, id := range ids {
			if listed[id] {
				return upstream.Record{}, upstream.Errorf(upstream.KindInvalid, "attachment %s is listed twice", id)
			}
			listed[id] = true
			a, r, err := s.stat(ctx, id)
			if upstream.IsKind(err, upstream.KindNotFound) {
				return upstream.Record{}, upstream.Errorf(upstream.KindInvalid, "attachment %s does not exist", id)
			}
			if err != nil {
				return upstream.Record{}, err
			}
			if r.Held != nil {
				unlock, ok := s.heldLocks.tryLock(id)
				if !ok {
					return upstream.Record{}, upstream.Errorf(upstream.KindConflict, "attachment %s is taking a chunk right now", id)
				}
				defer unlock()
				if a, r, err = s.stat(ctx, id); err != nil {
					return upstream.Record{}, err
				}
			}
			if !canTake(rec, a.Record) {
				// A dialect's record update arranges a record's own files
				// and links unlinked uploads; it does not take another
				// record's files (the gateway refuses it for every
				// dialect, see translate's checkListed).
				return upstream.Record{}, s.unsupported("move a file from one record to another")
			}
			if r.Held != nil {
				// Not upstream yet: it goes to its new place when whole.
				moves[id] = field
				continue
			}
			t.Fields[field] = append(t.Fields[field], translate.Remote{Attachment: a, NativeID: r.NativeID})
		}
	}
	p, err := s.call(ctx, rt, t)
	if upstream.IsKind(err, upstream.KindNotFound) && rt.RequiresRecord() {
		return upstream.Record{}, s.unsupported("create a record with an id of the gateway's choosing")
	}
	if err != nil {
		return upstream.Record{}, err
	}
	for field, ids := range u.Fields {
		for _, id := range ids {
			err := s.ids.update(id, func(r *ref) {
				r.Record, r.Field = rec, field
				if _, ok := moves[id]; ok && r.Extra != nil {
					r.Extra.Field = field
				}
			})
			if err != nil {
				return upstream.Record{}, err
			}
		}
	}
	return upstream.Record{Ref: rec, Data: p.Data}, nil
}

// canTake reports whether an update of rec may list a file of from: its
// own, or an unlinked upload of its collection (or of none).
func canTake(rec, from upstream.RecordRef) bool {
	if from == rec {
		return true
	}
	return from.ID == "" && (from.Collection == rec.Collection || from.Collection == "")
}
