package remote

import (
	"context"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// Delete deletes through the dialect's delete call. A dialect without one
// whose record call sets a field's files (EspoCRM) deletes by leaving the
// file out of its field, which deletes it in the canonical model.
func (s *Store) Delete(ctx context.Context, id string) error {
	r, err := s.ids.lookup(id)
	if err != nil {
		return err
	}
	if r.Held != nil {
		return s.deleteHeld(ctx, id)
	}
	if rt, ok := s.sp.Find(translate.OpDelete, s.target(r)); ok {
		_, err := s.call(ctx, rt, s.target(r))
		if upstream.IsKind(err, upstream.KindNotFound) {
			_ = s.ids.forget(id)
			return notFound()
		}
		if err != nil {
			return err
		}
		return s.ids.forget(id)
	}
	if !s.deletesViaUpdate() {
		return s.unsupported("delete a file")
	}
	// Where the file is now (it may have been linked or moved).
	if _, r, err = s.stat(ctx, id); err != nil {
		return err
	}
	if r.Record.ID == "" {
		// An upload linked to no record is in no field to leave it out
		// of. The upstream drops such uploads on its own after a while
		// (EspoCRM's cleanup of orphan attachments); until then the
		// gateway keeps the id unknown and the file out of every answer.
		return s.ids.update(id, func(r *ref) { r.Deleted = true })
	}
	return s.dropFromField(ctx, r.Record, r.Field, map[string]bool{r.NativeID: true})
}

// deletesViaUpdate reports whether the dialect deletes a file by leaving
// it out of its field in a record update.
func (s *Store) deletesViaUpdate() bool {
	return s.sp.Can(translate.CapDelete).Via == translate.CapRecordUpdate
}

// dropFromField sets a field of a record to its files but the dropped
// ones (by native id), in one record update, and forgets their ids.
func (s *Store) dropFromField(ctx context.Context, rec upstream.RecordRef, field string, drop map[string]bool) error {
	rs, err := s.listRemote(ctx, rec, false)
	if err != nil {
		return err
	}
	keep := []translate.Remote{}
	var dropped []translate.Remote
	for _, r := range rs {
		switch {
		case r.Field != field:
		case drop[r.NativeID]:
			dropped = append(dropped, r)
		default:
			keep = append(keep, r)
		}
	}
	if len(dropped) == 0 {
		return notFound()
	}
	t := &translate.Target{Record: rec, Fields: map[string][]translate.Remote{field: keep}, Size: -1}
	rt, ok := s.sp.Find(translate.OpRecordUpdate, t)
	if !ok {
		return s.unsupported("delete a file")
	}
	if _, err := s.call(ctx, rt, t); err != nil {
		return err
	}
	ids, err := s.ids.ids(refsOf(dropped))
	if err != nil {
		return err
	}
	for _, id := range ids {
		if id != "" {
			if err := s.ids.forget(id); err != nil {
				return err
			}
		}
	}
	return nil
}

func refsOf(rs []translate.Remote) []ref {
	out := make([]ref, len(rs))
	for i, r := range rs {
		out[i] = ref{NativeID: r.NativeID, Record: r.Record, Field: r.Field, Name: r.Name}
	}
	return out
}
