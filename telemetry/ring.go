package telemetry

import (
	"sync"

	"github.com/valyala/fasthttp"
)

// ring keeps the last records. A record's path is copied into a buffer
// of its slot, reused as the ring turns, and made a string only when the
// ring is read: metrics on cost a string per request otherwise.
type ring struct {
	mu    sync.Mutex
	recs  []Record
	paths [][]byte
	next  int
	full  bool
}

func newRing(n int) *ring { return &ring{recs: make([]Record, n), paths: make([][]byte, n)} }

// add keeps rec, with the request's method and path.
func (r *ring) add(rec Record, method, path []byte) {
	rec.Method, rec.Path = methodName(method), ""
	r.mu.Lock()
	r.recs[r.next] = rec
	r.paths[r.next] = append(r.paths[r.next][:0], path...)
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
		j := (r.next - i + len(r.recs)) % len(r.recs)
		rec := r.recs[j]
		rec.Path = string(r.paths[j])
		out = append(out, rec)
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
