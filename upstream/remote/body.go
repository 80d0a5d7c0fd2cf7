package remote

import (
	"context"
	"io"
)

// ctxReader fails a content read once the caller's context has ended, so a
// cancelled upload stops reading its source.
type ctxReader struct {
	r   io.Reader
	ctx context.Context
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if c.ctx.Err() != nil {
		return 0, ctxError(c.ctx)
	}
	return c.r.Read(p)
}

// eofHook runs hook when its source reaches EOF, before passing the EOF
// on; an error from hook takes the EOF's place, which fails the request
// the content streams into before the upstream has seen all of it.
type eofHook struct {
	r    io.Reader
	hook func() error
	err  error
	done bool
}

func (e *eofHook) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.r.Read(p)
	if err == io.EOF && !e.done {
		e.done = true
		if herr := e.hook(); herr != nil {
			e.err = herr
			return n, herr
		}
	}
	return n, err
}
