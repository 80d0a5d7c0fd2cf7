package remote

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"

	"github.com/dragoman-gw/dragoman/upstream"
)

// memContent is content that came whole inside a JSON answer.
type memContent struct{ *bytes.Reader }

func (memContent) Close() error { return nil }

// streamContent is an upstream download being streamed. Seeking is lazy:
// the next read skips forward by reading and dropping bytes, and goes back
// (or starts over after a failure) by asking the upstream again from the
// new offset. The connection goes back to the pool on Close.
type streamContent struct {
	ctx  context.Context
	open func(ctx context.Context, offset int64) (*response, error)
	size int64 // -1 when unknown

	resp    *response
	bodyPos int64 // offset of the next byte resp's body yields
	pos     int64 // offset of the next byte Read returns
	closed  bool
}

// reopen asks for the content from offset on.
func (c *streamContent) reopen(offset int64) error {
	if c.resp != nil {
		c.resp.close()
		c.resp = nil
	}
	resp, err := c.open(c.ctx, offset)
	if err != nil {
		return err
	}
	c.resp, c.bodyPos = resp, resp.start
	return nil
}

func (c *streamContent) Read(p []byte) (int, error) {
	if c.closed {
		return 0, errors.New("read of closed content")
	}
	if c.size >= 0 && c.pos >= c.size {
		return 0, io.EOF
	}
	if c.resp == nil || c.pos < c.bodyPos {
		if err := c.reopen(c.pos); err != nil {
			return 0, err
		}
	}
	if skip := c.pos - c.bodyPos; skip > 0 {
		n, err := io.CopyN(io.Discard, c.resp.body, skip)
		c.bodyPos += n
		if err != nil {
			return 0, c.bodyError(err)
		}
	}
	n, err := c.resp.body.Read(p)
	c.pos += int64(n)
	c.bodyPos += int64(n)
	if err == io.EOF {
		if c.size >= 0 && c.pos < c.size {
			return n, upstream.Errorf(upstream.KindBadGateway, "upstream download ended after %d of %d bytes", c.pos, c.size)
		}
		return n, io.EOF
	}
	if err != nil {
		return n, c.bodyError(err)
	}
	return n, nil
}

// copyBuffer bounds the pieces WriteTo relays: a download relayed in 4 or
// 32 KiB pieces spent most of the front's CPU in system calls, two per
// piece.
const copyBuffer = 256 << 10

var copyBuffers = sync.Pool{New: func() any { return new([copyBuffer]byte) }}

// WriteTo relays the rest of the content to w; fasthttp and io.Copy use it
// when they send a body. The body goes by the exchange's own WriteTo,
// which may splice it from socket to socket (splice.go).
func (c *streamContent) WriteTo(w io.Writer) (int64, error) {
	if c.closed {
		return 0, errors.New("read of closed content")
	}
	if c.size >= 0 && c.pos >= c.size {
		return 0, nil
	}
	if c.resp == nil || c.pos < c.bodyPos {
		if err := c.reopen(c.pos); err != nil {
			return 0, err
		}
	}
	if skip := c.pos - c.bodyPos; skip > 0 {
		n, err := io.CopyN(io.Discard, c.resp.body, skip)
		c.bodyPos += n
		if err != nil {
			return 0, c.bodyError(err)
		}
	}
	x := c.resp.x
	if x == nil {
		return relay(w, c)
	}
	n, err := x.WriteTo(w)
	c.pos += n
	c.bodyPos += n
	if err != nil {
		return n, c.bodyError(err)
	}
	if c.size >= 0 && c.pos < c.size {
		return n, upstream.Errorf(upstream.KindBadGateway, "upstream download ended after %d of %d bytes", c.pos, c.size)
	}
	return n, nil
}

// relay copies r to w in pieces of up to copyBuffer bytes, each as much as
// one Read gives: a Read is not made to wait for a full piece, so bytes
// that trickle in go on as they come.
func relay(w io.Writer, r io.Reader) (int64, error) {
	buf := copyBuffers.Get().(*[copyBuffer]byte)
	defer copyBuffers.Put(buf)
	var total int64
	for {
		n, err := r.Read(buf[:])
		if n > 0 {
			m, werr := w.Write(buf[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

func (c *streamContent) bodyError(err error) error {
	// The stream is no good past a failure; a later read starts over.
	c.resp.close()
	c.resp = nil
	if err == io.EOF {
		return upstream.Errorf(upstream.KindBadGateway, "upstream download ended early")
	}
	return readError(c.ctx, err)
}

func (c *streamContent) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = c.pos + offset
	case io.SeekEnd:
		if c.size < 0 {
			return c.pos, upstream.Errorf(upstream.KindUnsupported, "the upstream did not say how long the file is")
		}
		abs = c.size + offset
	default:
		return c.pos, upstream.Errorf(upstream.KindInvalid, "bad whence %d", whence)
	}
	if abs < 0 {
		return c.pos, upstream.Errorf(upstream.KindInvalid, "seek to a negative offset")
	}
	c.pos = abs
	return abs, nil
}

func (c *streamContent) Close() error {
	c.closed = true
	if c.resp != nil {
		c.resp.close()
		c.resp = nil
	}
	return nil
}

var (
	_ upstream.Content = memContent{}
	_ upstream.Content = (*streamContent)(nil)
)
