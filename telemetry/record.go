package telemetry

import (
	"context"
	"sync"
	"time"
)

// Record is what one request did, emitted once when it is done. Fields the
// request never reached stay zero.
type Record struct {
	Start     time.Time
	RequestID string
	// Dialect, Route and Op are the routes.yaml names of what served the
	// request; the gateway's own answers use the names in route.go.
	Dialect, Route, Op string
	Method, Path       string
	Status             int
	// BytesIn is the request body's declared length (0 when chunked);
	// BytesOut the answer's length as its headers declare it.
	BytesIn, BytesOut int64
	// Duration runs from the request's arrival to the answer's headers
	// being ready; a streamed body is sent after.
	Duration time.Duration
	// Key is the name of the key that made the request, never its secret.
	Key string
	// UpstreamCalls counts the calls made to an upstream for this request;
	// UpstreamStatus is the last one's status (0: no answer came) and
	// UpstreamDuration their sum.
	UpstreamCalls    int
	UpstreamStatus   int
	UpstreamDuration time.Duration
	// ErrorKind is the canonical error kind of an error answer.
	ErrorKind string
}

// Request is the Record of a request being served, which the gateway and
// the upstream calls fill as it goes.
type Request struct {
	mu      sync.Mutex // upstream calls of one request may run at once
	rec     Record
	route   *Route
	t       *Telemetry
	idBuf   []byte
	discard bool
}

// requestKey finds a request's Request among its context values.
type requestKey struct{}

// FromContext returns the Request ctx belongs to, or nil when there is
// none (work outside any request). Every method of a nil *Request is a
// no-op.
func FromContext(ctx context.Context) *Request {
	if ctx == nil {
		return nil
	}
	r, _ := ctx.Value(requestKey{}).(*Request)
	return r
}

// RequestID returns the id of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	return FromContext(ctx).ID()
}

// ID is the request's id.
func (r *Request) ID() string {
	if r == nil {
		return ""
	}
	return r.rec.RequestID
}

// SetRoute names what serves the request; rt comes from Telemetry.Route,
// resolved when the route was mounted.
func (r *Request) SetRoute(rt *Route) {
	if r == nil || rt == nil {
		return
	}
	r.route = rt
	r.rec.Dialect, r.rec.Route, r.rec.Op = rt.Dialect, rt.Name, rt.Op
}

// SetKey records the name of the authenticated key.
func (r *Request) SetKey(name string) {
	if r != nil {
		r.rec.Key = name
	}
}

// SetError records the canonical kind of the error answered.
func (r *Request) SetError(kind string) {
	if r != nil {
		r.rec.ErrorKind = kind
	}
}

// Discard drops the request's record: nothing of it is emitted. For a
// run of the gateway that is not the request's answer (the header-only
// check of an Expect: 100-continue request, which runs again whole).
func (r *Request) Discard() {
	if r != nil {
		r.discard = true
	}
}

// ObserveUpstream reports one call to an upstream made for the request ctx
// belongs to: its status (0 when no answer came) and how long it took to
// answer. Calls outside any request are not counted.
func ObserveUpstream(ctx context.Context, upstreamName string, status int, d time.Duration) {
	r := FromContext(ctx)
	if r == nil {
		return
	}
	r.mu.Lock()
	r.rec.UpstreamCalls++
	r.rec.UpstreamStatus = status
	r.rec.UpstreamDuration += d
	r.mu.Unlock()
	if r.t.m != nil {
		r.t.m.observeUpstream(upstreamName, status, d)
	}
}

// snapshot copies the record out, under the lock the upstream calls take.
func (r *Request) snapshot() Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.rec
}

func (r *Request) reset() {
	r.rec = Record{}
	r.route = nil
	r.discard = false
	r.idBuf = r.idBuf[:0]
}
