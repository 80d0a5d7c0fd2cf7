package remote

import (
	"context"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// Some upstream dialects make their own record ids (EspoCRM's POST
// /{Entity}) and refuse a record update of a record they do not have. A
// record the gateway names there is made with that call, and the
// upstream's id kept beside the gateway's: every request rendered for the
// record carries the upstream's id, every answer read back the gateway's,
// in one place (call, and the renders of Open). Records never made this
// way keep their own ids on both sides.

var bucketRecordIDs = []byte("record-ids")

// recordIDs maps the gateway's record ids to an upstream's own, both ways.
type recordIDs struct {
	db *bolt.DB
	// n counts the mapped records, so that the common case, none, costs
	// one atomic load per request.
	n  atomic.Int64
	mu sync.RWMutex
	// up and gw cache the bucket: up[gateway key] = upstream id,
	// gw[upstream key] = gateway id.
	up, gw map[string]string
}

func openRecordIDs(db *bolt.DB) (*recordIDs, error) {
	m := &recordIDs{db: db, up: map[string]string{}, gw: map[string]string{}}
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketRecordIDs)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			m.up[string(k)] = string(v)
			m.gw[recordMapKey(collectionOf(string(k)), string(v))] = idOf(string(k))
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	m.n.Store(int64(len(m.up)))
	return m, nil
}

func recordMapKey(collection, id string) string { return collection + "\x00" + id }

func collectionOf(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] == 0 {
			return key[:i]
		}
	}
	return key
}

func idOf(key string) string {
	for i := 0; i < len(key); i++ {
		if key[i] == 0 {
			return key[i+1:]
		}
	}
	return ""
}

// add records that the gateway's record rec is upID upstream.
func (m *recordIDs) add(rec upstream.RecordRef, upID string) error {
	k := recordMapKey(rec.Collection, rec.ID)
	err := m.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRecordIDs).Put([]byte(k), []byte(upID))
	})
	if err != nil {
		return upstream.Wrap(upstream.KindInternal, err, "record the upstream's record id")
	}
	m.mu.Lock()
	m.up[k], m.gw[recordMapKey(rec.Collection, upID)] = upID, rec.ID
	m.mu.Unlock()
	m.n.Store(int64(len(m.up)))
	return nil
}

// toUpstream is rec as the upstream names it.
func (m *recordIDs) toUpstream(rec upstream.RecordRef) upstream.RecordRef { return m.lookup(m.up, rec) }

// fromUpstream is the upstream's rec as the gateway names it.
func (m *recordIDs) fromUpstream(rec upstream.RecordRef) upstream.RecordRef {
	return m.lookup(m.gw, rec)
}

// lookup renames rec's id through one direction of the map.
func (m *recordIDs) lookup(ids map[string]string, rec upstream.RecordRef) upstream.RecordRef {
	if m.n.Load() == 0 || rec.ID == "" {
		return rec
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if id, ok := ids[recordMapKey(rec.Collection, rec.ID)]; ok {
		rec.ID = id
	}
	return rec
}

// outgoing is t with its records as the upstream names them.
func (s *Store) outgoing(t *translate.Target) *translate.Target {
	if s.recs.n.Load() == 0 {
		return t
	}
	out := *t
	out.Record = s.recs.toUpstream(t.Record)
	if t.Fields != nil {
		out.Fields = make(map[string][]translate.Remote, len(t.Fields))
		for f, rs := range t.Fields {
			mapped := make([]translate.Remote, len(rs))
			for i, r := range rs {
				r.Record = s.recs.toUpstream(r.Record)
				mapped[i] = r
			}
			out.Fields[f] = mapped
		}
	}
	return &out
}

// incoming puts an answer's records back in the gateway's names.
func (s *Store) incoming(p *translate.Parsed) {
	if s.recs.n.Load() == 0 || p == nil {
		return
	}
	if p.One != nil {
		p.One.Record = s.recs.fromUpstream(p.One.Record)
	}
	for i := range p.Files {
		p.Files[i].Record = s.recs.fromUpstream(p.Files[i].Record)
	}
}

// createRecord makes rec upstream with the dialect's record create, which
// chooses its own id, and maps rec to it; the update's data and files go
// with it.
func (s *Store) createRecord(ctx context.Context, rec upstream.RecordRef, t *translate.Target) (*translate.Parsed, error) {
	rt, ok := s.sp.FindRecordCreate(t)
	if !ok {
		return nil, s.unsupported("create a record with an id of the gateway's choosing")
	}
	p, err := s.call(ctx, rt, t)
	if err != nil {
		return nil, err
	}
	if p.One == nil || p.One.Record.ID == "" || p.One.Record.ID == rec.ID {
		return nil, upstream.Errorf(upstream.KindBadGateway, "upstream %s made a record but did not say its id", s.sp.Dialect())
	}
	if err := s.recs.add(rec, p.One.Record.ID); err != nil {
		return nil, err
	}
	return p, nil
}
