package remote

import (
	"sync"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
)

// breaker opens after a run of consecutive failures and, after a pause,
// lets one probe through: success closes it, failure opens it again. While
// it is open, calls fail at once instead of each waiting out a timeout on
// an upstream that is down.
type breaker struct {
	threshold int
	pause     time.Duration

	mu       sync.Mutex
	failures int
	openedAt time.Time
	probing  bool
	// last is the kind of the last failure: while open, the breaker
	// answers as the upstream last did (504 for one that stalls, 502 for
	// one that is gone).
	last upstream.Kind
}

func newBreaker(threshold int, pause time.Duration) *breaker {
	return &breaker{threshold: threshold, pause: pause}
}

// allow returns nil when a call may go, which must then end in record or
// release; else the error to fail the call with at once.
func (b *breaker) allow() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return nil
	}
	if time.Since(b.openedAt) < b.pause || b.probing {
		return upstream.Errorf(b.last, "upstream keeps failing; not trying it again for a moment")
	}
	b.probing = true
	return nil
}

// record counts an allowed call's outcome: nil for success, else the
// failure.
func (b *breaker) record(failure error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if failure == nil {
		b.failures = 0
		return
	}
	b.last = upstream.KindOf(failure)
	b.failures++
	if b.failures >= b.threshold {
		b.openedAt = time.Now()
	}
}

// release ends an allowed call that says nothing about the upstream (it
// failed on the gateway's side), so a probe slot is not held forever.
func (b *breaker) release() {
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}
