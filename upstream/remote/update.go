package remote

import (
	"context"
	"maps"
	"os"
	"slices"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// placed is one attachment a record update lists, as found before the
// update.
type placed struct {
	id    string
	field string
	a     upstream.Attachment
	r     ref
}

// UpdateRecord updates through the dialect's record update call, or, where
// the dialect has none, keeps the record's data and the order of its
// fields in the gateway (records.go) and sets each field's files with the
// upstream's own create and delete. Every listed id is checked first, so an
// update that would fail changes nothing.
func (s *Store) UpdateRecord(ctx context.Context, rec upstream.RecordRef, u upstream.RecordUpdate) (upstream.Record, error) {
	if rec.Collection == "" || rec.ID == "" {
		return upstream.Record{}, upstream.Errorf(upstream.KindInvalid, "a record needs a collection and an id")
	}
	if err := checkData(u.Data); err != nil {
		return upstream.Record{}, err
	}
	t := &translate.Target{Record: rec, Data: u.Data, Fields: map[string][]translate.Remote{}, Size: -1}
	var rt *translate.Route
	if !s.keepsRecords() {
		var ok bool
		if rt, ok = s.sp.Find(translate.OpRecordUpdate, t); !ok {
			return upstream.Record{}, s.unsupported("update a record in collection %s", quote(rec.Collection))
		}
		if len(u.Fields) > 0 && !rt.CarriesFiles() {
			return upstream.Record{}, s.unsupported("set a record's files")
		}
	}
	listed, unlock, err := s.checkListed(ctx, rec, u.Fields)
	defer unlock()
	if err != nil {
		return upstream.Record{}, err
	}
	// Whole uploads the gateway held until they were linked go to their
	// place now, before the record names them, and files of other records
	// are made again here.
	for i, p := range listed {
		switch {
		case p.r.Held != nil && p.r.Held.whole():
			listed[i], err = s.sendLinked(ctx, rec, p)
		case p.r.Held == nil && !canTake(rec, p.a.Record):
			listed[i], err = s.moveTo(ctx, rec, p)
		}
		if err != nil {
			return upstream.Record{}, err
		}
	}
	var data []byte
	if rt != nil {
		if err := s.dropUnlistedHeld(ctx, rec, u.Fields, listed); err != nil {
			return upstream.Record{}, err
		}
		for field := range u.Fields {
			t.Fields[field] = []translate.Remote{}
		}
		for _, p := range listed {
			if p.r.Held == nil {
				t.Fields[p.field] = append(t.Fields[p.field], translate.Remote{Attachment: p.a, NativeID: p.r.NativeID})
			}
		}
		pr, err := s.call(ctx, rt, t)
		if upstream.IsKind(err, upstream.KindNotFound) && rt.RequiresRecord() {
			// Not there, and the dialect makes its own record ids: made
			// now, under the id the upstream chooses (recordids.go).
			pr, err = s.createRecord(ctx, rec, t)
		}
		if err != nil {
			return upstream.Record{}, err
		}
		data = pr.Data
		if err := s.keepOrder(rec, u.Fields, listed); err != nil {
			return upstream.Record{}, err
		}
	} else {
		lr, err := s.setFields(ctx, rec, u, listed)
		if err != nil {
			return upstream.Record{}, err
		}
		data = lr.Data
	}
	for _, p := range listed {
		err := s.ids.update(p.id, func(r *ref) {
			r.Record, r.Field = rec, p.field
			if r.Extra != nil && (r.Held != nil || !s.sp.CarriesFields()) {
				// The field is the gateway's to keep.
				r.Extra.Field = p.field
			}
		})
		if err != nil {
			return upstream.Record{}, err
		}
	}
	if err := s.ids.noteRecord(rec); err != nil {
		return upstream.Record{}, err
	}
	return upstream.Record{Ref: rec, Data: data}, nil
}

// dropUnlistedHeld deletes the held uploads of the fields an update names
// that it does not list: the upstream's record update drops its own
// files, and cannot know of these.
func (s *Store) dropUnlistedHeld(ctx context.Context, rec upstream.RecordRef, fields map[string][]string, listed []placed) error {
	isListed := map[string]bool{}
	for _, p := range listed {
		isListed[p.id] = true
	}
	for _, h := range s.heldIn(rec) {
		if _, named := fields[h.Field]; named && !isListed[h.ID] {
			if err := s.Delete(ctx, h.ID); err != nil && !upstream.IsKind(err, upstream.KindNotFound) {
				return err
			}
		}
	}
	return nil
}

// keepOrder keeps the order of the fields an update sets, where the
// upstream's record cannot hold all of it: held uploads are not upstream
// yet. Once the gateway keeps an order for a record, every update of its
// fields keeps it current.
func (s *Store) keepOrder(rec upstream.RecordRef, fields map[string][]string, listed []placed) error {
	_, kept, err := s.ids.localRecord(rec)
	if err != nil {
		return err
	}
	anyHeld := false
	for _, p := range listed {
		anyHeld = anyHeld || p.r.Held != nil
	}
	if !kept && !anyHeld {
		return nil
	}
	order := map[string][]string{}
	for field := range fields {
		order[field] = []string{}
	}
	for _, p := range listed {
		order[p.field] = append(order[p.field], p.id)
	}
	_, err = s.ids.putLocalRecord(rec, nil, order)
	return err
}

// checkListed finds every attachment an update lists, in order, refusing
// unknown ids, ids listed twice and other records' files. Held uploads
// stay locked until the returned unlock, so no chunk lands in one while it
// moves.
func (s *Store) checkListed(ctx context.Context, rec upstream.RecordRef, fields map[string][]string) ([]placed, func(), error) {
	var unlocks []func()
	unlock := func() {
		for _, u := range unlocks {
			u()
		}
	}
	seen := map[string]bool{}
	var out []placed
	for _, field := range slices.Sorted(maps.Keys(fields)) {
		if err := translate.ValidateField(field); err != nil {
			return nil, unlock, err
		}
		for _, id := range fields[field] {
			if seen[id] {
				return nil, unlock, upstream.Errorf(upstream.KindInvalid, "attachment %s is listed twice", id)
			}
			seen[id] = true
			a, r, err := s.stat(ctx, id)
			if upstream.IsKind(err, upstream.KindNotFound) {
				return nil, unlock, upstream.Errorf(upstream.KindInvalid, "attachment %s does not exist", id)
			}
			if err != nil {
				return nil, unlock, err
			}
			if r.Held != nil {
				u, ok := s.heldLocks.tryLock(id)
				if !ok {
					return nil, unlock, upstream.Errorf(upstream.KindConflict, "attachment %s is taking a chunk right now", id)
				}
				unlocks = append(unlocks, u)
				if a, r, err = s.stat(ctx, id); err != nil {
					return nil, unlock, err
				}
			}
			out = append(out, placed{id: id, field: field, a: a, r: r})
		}
	}
	return out, unlock, nil
}

// sendLinked sends a whole held upload to the record and field an update
// lists it in, under the id it has.
func (s *Store) sendLinked(ctx context.Context, rec upstream.RecordRef, p placed) (placed, error) {
	r := p.r
	r.Record, r.Field = rec, p.field
	if r.Extra != nil {
		x := *r.Extra
		x.Field = p.field
		r.Extra = &x
	}
	f, err := os.Open(s.heldPath(p.id))
	if err != nil {
		return placed{}, upstream.Wrap(upstream.KindInternal, err, "open held upload")
	}
	defer f.Close()
	a, err := s.sendHeld(ctx, p.id, r, f)
	if err != nil {
		return placed{}, err
	}
	_ = os.Remove(s.heldPath(p.id))
	r, err = s.ids.lookup(p.id)
	if err != nil {
		return placed{}, err
	}
	return placed{id: p.id, field: p.field, a: a, r: r}, nil
}

// canTake reports whether a dialect's record update can take a file of
// from into rec: its own, or an unlinked upload of its collection (or of
// none). Another record's file is made again in rec (moveTo); clients
// never ask for that, since the gateway refuses it for every dialect (see
// translate's checkListed), but the Store contract, and so migrations,
// allow it.
func canTake(rec, from upstream.RecordRef) bool {
	if from == rec {
		return true
	}
	return from.ID == "" && (from.Collection == rec.Collection || from.Collection == "")
}
