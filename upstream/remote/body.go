package remote

import (
	"context"
	"io"

	"github.com/dragoman-gw/dragoman/upstream"
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

// selfHashingCtxReader is a ctxReader of content that hashes itself
// (upstream.SHA256Reader), which it stays: the bytes pass unchanged, so
// the digester may take the content's own sha256.
type selfHashingCtxReader struct {
	ctxReader
	own upstream.SHA256Reader
}

func (c *selfHashingCtxReader) SHA256() []byte { return c.own.SHA256() }

// withContext is content that fails once ctx ends.
func withContext(ctx context.Context, content io.Reader) io.Reader {
	if own, ok := content.(upstream.SHA256Reader); ok {
		return &selfHashingCtxReader{ctxReader: ctxReader{r: content, ctx: ctx}, own: own}
	}
	return &ctxReader{r: content, ctx: ctx}
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
