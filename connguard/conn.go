package connguard

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// BodyPhase is the read timeout HeaderReceived asks fasthttp for once a
// request's header is in. fasthttp passes it on only as a read deadline
// about BodyPhase from now; a conn takes such a deadline as the sign that
// the header is complete, lifts the header deadline and bounds each read
// by the body idle timeout instead. It is far longer than any deadline
// fasthttp sets of its own (the header and keep-alive timeouts).
const BodyPhase = 10000 * time.Hour

// bodyPhaseMark tells a BodyPhase deadline from any other.
const bodyPhaseMark = BodyPhase / 2

// HeaderReceived is fasthttp's Server.HeaderReceived hook that moves a
// connection from its header deadline to the body idle timeout.
func HeaderReceived(*fasthttp.RequestHeader) fasthttp.RequestConfig {
	return fasthttp.RequestConfig{ReadTimeout: BodyPhase}
}

// conn is one admitted connection. Reads before a request's header is
// complete keep the deadline the server set (the header timeout, or the
// keep-alive idle timeout); from the end of the header until the answer is
// written, each read and write may wait at most bodyIdle for a byte.
type conn struct {
	net.Conn
	l        *Listener
	ip       netip.Addr
	bodyIdle time.Duration

	mu sync.Mutex
	// inRequest is set from the end of a header until the answer is out.
	inRequest bool
	// hijacked connections are the handler's for good.
	hijacked bool
	// readCap and writeCap are deadlines set by the server or a handler
	// (zero: none); in a request they bound the idle deadline further.
	readCap, writeCap time.Time
	// readSet is the deadline last given to the socket for reads.
	readSet time.Time
	closed  bool
	// awaitLine is set while the next read starts a request; target is the
	// request target of the last request line seen (see RequestPath).
	awaitLine bool
	target    []byte
}

func (c *conn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.IsZero() && time.Until(t) > bodyPhaseMark {
		c.inRequest, c.readCap = true, time.Time{}
		return nil
	}
	c.readCap = t
	return nil
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.writeCap = t
	c.mu.Unlock()
	return nil
}

func (c *conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	deadline := c.readCap
	switch {
	case c.l.isDraining() && !c.inRequest && !c.hijacked:
		deadline = time.Unix(1, 0) // already past: the wait ends now
	case c.inRequest && c.bodyIdle > 0:
		deadline = earliest(deadline, time.Now().Add(c.bodyIdle))
	}
	var err error
	if !deadline.Equal(c.readSet) {
		err = c.Conn.SetReadDeadline(deadline)
		c.readSet = deadline
	}
	c.mu.Unlock()
	if err != nil {
		return 0, err
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		if c.awaitLine {
			c.awaitLine = false
			c.target = appendTarget(c.target[:0], p[:n])
		}
		c.mu.Unlock()
	}
	return n, err
}

// maxTarget bounds the request target kept per connection.
const maxTarget = 256

// appendTarget appends the path of the request line that starts b, if b
// holds a whole "METHOD SP target SP" of at most maxTarget bytes.
func appendTarget(dst, b []byte) []byte {
	_, rest, ok := bytes.Cut(b[:min(len(b), maxTarget)], []byte(" "))
	if !ok {
		return dst
	}
	target, _, ok := bytes.Cut(rest, []byte(" "))
	if !ok {
		return dst
	}
	path, _, _ := bytes.Cut(target, []byte("?"))
	return append(dst, path...)
}

// RequestPath is the path of the request line last read on nc, if nc is a
// connection of a Listener and the line was whole in one read. It lets an
// answer to a request whose header could not be parsed (fasthttp forgets
// the line then) take the shape of the dialect the path belongs to. With
// pipelined requests it may be an earlier request's path: it only ever
// picks an error's shape.
func RequestPath(nc net.Conn) string {
	c, ok := nc.(*conn)
	if !ok {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.target)
}

func (c *conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	deadline := c.writeCap
	if c.bodyIdle > 0 {
		deadline = earliest(deadline, time.Now().Add(c.bodyIdle))
	}
	c.mu.Unlock()
	if err := c.Conn.SetWriteDeadline(deadline); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// readFromPiece is how much one ReadFrom hands the kernel under one idle
// deadline.
const readFromPiece = 4 << 20

// ReadFrom keeps the socket's own ReadFrom reachable through the guard, so
// that a file's bytes go to the client by sendfile or splice as they would
// without it (the copy through user space cost three quarters of a 1 GiB
// download's speed). The bytes move in pieces, each under the idle
// deadline a Write would get.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	rf, ok := c.Conn.(io.ReaderFrom)
	if !ok {
		return io.Copy(writerOnly{c}, r)
	}
	// A limited reader is unwrapped, its limit kept: the socket splices
	// only from a connection inside at most one LimitedReader.
	src, outer := r, (*io.LimitedReader)(nil)
	if lr, ok := r.(*io.LimitedReader); ok {
		src, outer = lr.R, lr
	}
	var total int64
	for {
		piece := int64(readFromPiece)
		if outer != nil {
			if outer.N <= 0 {
				return total, nil
			}
			piece = min(piece, outer.N)
		}
		c.mu.Lock()
		deadline := c.writeCap
		if c.bodyIdle > 0 {
			deadline = earliest(deadline, time.Now().Add(c.bodyIdle))
		}
		c.mu.Unlock()
		if err := c.Conn.SetWriteDeadline(deadline); err != nil {
			return total, err
		}
		n, err := rf.ReadFrom(&io.LimitedReader{R: src, N: piece})
		total += n
		if outer != nil {
			outer.N -= n
		}
		if err != nil || n < piece {
			return total, err
		}
	}
}

// writerOnly hides a writer's ReadFrom, so io.Copy does not call it back.
type writerOnly struct{ io.Writer }

// earliest is the sooner of two deadlines, zero meaning none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func (c *conn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.l.release(c)
	return c.Conn.Close()
}

// leaveRequest marks the request on c answered; a draining listener then
// ends the connection.
func (c *conn) leaveRequest(next bool) {
	c.mu.Lock()
	c.inRequest = false
	if next {
		c.awaitLine, c.target = true, c.target[:0]
	}
	c.mu.Unlock()
	if c.l.isDraining() {
		c.expireIfIdle()
	}
}

// expireIfIdle wakes a read waiting outside a request so that it fails at
// once; the server then closes the connection as it does on a timeout.
func (c *conn) expireIfIdle() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inRequest || c.hijacked || c.closed {
		return
	}
	past := time.Unix(1, 0)
	_ = c.Conn.SetReadDeadline(past)
	c.readSet = past
}

// ConnState is fasthttp's Server.ConnState hook: it tells a conn when its
// request has been answered.
func (l *Listener) ConnState(nc net.Conn, state fasthttp.ConnState) {
	c, ok := nc.(*conn)
	if !ok {
		return
	}
	switch state {
	case fasthttp.StateIdle:
		c.leaveRequest(true)
	case fasthttp.StateActive:
		c.leaveRequest(false)
	case fasthttp.StateHijacked:
		c.mu.Lock()
		c.hijacked = true
		c.mu.Unlock()
	}
}
