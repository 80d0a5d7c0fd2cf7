package telemetry

import "sync"

// ring keeps the last records.
type ring struct {
	mu   sync.Mutex
	recs []Record
	next int
	full bool
}

func newRing(n int) *ring { return &ring{recs: make([]Record, n)} }

func (r *ring) add(rec Record) {
	r.mu.Lock()
	r.recs[r.next] = rec
	r.next++
	if r.next == len(r.recs) {
		r.next, r.full = 0, true
	}
	r.mu.Unlock()
}

// list returns the records newest first.
func (r *ring) list() []Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.next
	if r.full {
		n = len(r.recs)
	}
	out := make([]Record, 0, n)
	for i := 1; i <= n; i++ {
		out = append(out, r.recs[(r.next-i+len(r.recs))%len(r.recs)])
	}
	return out
}
