package bundled

import (
	"context"
	"sync"
)

// keyLocks serialises work per key (Appends per attachment id) without
// keeping a lock for every key ever used: an entry lives while someone
// holds or waits for it. The zero value is ready to use.
type keyLocks struct {
	mu sync.Mutex
	m  map[string]*keyLock
}

type keyLock struct {
	sem  chan struct{} // holds a token while the lock is held
	refs int           // holders and waiters; guarded by keyLocks.mu
}

// lock waits for key's lock, or for ctx to end, and returns the function
// that releases it.
func (l *keyLocks) lock(ctx context.Context, key string) (unlock func(), err error) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*keyLock{}
	}
	e := l.m[key]
	if e == nil {
		e = &keyLock{sem: make(chan struct{}, 1)}
		l.m[key] = e
	}
	e.refs++
	l.mu.Unlock()

	release := func() {
		l.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(l.m, key)
		}
		l.mu.Unlock()
	}
	select {
	case e.sem <- struct{}{}:
		return func() { <-e.sem; release() }, nil
	case <-ctx.Done():
		release()
		return nil, ctx.Err()
	}
}
