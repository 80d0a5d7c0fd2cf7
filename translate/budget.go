package translate

import (
	"errors"
	"io"

	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman/membudget"
	"github.com/dragoman-gw/dragoman/upstream"
)

// unbudgetedBody is the largest body held whole without a reservation:
// no more than the read buffer every connection has anyway.
const unbudgetedBody = 16 << 10

// budgetRetryAfter is the Retry-After of a request refused for memory.
const budgetRetryAfter = "2"

// budgetKey holds, in a request's locals, the budget (a *membudget.Budget)
// before its body is read and the reservation (a *bodyReservation) after.
type budgetKey struct{}

// bodyReservation is what one request holds of the budget.
type bodyReservation struct {
	b    *membudget.Budget
	held int64
}

// HoldBodiesWithin is middleware that makes every request body held whole
// in memory (a JSON body; raw and multipart bodies stream) reserve its
// size from b first, and gives it back when the request is done. A
// request past the budget waits for room; if none comes in time it is
// refused as unavailable (503) with Retry-After, and a body larger than
// the whole budget as too large, before any of it is read.
func HoldBodiesWithin(b *membudget.Budget) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Locals(budgetKey{}, b)
		defer func() {
			if r, ok := c.Locals(budgetKey{}).(*bodyReservation); ok {
				r.b.Release(r.held)
				c.Locals(budgetKey{}, nil)
			}
		}()
		return c.Next()
	}
}

// reserveBody takes n more bytes of the request's budget, if it has one.
func reserveBody(c *fiber.Ctx, n int64) error {
	var r *bodyReservation
	switch v := c.Locals(budgetKey{}).(type) {
	case *membudget.Budget:
		r = &bodyReservation{b: v}
		c.Locals(budgetKey{}, r)
	case *bodyReservation:
		r = v
	default:
		return nil
	}
	switch err := r.b.Reserve(c.Context(), n); {
	case err == nil:
		r.held += n
		return nil
	case errors.Is(err, membudget.ErrTooLarge):
		return upstream.Errorf(upstream.KindTooLarge,
			"a body of %d bytes is more than this server holds in memory (%d); send the file in chunks", n, r.b.Limit())
	default:
		return &statusError{retryAfter: budgetRetryAfter,
			err: upstream.Wrap(upstream.KindUnavailable, err, "the server is holding too many uploads in memory; try again shortly")}
	}
}

// readBudgeted reads all of r, at most limit bytes (0: no cap), reserving
// memory as the buffer grows.
func readBudgeted(c *fiber.Ctx, r io.Reader, limit int64) ([]byte, error) {
	charged := func(capacity int) int64 { return max(int64(capacity)-unbudgetedBody, 0) }
	buf := make([]byte, 0, 4096)
	for {
		if len(buf) == cap(buf) {
			next := int64(2 * cap(buf))
			if limit > 0 {
				next = min(next, limit+1)
			}
			if err := reserveBody(c, charged(int(next))-charged(cap(buf))); err != nil {
				return nil, err
			}
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if limit > 0 && int64(len(buf)) > limit {
			return nil, tooLarge(limit)
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			if _, ok := errors.AsType[*upstream.Error](err); ok {
				return nil, err
			}
			return nil, upstream.Wrap(upstream.KindInvalid, err, "could not read the request body")
		}
	}
}
