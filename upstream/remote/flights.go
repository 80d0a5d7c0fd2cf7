package remote

import (
	"context"
	"sync"

	"github.com/dragoman-gw/dragoman/translate"
)

// listings shares one upstream listing of a record among the callers that
// want it at once. Four of the five dialects have no call that describes
// one file, so every Stat and Open there is a listing of the file's whole
// record: a migration of a thousand files in one record, eight at a time,
// would list that record thousands of times over.
//
// Sharing must not serve a caller a listing older than its own call, or a
// file created just before would be missing from it. So a caller never
// joins a listing already sent: it joins the next one, which is sent as
// soon as the one in flight is back, and which every caller arriving
// meanwhile shares. At most two listings of a record exist at a time, one
// in flight and one waiting.
type listings struct {
	mu sync.Mutex
	m  map[listingKey]*listingQueue
}

// listingKey names a listing: a record, and whether partial files in it
// are to be described (listRemote's full).
type listingKey struct {
	collection, id string
	full           bool
}

// listingQueue is a record's listing in flight and the one waiting for it.
type listingQueue struct {
	running, next *listing
}

// listing is one upstream listing and its outcome, which its callers read
// once done is closed.
type listing struct {
	done chan struct{}
	rs   []translate.Remote
	err  error
	// abandoned: it failed because the caller who sent it went away.
	abandoned bool
}

// share returns a listing of key sent after share was called: by fn, or
// by another caller's fn. The slice is the caller's own; the files in it
// are shared and must not be changed.
func (l *listings) share(ctx context.Context, key listingKey, fn func(context.Context) ([]translate.Remote, error)) ([]translate.Remote, error) {
	for {
		f, mine := l.once(ctx, key, fn)
		if !mine && f.abandoned && ctx.Err() == nil {
			// The caller who sent it went away; this one has not.
			continue
		}
		return append([]translate.Remote(nil), f.rs...), f.err
	}
}

// once joins or sends one listing; mine tells whether it ran on ctx.
func (l *listings) once(ctx context.Context, key listingKey, fn func(context.Context) ([]translate.Remote, error)) (*listing, bool) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[listingKey]*listingQueue{}
	}
	q := l.m[key]
	if q == nil {
		q = &listingQueue{}
		l.m[key] = q
	}
	if q.running == nil {
		f := &listing{done: make(chan struct{})}
		q.running = f
		l.mu.Unlock()
		l.run(ctx, key, q, f, fn)
		return f, true
	}
	f, leader := q.next, q.next == nil
	if leader {
		f = &listing{done: make(chan struct{})}
		q.next = f
	}
	prev := q.running
	l.mu.Unlock()
	if leader {
		// Sent once the one in flight is back (which makes it the one
		// running), so that it reflects every write acknowledged before
		// its callers called.
		select {
		case <-prev.done:
			l.run(ctx, key, q, f, fn)
		case <-ctx.Done():
			f.err, f.abandoned = ctxError(ctx), true
			l.finish(key, q, f)
		}
		return f, true
	}
	select {
	case <-f.done:
		return f, false
	case <-ctx.Done():
		return &listing{err: ctxError(ctx)}, true
	}
}

// run sends listing f.
func (l *listings) run(ctx context.Context, key listingKey, q *listingQueue, f *listing, fn func(context.Context) ([]translate.Remote, error)) {
	f.rs, f.err = fn(ctx)
	f.abandoned = f.err != nil && ctx.Err() != nil
	l.finish(key, q, f)
}

// finish ends listing f: the one waiting, if any, is now the one in
// flight, and a record with neither is forgotten.
func (l *listings) finish(key listingKey, q *listingQueue, f *listing) {
	l.mu.Lock()
	switch f {
	case q.running:
		q.running, q.next = q.next, nil
	case q.next:
		q.next = nil
	}
	if q.running == nil && q.next == nil && l.m[key] == q {
		delete(l.m, key)
	}
	l.mu.Unlock()
	close(f.done)
}
