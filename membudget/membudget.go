// Package membudget bounds the bytes that requests hold in memory at once.
// A request reserves what it is about to hold; past the budget it waits a
// little for others to release, then is told to come back later.
package membudget

import (
	"context"
	"errors"
	"runtime/debug"
	"sync"
	"time"
)

// ErrExhausted is returned when no room came free within the wait.
var ErrExhausted = errors.New("memory budget exhausted")

// ErrTooLarge is returned for a reservation larger than the whole budget.
var ErrTooLarge = errors.New("larger than the whole memory budget")

// Budget is a byte budget shared by all requests.
type Budget struct {
	limit int64
	wait  time.Duration

	mu   sync.Mutex
	used int64
	// releasedSinceReturn counts bytes released since memory was last
	// handed back to the operating system.
	releasedSinceReturn int64
	// freed is closed and replaced whenever bytes are released, waking
	// every reservation that waits for room.
	freed chan struct{}
}

// New returns a budget of limit bytes whose reservations wait at most wait
// for room.
func New(limit int64, wait time.Duration) *Budget {
	return &Budget{limit: limit, wait: wait, freed: make(chan struct{})}
}

// Limit is the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Reserve takes n bytes of the budget, waiting up to the budget's wait (or
// until ctx ends) for them to come free. Every successful Reserve is
// matched by a Release of the same n.
func (b *Budget) Reserve(ctx context.Context, n int64) error {
	if n <= 0 {
		return nil
	}
	if n > b.limit {
		return ErrTooLarge
	}
	var timeout <-chan time.Time
	for {
		b.mu.Lock()
		if b.used+n <= b.limit {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		freed := b.freed
		b.mu.Unlock()
		if timeout == nil {
			t := time.NewTimer(b.wait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-freed:
		case <-timeout:
			return ErrExhausted
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Release gives back n bytes and reports how many remain in use. When the
// budget falls idle after at least a quarter of it was released, the
// garbage those bodies left is collected and handed back to the operating
// system at once, rather than at the collector's next turn, which after a
// burst of large bodies may be minutes away.
func (b *Budget) Release(n int64) (inUse int64) {
	if n <= 0 {
		return b.InUse()
	}
	b.mu.Lock()
	b.used -= n
	b.releasedSinceReturn += n
	close(b.freed)
	b.freed = make(chan struct{})
	inUse = b.used
	reclaim := inUse == 0 && b.releasedSinceReturn >= b.limit/4
	if reclaim {
		b.releasedSinceReturn = 0
	}
	b.mu.Unlock()
	if reclaim {
		debug.FreeOSMemory()
	}
	return inUse
}

// InUse is how many bytes are reserved now.
func (b *Budget) InUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
