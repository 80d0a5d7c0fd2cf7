// Package connguard keeps hostile clients from stopping or starving the
// server at the connection level: a listener that never gives up on accept
// errors a client can cause (descriptor exhaustion), caps connections
// overall and per client IP with a clean refusal, bounds how long a request
// header and each stall of a body may take, and closes connections that are
// not in a request when the server drains for shutdown.
package connguard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Limits are the connection limits of a Listener. A zero field is no limit.
type Limits struct {
	// MaxConns caps connections served at once; past it, a new connection
	// is answered 503 and closed.
	MaxConns int
	// MaxConnsPerIP caps connections served at once from one client
	// address; past it, a new one is answered 429 and closed.
	MaxConnsPerIP int
	// HeaderTimeout bounds the wait for a request's header: on a new
	// connection from its opening, on a kept-alive one from the header's
	// first byte.
	HeaderTimeout time.Duration
	// BodyIdle bounds each wait for a byte of a request body, and each
	// write of a response.
	BodyIdle time.Duration
}

// Backoff bounds between accept retries after errors a client can cause.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// maxRefusing bounds refusals in flight; past it, excess connections are
// closed without an answer rather than holding more descriptors.
const maxRefusing = 64

// Listener wraps a net.Listener with the Limits. Its Accept returns only
// when it has a connection within the limits, or when the listener is
// closed or fails for a reason no client can cause.
type Listener struct {
	inner  net.Listener
	limits Limits
	log    *slog.Logger

	// spare is a descriptor held in reserve: when accept fails because the
	// process is out of descriptors, it is given up for a moment to take
	// one waiting connection and refuse it, so that a client at the door of
	// a full server is turned away at once instead of waiting in the
	// backlog.
	spareMu sync.Mutex
	spare   *os.File

	mu    sync.Mutex
	conns map[*conn]struct{}
	perIP map[netip.Addr]int
	// draining is read on every read of every connection: no lock.
	draining atomic.Bool
	// drained is closed once the listener is draining and serves no
	// connection any more.
	drained     chan struct{}
	drainedOnce sync.Once

	closed   chan struct{}
	closeOne sync.Once
	// refusing counts refusals in flight; Close waits for them.
	refusing  sync.WaitGroup
	refuseSem chan struct{}
	// newID, if set, gives each refusal its request id.
	newID func() string
}

// New wraps inner. log receives one line per burst of accept failures.
func New(inner net.Listener, limits Limits, log *slog.Logger) *Listener {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l := &Listener{inner: inner, limits: limits, log: log,
		conns: map[*conn]struct{}{}, perIP: map[netip.Addr]int{},
		closed: make(chan struct{}), drained: make(chan struct{}), refuseSem: make(chan struct{}, maxRefusing)}
	l.spare, _ = os.Open(os.DevNull) // without a spare, exhaustion only backs off
	return l
}

