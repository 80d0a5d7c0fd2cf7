package translate

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman/upstream"
)

// statusError is a failure that its answer must say more about than its
// kind: a failure of the connection under a request, such as a body that
// stopped arriving, answered with an HTTP status that no canonical kind
// names (408) on a connection closed after the answer; or a refusal to
// come back later, with Retry-After.
type statusError struct {
	status     int    // 0: the kind's status, and the connection stays
	retryAfter string // seconds, for Retry-After; "" sends none
	err        error
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// bodyStalled is the error of a request body read that hit the body idle
// timeout.
func bodyStalled(cause error) error {
	return &statusError{status: http.StatusRequestTimeout,
		err: upstream.Wrap(upstream.KindTimeout, cause, "the request body stopped arriving")}
}

// kindOfStatus names the canonical kind a connection-level status is
// rendered as, for dialects whose error body names a kind.
func kindOfStatus(status int) upstream.Kind {
	switch status {
	case http.StatusRequestTimeout:
		return upstream.KindTimeout
	case http.StatusRequestEntityTooLarge:
		return upstream.KindTooLarge
	case http.StatusTooManyRequests:
		return upstream.KindRateLimited
	case http.StatusServiceUnavailable:
		return upstream.KindUnavailable
	default:
		return upstream.KindInvalid
	}
}

// WriteConnError answers a request that the connection layer refused
// before any route ran (a header it could not parse, a timeout, framing it
// will not accept): with status and text in the error shape of the dialect
// whose mount path falls under, or as short plain text when path is under
// none or unknown (""). text is the caller's fixed message; nothing of the
// request is echoed.
func (g *Gateway) WriteConnError(c *fiber.Ctx, path string, status int, text string) error {
	c.Context().SetConnectionClose()
	if d := g.dialectOfPath(path); d != nil {
		return g.renderError(c, d, kindOfStatus(status), text, status)
	}
	c.Context().ResetBody()
	c.Status(status)
	c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
	return c.SendString(text + "\n")
}

// dialectOfPath is the dialect with the longest mount that path falls
// under, or nil.
func (g *Gateway) dialectOfPath(path string) *compiledDialect {
	var best *compiledDialect
	for _, d := range g.cfg.dialects {
		m := d.spec.Mount
		if (path == m || strings.HasPrefix(path, m+"/")) && (best == nil || len(m) > len(best.spec.Mount)) {
			best = d
		}
	}
	return best
}

// stickyReader keeps failing once its source failed. A request body
// stream that met broken framing (a chunk size it could not parse) must
// not be read on: a reader that swallows one error and reads again would
// take what follows the bad size for data. A read that hit the body idle
// timeout becomes a 408.
type stickyReader struct {
	r   io.Reader
	err error
}

func (s *stickyReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = bodyStalled(err)
		}
		s.err = err
	}
	return n, err
}

// bodyStreamKey holds a request's sticky body stream in its locals, so
// that every reader of the body, and the drain after an error, shares it.
type bodyStreamKey struct{}

// stickyBody returns the request's body stream, made sticky once.
func stickyBody(c *fiber.Ctx, s io.Reader) *stickyReader {
	if sr, ok := c.Locals(bodyStreamKey{}).(*stickyReader); ok {
		return sr
	}
	sr := &stickyReader{r: s}
	c.Locals(bodyStreamKey{}, sr)
	return sr
}
