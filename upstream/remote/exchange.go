package remote

import (
	"context"
	"errors"
	"io"
	"net/http/httputil"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

// exchange is one request and its answer on one pooled connection. The
// caller's context is watched for the whole of it: when the context ends
// (the client went away, the server is shutting down) the connection is
// closed at once, whether the request is still being written, its answer
// awaited or its body streaming, so the upstream sees the call end too;
// such a connection never goes back to the pool.
//
// The answer's body is read through the exchange (Read, or WriteTo,
// which may splice); it goes back to the pool once the body was read to
// its end, and is closed if Close comes first. One goroutine reads and
// closes an exchange; only the context watch runs beside it.
type exchange struct {
	// h is the answer's header: head, or the caller's own.
	h    *fasthttp.ResponseHeader
	head fasthttp.ResponseHeader

	pool *connPool
	c    *upConn
	stop func() bool // ends the context watch; false if it already fired

	// The body's framing: remaining bytes of a fixed-length body, or a
	// chunked reader, or (untilClose) everything up to the end of the
	// connection.
	remaining  int64
	chunked    io.Reader
	untilClose bool
	// keep is whether the connection may carry another exchange once
	// this one's body is read.
	keep bool
	done bool // the body was read to its end
	err  error

	released atomic.Bool
}

// roundTrip writes freq on a pooled connection and reads the answer's
// header into h (nil: the exchange's own), leaving its body on the
// connection for the exchange to read. A connection reused from the pool
// that turns out closed by the upstream before any answer came is
// replaced by another, when the request has no body stream that could
// have been consumed.
func (t *transport) roundTrip(ctx context.Context, freq *fasthttp.Request, h *fasthttp.ResponseHeader) (*exchange, error) {
	x := &exchange{pool: t.pool, h: h}
	if h == nil {
		x.h = &x.head
	}
	replayable := !freq.IsBodyStream()
	for {
		stale, err := t.tryRoundTrip(ctx, freq, x)
		if err == nil {
			return x, nil
		}
		if !stale || !replayable || ctx.Err() != nil {
			return nil, err
		}
		x.h.Reset()
		*x = exchange{pool: x.pool, h: x.h}
	}
}

func (t *transport) tryRoundTrip(ctx context.Context, freq *fasthttp.Request, x *exchange) (stale bool, err error) {
	c, err := t.pool.get(ctx)
	if err != nil {
		return false, err
	}
	x.c = c
	x.stop = context.AfterFunc(ctx, c.kill)
	c.firstByte = time.Time{}
	if err = freq.Write(c.bw); err == nil {
		err = c.bw.Flush()
	}
	if err != nil {
		x.release()
		return c.reused && closedByPeer(err), err
	}
	c.awaitAnswer(t.timeouts.FirstByte)
	h := x.h
	h.DisableNormalizing()
	for {
		if err = h.Read(c.br); err != nil {
			x.release()
			return c.reused && errors.Is(err, io.EOF), err
		}
		// An interim answer (100 Continue, 103 Early Hints) is followed
		// by the real one.
		if st := h.StatusCode(); st < 100 || st >= 200 || st == 101 {
			break
		}
	}
	c.firstByte = time.Time{}
	st := h.StatusCode()
	switch cl := h.ContentLength(); {
	case freq.Header.IsHead() || st == 204 || st == 304 || st < 200:
		x.remaining = 0
	case cl >= 0:
		x.remaining = int64(cl)
	case cl == -1:
		x.chunked = httputil.NewChunkedReader(c.br)
	default:
		x.untilClose = true
	}
	x.keep = !x.untilClose && st != 101 && !h.ConnectionClose() && !freq.Header.ConnectionClose()
	if x.remaining == 0 && x.chunked == nil && !x.untilClose {
		x.done = true
		x.release()
	}
	return false, nil
}

// closedByPeer is a write failure that says the upstream had closed the
// connection.
func closedByPeer(err error) bool {
	return errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)
}

// Read reads the answer's body.
func (x *exchange) Read(p []byte) (int, error) {
	if x.err != nil {
		return 0, x.err
	}
	if x.done {
		return 0, io.EOF
	}
	var n int
	var err error
	switch {
	case x.chunked != nil:
		n, err = x.chunked.Read(p)
		if err == io.EOF {
			err = x.readTrailer()
		}
	case x.untilClose:
		n, err = x.c.br.Read(p)
	default:
		if int64(len(p)) > x.remaining {
			p = p[:x.remaining]
		}
		n, err = x.c.br.Read(p)
		x.remaining -= int64(n)
		switch {
		case x.remaining == 0:
			err = io.EOF
		case err == io.EOF:
			err = io.ErrUnexpectedEOF
		}
	}
	if err == io.EOF {
		x.done = true
		x.release()
		return n, io.EOF
	}
	if err != nil {
		x.err = err
		x.release()
	}
	return n, err
}

// maxTrailerLines bounds what a chunked body's trailer may hold.
const maxTrailerLines = 64

// readTrailer reads a chunked body's trailer up to its empty line and
// drops it: io.EOF when it ended well.
func (x *exchange) readTrailer() error {
	for range maxTrailerLines {
		line, err := x.c.br.ReadSlice('\n')
		if err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		if len(line) <= 2 && (string(line) == "\r\n" || string(line) == "\n") {
			return io.EOF
		}
	}
	return errors.New("chunked answer's trailer is too long")
}

// Close ends the exchange. A fixed-length body whose rest is already
// buffered is read out, so the connection can be reused; one with more
// to come is closed.
func (x *exchange) Close() error {
	if x.released.Load() {
		return nil
	}
	if !x.done && x.err == nil && x.chunked == nil && !x.untilClose && x.remaining <= int64(x.c.br.Buffered()) {
		x.c.br.Discard(int(x.remaining)) //nolint:errcheck // buffered bytes are there to discard
		x.remaining, x.done = 0, true
	}
	x.release()
	return nil
}

// release hands the connection back to the pool if the exchange ended
// cleanly and the context watch did not fire, and closes it otherwise.
func (x *exchange) release() {
	if !x.released.CompareAndSwap(false, true) {
		return
	}
	watched := x.stop()
	if watched && x.done && x.keep && x.err == nil && !x.c.killed.Load() {
		x.pool.put(x.c)
		return
	}
	x.pool.discard(x.c)
}

// readInto reads the rest of a fixed-length body into resp's own buffer,
// straight from the connection's buffer.
func (x *exchange) readInto(resp *fasthttp.Response) error {
	br := x.c.br
	for x.remaining > 0 {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				x.err = err
				x.release()
				return err
			}
		}
		k := int(min(x.remaining, int64(br.Buffered())))
		p, _ := br.Peek(k)
		resp.AppendBody(p)
		br.Discard(k) //nolint:errcheck // k bytes are buffered
		x.remaining -= int64(k)
	}
	x.done = true
	x.release()
	return nil
}
