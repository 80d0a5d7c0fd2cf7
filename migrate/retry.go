package migrate

import (
	"context"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
)

// Retry says how often a failed call is tried again, and how long to wait
// before each new try (doubling from Backoff).
type Retry struct {
	Attempts int
	Backoff  time.Duration
}

// DefaultRetry tries each call four times over about two seconds.
func DefaultRetry() Retry { return Retry{Attempts: 4, Backoff: 250 * time.Millisecond} }

// transient reports whether an error may go away when the call is made
// again: the other side was down, overloaded, slow or answered nonsense.
// Refusals (auth, not found, invalid, too large) are final.
func transient(err error) bool {
	switch upstream.KindOf(err) {
	case upstream.KindUnavailable, upstream.KindBadGateway, upstream.KindTimeout,
		upstream.KindRateLimited, upstream.KindInternal:
		return true
	}
	return false
}

// do calls f until it succeeds, fails for good, or the attempts run out.
// Only calls that are safe to repeat (reads, deletes) go through do; a
// create is retried by its caller, which first looks whether it landed.
func (r Retry) do(ctx context.Context, f func() error) error {
	var err error
	for attempt := 0; ; attempt++ {
		if err = f(); err == nil || !transient(err) || attempt+1 >= r.Attempts {
			return err
		}
		if werr := r.wait(ctx, attempt); werr != nil {
			return err
		}
	}
}

// wait sleeps before try attempt+1; it returns early with ctx's error.
func (r Retry) wait(ctx context.Context, attempt int) error {
	d := r.Backoff << attempt
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