// Accept waits for the next connection within the limits.
func (l *Listener) Accept() (net.Conn, error) {
	backoff := time.Duration(0)
	var lastLog time.Time
	for {
		c, err := l.inner.Accept()
		if err != nil {
			select {
			case <-l.closed:
				return nil, net.ErrClosed
			default:
			}
			if !retryable(err) {
				return nil, err
			}
			if time.Since(lastLog) > 10*time.Second {
				l.log.Warn("accept failed; retrying", "err", err)
				lastLog = time.Now()
			}
			if exhausted(err) {
				l.shedOne()
			}
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			select {
			case <-l.closed:
				return nil, net.ErrClosed
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		if wc, ok := l.admit(c); ok {
			return wc, nil
		}
	}
}

// retryable reports whether an accept error is one clients or a passing
// shortage can cause, which must never stop the server.
func retryable(err error) bool {
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return true
	}
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
		syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN, syscall.EPROTO, syscall.EPERM} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func exhausted(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// shedOne gives up the spare descriptor to accept one waiting connection
// and close it, then takes the spare back.
func (l *Listener) shedOne() {
	l.spareMu.Lock()
	defer l.spareMu.Unlock()
	if l.spare == nil {
		l.spare, _ = os.Open(os.DevNull)
		return
	}
	l.spare.Close()
	l.spare = nil
	if tl, ok := l.inner.(*net.TCPListener); ok {
		// Only a connection already waiting: never block here.
		_ = tl.SetDeadline(time.Now().Add(10 * time.Millisecond))
		if c, err := tl.Accept(); err == nil {
			// Answered here, not by a refuser: there is no descriptor to
			// spare for one to wait on. A fresh socket's send buffer takes
			// the short answer without blocking.
			_ = c.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
			_, _ = c.Write(refusalBusy.answer(l.requestID()))
			_ = c.Close()
		}
		_ = tl.SetDeadline(time.Time{})
	}
	select {
	case <-l.closed:
	default:
		l.spare, _ = os.Open(os.DevNull)
	}
}

// admit counts c against the limits and wraps it, or refuses it.
func (l *Listener) admit(c net.Conn) (net.Conn, bool) {
	ip := remoteIP(c)
	l.mu.Lock()
	switch {
	case l.draining.Load():
		l.mu.Unlock()
		l.refuse(c, refusalDraining)
		return nil, false
	case l.limits.MaxConns > 0 && len(l.conns) >= l.limits.MaxConns:
		l.mu.Unlock()
		l.refuse(c, refusalBusy)
		return nil, false
	case l.limits.MaxConnsPerIP > 0 && ip.IsValid() && l.perIP[ip] >= l.limits.MaxConnsPerIP:
		l.mu.Unlock()
		l.refuse(c, refusalPerIP)
		return nil, false
	}
	wc := &conn{Conn: c, l: l, ip: ip, bodyIdle: l.limits.BodyIdle, awaitLine: true}
	l.conns[wc] = struct{}{}
	if ip.IsValid() {
		l.perIP[ip]++
	}
	l.mu.Unlock()
	return wc, true
}

// release forgets a closed connection.
func (l *Listener) release(c *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.conns[c]; !ok {
		return
	}
	delete(l.conns, c)
	if c.ip.IsValid() {
		if l.perIP[c.ip]--; l.perIP[c.ip] <= 0 {
			delete(l.perIP, c.ip)
		}
	}
	l.checkDrainedLocked()
}

func (l *Listener) checkDrainedLocked() {
	if l.draining.Load() && len(l.conns) == 0 {
		l.drainedOnce.Do(func() { close(l.drained) })
	}
}

func remoteIP(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	return netip.Addr{}
}

// Drain stops serving gracefully and waits until it has, or until ctx
// ends: new connections are refused with 503, and every connection not in
// a request is closed (at once, or as soon as its request is answered), so
// that idle keep-alive connections and clients that never finish a header
// hold nothing up, while requests in progress run to their end. It returns
// ctx's error if connections were still being served when ctx ended.
func (l *Listener) Drain(ctx context.Context) error {
	l.mu.Lock()
	l.draining.Store(true)
	conns := make([]*conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.checkDrainedLocked()
	l.mu.Unlock()
	for _, c := range conns {
		c.expireIfIdle()
	}
	select {
	case <-l.drained:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%d connections still in a request: %w", l.Open(), ctx.Err())
	}
}

func (l *Listener) isDraining() bool { return l.draining.Load() }

// Open reports how many connections are being served.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Close stops accepting and waits for refusals in flight.
func (l *Listener) Close() error {
	var err error
	l.closeOne.Do(func() {
		close(l.closed)
		err = l.inner.Close()
		l.refusing.Wait()
		l.spareMu.Lock()
		if l.spare != nil {
			l.spare.Close()
			l.spare = nil
		}
		l.spareMu.Unlock()
	})
	return err
}

// Addr is the inner listener's address.
func (l *Listener) Addr() net.Addr { return l.inner.Addr() }

// descriptorReserve is kept out of the default connection cap for the
// store, its blob files and the process's own needs.
const descriptorReserve = 64

// defaultMaxConnsCeiling bounds the default cap on generous limits.
const defaultMaxConnsCeiling = 10000

// DefaultMaxConns is the default connection cap: half of what the
// descriptor limit leaves after a reserve, since a connection may hold a
// file open besides its socket (an upload's temp file, a download's blob),
// at most 10,000 and at least 1.
func DefaultMaxConns() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return defaultMaxConnsCeiling
	}
	n := (int64(rl.Cur) - descriptorReserve) / 2
	return int(max(min(n, defaultMaxConnsCeiling), 1))
}
