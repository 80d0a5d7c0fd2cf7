package translate

import (
	"bytes"
	"errors"
	"io"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman/upstream"
)

// drainLimit and drainTime bound how much of an unread request body the
// server reads and throws away before answering an error. Closing a socket
// with unread data makes the kernel send a reset, and clients then see
// "connection reset" instead of the 413 or 400; past either bound the
// connection is closed anyway.
const (
	drainLimit = 1 << 30
	drainTime  = 5 * time.Second
)

// requestBody returns the request body as a stream. fasthttp hands over
// small bodies whole and streams larger ones; both look the same here.
func requestBody(c *fiber.Ctx) io.Reader {
	if s := c.Context().RequestBodyStream(); s != nil {
		return stickyBody(c, s)
	}
	return bytes.NewReader(c.Request().Body())
}

// declaredLength is the request's Content-Length, or -1 when it has none.
func declaredLength(c *fiber.Ctx) int64 {
	n := c.Request().Header.ContentLength()
	if n < 0 {
		return -1
	}
	return int64(n)
}

// readJSONBody reads a whole JSON body of at most max bytes (0: no cap).
// An oversize body is refused from its Content-Length before any of it is
// read, and by counting when it has none.
func readJSONBody(c *fiber.Ctx, max int64) ([]byte, error) {
	if n := declaredLength(c); max > 0 && n > max {
		return nil, tooLarge(max)
	}
	if n := declaredLength(c); n >= 0 {
		// The size is known: one allocation, not ReadAll's doubling.
		if s := c.Context().RequestBodyStream(); s == nil {
			return c.Request().Body(), nil
		}
		if n > unbudgetedBody {
			if err := reserveBody(c, n); err != nil {
				return nil, err
			}
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(requestBody(c), body); err != nil {
			if _, ok := errors.AsType[*upstream.Error](err); ok {
				return nil, err // a stalled body is a 408
			}
			return nil, upstream.Wrap(upstream.KindInvalid, err, "could not read the request body")
		}
		return body, nil
	}
	return readBudgeted(c, requestBody(c), max)
}

// cappedReader fails with a too_large error once more than max bytes
// have been read, so a body without Content-Length cannot exceed a cap.
type cappedReader struct {
	r   io.Reader
	max int64
	n   int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		return n, tooLarge(c.max)
	}
	return n, err
}

// rawBody returns the request body as a stream capped at max (0: no cap).
// A body that ends before its Content-Length is an error, not a shorter
// file: the client went away mid-upload.
func rawBody(c *fiber.Ctx, max int64) (io.Reader, error) {
	n := declaredLength(c)
	if max > 0 && n > max {
		return nil, tooLarge(max)
	}
	r := requestBody(c)
	if n >= 0 {
		r = &exactReader{r: r, want: n}
	}
	if max > 0 {
		r = &cappedReader{r: r, max: max}
	}
	return r, nil
}

// exactReader fails a body that ends short of its declared length.
type exactReader struct {
	r    io.Reader
	want int64
	n    int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.n += int64(n)
	if errors.Is(err, io.EOF) && e.n < e.want {
		return n, upstream.Errorf(upstream.KindInvalid, "request body ended after %d of %d bytes", e.n, e.want)
	}
	if err != nil && !errors.Is(err, io.EOF) {
		if _, ok := errors.AsType[*upstream.Error](err); ok {
			return n, err // already says what went wrong (a stalled body is a 408)
		}
		return n, upstream.Wrap(upstream.KindInvalid, err, "request body broke off")
	}
	return n, err
}

func tooLarge(max int64) error {
	return upstream.Errorf(upstream.KindTooLarge, "request body is larger than %d bytes", max)
}

// discardBody reads and drops what is left of the request body, so that
// an early error answer reaches the client (see drainLimit).
func discardBody(c *fiber.Ctx) {
	if c.Context().RequestBodyStream() == nil {
		return
	}
	if declaredLength(c) > drainLimit {
		// Too much to drain: answer at once and close.
		c.Context().SetConnectionClose()
		return
	}
	s := stickyBody(c, c.Context().RequestBodyStream())
	if conn := c.Context().Conn(); conn != nil {
		_ = conn.SetReadDeadline(time.Now().Add(drainTime))
		defer conn.SetReadDeadline(time.Time{}) //nolint:errcheck // the server sets its own before the next read
	}
	n, err := io.CopyN(io.Discard, s, drainLimit)
	if n == drainLimit || (err != nil && !errors.Is(err, io.EOF)) {
		c.Context().SetConnectionClose()
	}
}
