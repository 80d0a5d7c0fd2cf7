package remote

import (
	"context"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// A held upload is sent upstream with the upstream's own create, and the
// file that makes there then takes the held upload's id. A gateway killed
// between the two would leave the upstream's file under no id, or under an
// id of its own beside the held upload: a client would see it twice, and
// the record update or chunk it sent, never acknowledged, would send it
// once more. So the send is written down before it starts (held.Sending),
// and the first listing of the record that shows a file matching it (its
// name in its field, and its size where the listing says) gives that file
// the held upload's id, as the send would have. A send that fails without
// a crash takes its note back.

// sendIntent is where a held upload is being sent.
type sendIntent struct {
	Record upstream.RecordRef `json:"record"`
	Field  string             `json:"field"`
	Name   string             `json:"name"`
	Size   int64              `json:"size"`
	At     time.Time          `json:"at"`
}

// noteSending writes down that the held upload id is being sent as r.
func (s *Store) noteSending(id string, r ref) error {
	in := &sendIntent{Record: r.Record, Field: r.Field, Name: r.Name, Size: r.Held.Expected, At: time.Now().UTC()}
	return s.ids.update(id, func(x *ref) {
		if x.Held != nil {
			x.Held.Sending = in
		}
	})
}

// dropSending takes back the note of a send that failed.
func (s *Store) dropSending(id string) {
	_ = s.ids.update(id, func(x *ref) {
		if x.Held != nil {
			x.Held.Sending = nil
		}
	})
}

// matches reports whether an upstream file listed in rec is what the send
// made: same record and name, the field where the dialect carries one,
// and the size where the listing tells it.
func (in *sendIntent) matches(rec upstream.RecordRef, r translate.Remote, carriesFields bool) bool {
	if in.Record != rec || r.Name != in.Name || (carriesFields && r.Field != in.Field) {
		return false
	}
	return r.Partial || !r.HasContent || r.Size == in.Size || r.Size < 0
}

// recoverSends gives the held uploads a crash left mid-send to rec the
// upstream files their sends made, and reports whether any were.
func (s *Store) recoverSends(rec upstream.RecordRef, rs []translate.Remote) (bool, error) {
	pending := map[string]ref{}
	for id, r := range s.ids.heldRefs() {
		if _, mine := s.sends.Load(id); !mine && r.Held.Sending != nil && r.Held.Sending.Record == rec {
			pending[id] = r
		}
	}
	if len(pending) == 0 {
		return false, nil
	}
	recovered := false
	for id, h := range pending {
		ok, err := s.recoverSend(id, h, rec, rs)
		if err != nil {
			return recovered, err
		}
		recovered = recovered || ok
	}
	return recovered, nil
}

// recoverSend gives held upload id, left mid-send to rec, the file of rs
// its send made, if there is one.
func (s *Store) recoverSend(id string, h ref, rec upstream.RecordRef, rs []translate.Remote) (bool, error) {
	for _, up := range rs {
		if !h.Held.Sending.matches(rec, up, s.sp.CarriesFields()) {
			continue
		}
		ok, err := s.ids.adoptListed(id, h, ref{NativeID: up.NativeID, Record: up.Record, Field: up.Field, Name: up.Name})
		if err != nil || ok {
			if ok {
				_ = os.Remove(s.heldPath(id))
			}
			return ok, err
		}
	}
	return false, nil
}

// adoptListed gives the held upload id the upstream file at up, if up is
// not another file's already: a file under no id (the crash came before
// the create's commit), or one the create minted since the send began
// (the crash came before the held id took it over).
func (m *idMap) adoptListed(id string, h ref, up ref) (bool, error) {
	adopted := false
	err := m.write(func(tx *bolt.Tx) error {
		adopted = false
		byKey, byID, held := tx.Bucket(bucketByKey), tx.Bucket(bucketByID), tx.Bucket(bucketHeld)
		cur, ok := getRef(byID, []byte(id))
		if !ok || cur.Held == nil || cur.Held.Sending == nil {
			return nil // sent, or gone, meanwhile
		}
		x := h.Extra
		if made := byKey.Get(up.key()); made != nil {
			prev, ok := getRef(byID, made)
			if !ok || !prev.Created || prev.Extra == nil || prev.Extra.Created.Before(h.Held.Sending.At) {
				return nil // another file's
			}
			if err := byID.Delete(made); err != nil {
				return err
			}
			if x == nil {
				x = prev.Extra
			}
		}
		if x != nil {
			xc := *x
			xc.Field = h.Held.Sending.Field
			x = &xc
		}
		r := ref{NativeID: up.NativeID, Record: up.Record, Field: up.Field, Name: up.Name, Extra: x, Created: true}
		if err := byKey.Put(r.key(), []byte(id)); err != nil {
			return err
		}
		if err := held.Delete([]byte(id)); err != nil {
			return err
		}
		adopted = true
		return putRef(byID, id, r)
	})
	if err != nil {
		return false, upstream.Wrap(upstream.KindInternal, err, "record upstream ids")
	}
	if adopted {
		m.heldCount.Add(-1)
	}
	return adopted, nil
}

// sentBefore reports whether a held upload that is to be sent had been
// sent already by a gateway that crashed before it could say so: its
// record's listing then gives it its file, and it is held no more.
func (s *Store) sentBefore(ctx context.Context, id string, r ref) (bool, error) {
	if r.Held == nil || r.Held.Sending == nil {
		return false, nil
	}
	rec := r.Held.Sending.Record
	rs, err := s.listRemote(ctx, rec, false)
	if upstream.IsKind(err, upstream.KindNotFound) {
		return false, nil // no record upstream, so no file the send made
	}
	if err != nil {
		return false, err
	}
	return s.recoverSend(id, r, rec, rs)
}
