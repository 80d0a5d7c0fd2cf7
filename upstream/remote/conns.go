package remote

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Pool limits: at most maxConns connections to one upstream at once (a
// caller waits for one up to the first-byte timeout), and an idle one is
// not reused after maxIdleAge (the upstream may have closed it by then).
const (
	maxConns   = 256
	maxIdleAge = 30 * time.Second
	// readBufSize bounds an answer's header; writeBufSize is what a
	// request's header and small body are gathered in before a write.
	readBufSize  = 16 << 10
	writeBufSize = 16 << 10
)

// errNoFreeConns is a wait for a connection that outlasted the first-byte
// timeout: the upstream is too slow for the load.
var errNoFreeConns = errors.New("no free connection to the upstream in time")

// connPool keeps the connections to one upstream. It is our own rather
// than fasthttp's HostClient so that a call knows the connection it runs
// on, and can close it the moment its caller goes away (issue 11 item 10):
// fasthttp would let a call without a body run on until it answered.
type connPool struct {
	addr  string
	tls   *tls.Config // nil: plain HTTP
	to    Timeouts
	slots chan struct{} // one token per open connection
	// handoff passes a connection going idle straight to a caller
	// waiting for a free slot.
	handoff chan *upConn

	mu     sync.Mutex
	idle   []*upConn // most recently used last
	closed bool
}

func newConnPool(addr string, tlsConf *tls.Config, to Timeouts) *connPool {
	return &connPool{addr: addr, tls: tlsConf, to: to, slots: make(chan struct{}, maxConns), handoff: make(chan *upConn)}
}

// get hands out an idle connection, or dials one, waiting for a free slot
// at most the first-byte timeout (or until ctx ends).
func (p *connPool) get(ctx context.Context) (*upConn, error) {
	if c := p.takeIdle(); c != nil {
		return c, nil
	}
	select {
	case p.slots <- struct{}{}:
	default:
		timer := time.NewTimer(p.to.FirstByte)
		defer timer.Stop()
		select {
		case p.slots <- struct{}{}:
		case c := <-p.handoff:
			return c, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			// A connection may have gone idle meanwhile.
			if c := p.takeIdle(); c != nil {
				return c, nil
			}
			return nil, errNoFreeConns
		}
	}
	c, err := p.dial(ctx)
	if err != nil {
		<-p.slots
		return nil, err
	}
	return c, nil
}

// takeIdle is the most recently used idle connection still young enough;
// older ones are closed on the way.
func (p *connPool) takeIdle() *upConn {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pruneLocked(time.Now())
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		return c
	}
	return nil
}

// pruneLocked closes the idle connections past maxIdleAge; they are the
// first ones, since put appends.
func (p *connPool) pruneLocked(now time.Time) {
	k := 0
	for k < len(p.idle) && now.Sub(p.idle[k].used) > maxIdleAge {
		p.idle[k].raw.Close()
		p.idle[k] = nil
		<-p.slots
		k++
	}
	if k > 0 {
		p.idle = append(p.idle[:0], p.idle[k:]...)
	}
}

func (p *connPool) dial(ctx context.Context) (*upConn, error) {
	d := net.Dialer{Timeout: p.to.Connect}
	raw, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	c := &upConn{raw: raw, idle: p.to.Idle}
	if tcp, ok := raw.(*net.TCPConn); ok {
		c.tcp = tcp
	}
	if p.tls != nil {
		tc := tls.Client(raw, p.tls)
		hctx, cancel := context.WithTimeout(ctx, p.to.Connect)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			raw.Close()
			return nil, err
		}
		c.raw, c.tcp = tc, nil
	}
	c.br = bufio.NewReaderSize(c, readBufSize)
	c.bw = bufio.NewWriterSize(c, writeBufSize)
	return c, nil
}

// put returns a connection whose exchange ended cleanly to the pool.
func (p *connPool) put(c *upConn) {
	c.used = time.Now()
	c.reused = true
	select {
	case p.handoff <- c:
		return
	default:
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.discard(c)
		return
	}
	p.pruneLocked(c.used)
	p.idle = append(p.idle, c)
	p.mu.Unlock()
}

// discard closes a connection that is no good for another exchange.
func (p *connPool) discard(c *upConn) {
	c.raw.Close()
	<-p.slots
}

// close closes the idle connections; those in use close when their
// exchanges end.
func (p *connPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.idle {
		c.raw.Close()
		<-p.slots
	}
	p.idle = nil
}

// upConn is one connection to the upstream. Each write may wait at most
// the idle timeout; a read too, except the first one after a request went
// out, which waits until the first-byte deadline: a transfer that keeps
// moving is never cut off by a deadline set for the whole exchange.
type upConn struct {
	raw net.Conn
	// tcp is the socket under raw when nothing sits between them (no
	// TLS): a body may then be spliced from it (splice.go).
	tcp    *net.TCPConn
	br     *bufio.Reader
	bw     *bufio.Writer
	idle   time.Duration
	used   time.Time // when it last went idle
	reused bool      // it carried an exchange before this one

	firstByte time.Time // zero: reads are bound by idle
	// killed is set when the caller's context ended and closed the
	// connection: it never goes back to the pool.
	killed atomic.Bool
}

// awaitAnswer bounds the next read by the first-byte deadline.
func (c *upConn) awaitAnswer(d time.Duration) { c.firstByte = time.Now().Add(d) }

// kill closes the connection at once, whatever is blocked on it.
func (c *upConn) kill() {
	c.killed.Store(true)
	c.raw.Close()
}

func (c *upConn) Read(p []byte) (int, error) {
	deadline := c.firstByte
	if deadline.IsZero() {
		deadline = time.Now().Add(c.idle)
	}
	if err := c.raw.SetReadDeadline(deadline); err != nil {
		return 0, err
	}
	n, err := c.raw.Read(p)
	if n > 0 {
		c.firstByte = time.Time{}
	}
	return n, err
}

func (c *upConn) Write(p []byte) (int, error) {
	if err := c.raw.SetWriteDeadline(time.Now().Add(c.idle)); err != nil {
		return 0, err
	}
	return c.raw.Write(p)
}
