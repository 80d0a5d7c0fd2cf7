package telemetry

import (
	"sync"
	"sync/atomic"

	"github.com/valyala/fasthttp"
)

// ring keeps the last records. Each add claims the next slot with one
// atomic add and fills it under the slot's own lock, so requests finishing
// on both cores at once do not queue on one mutex (in a profile of Wrap
// from 64 goroutines the ring's lock was the largest share of the
// metrics' cost). A record's path is copied into a buffer of its slot,
// reused as the ring turns, and made a string only when the ring is read.
type ring struct {
	added atomic.Uint64 // records added since start; the last is in slot (added-1) % len
	slots []ringSlot
}

type ringSlot struct {
	mu   sync.Mutex
	seq  uint64 // which add (1-based) the slot holds; 0: none yet
	rec  Record
	path []byte
}

func newRing(n int) *ring { return &ring{slots: make([]ringSlot, n)} }

// add keeps rec, with the request's method and path.
func (r *ring) add(rec Record, method, path []byte) {
	rec.Method, rec.Path = methodName(method), ""
	seq := r.added.Add(1)
	s := &r.slots[(seq-1)%uint64(len(r.slots))]
	s.mu.Lock()
	// A later add lapping this one (more requests finishing at once than
	// the ring holds) keeps the slot: it is the newer.
	if seq > s.seq {
		s.seq, s.rec = seq, rec
		s.path = append(s.path[:0], path...)
	}
	s.mu.Unlock()
}

// list returns the records newest first. A record whose add has claimed
// its slot but not yet filled it (its request is finishing now) is not in
// the list yet.
func (r *ring) list() []Record {
	n := r.added.Load()
	k := min(n, uint64(len(r.slots)))
	out := make([]Record, 0, k)
	for seq := n; seq > n-k; seq-- {
		s := &r.slots[(seq-1)%uint64(len(r.slots))]
		s.mu.Lock()
		if s.seq == seq {
			rec := s.rec
			rec.Path = string(s.path)
			out = append(out, rec)
		}
		s.mu.Unlock()
	}
	return out
}

// methodName is the method as a string, without allocating for the
// methods HTTP defines.
func methodName(m []byte) string {
	for _, known := range [...]string{fasthttp.MethodGet, fasthttp.MethodHead, fasthttp.MethodPost, fasthttp.MethodPut,
		fasthttp.MethodPatch, fasthttp.MethodDelete, fasthttp.MethodOptions, fasthttp.MethodConnect, fasthttp.MethodTrace} {
		if string(m) == known {
			return known
		}
	}
	return string(m)
}
