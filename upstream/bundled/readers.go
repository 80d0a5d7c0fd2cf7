package bundled

import (
	"context"
	"io"

	"github.com/dragoman-gw/dragoman/upstream"
)

// ctxReader fails a read once ctx is done, so a cancelled upload stops at
// the next buffer instead of draining the whole stream.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// capReader counts the bytes read and fails with KindTooLarge as soon as
// they pass max (0 means no cap). It never reads more than one byte past
// max, so an oversize stream is refused without being drained.
type capReader struct {
	r   io.Reader
	max int64
	n   int64
	// srcErr is the last error the source returned, to tell a failing
	// source from a failing disk.
	srcErr error
	// msg, if set, is the client message of the KindTooLarge error.
	msg string
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.max > 0 {
		if c.n > c.max {
			return 0, c.tooLarge()
		}
		if room := c.max - c.n + 1; int64(len(p)) > room {
			p = p[:room]
		}
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.max > 0 && c.n > c.max {
		return n, c.tooLarge()
	}
	if err != nil && err != io.EOF {
		c.srcErr = err
	}
	return n, err
}

func (c *capReader) tooLarge() error {
	if c.msg != "" {
		return upstream.Errorf(upstream.KindTooLarge, "%s", c.msg)
	}
	return upstream.Errorf(upstream.KindTooLarge, "content exceeds %d bytes", c.max)
}
