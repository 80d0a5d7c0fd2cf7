package translate

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
)

// watchPeer returns a context that ends when the client closes its
// connection while the store works on a request without a body (a body's
// own reads fail when the client goes, and end the work that way). fasthttp
// gives a handler no such signal, so a goroutine waits for the connection
// to become readable and peeks: end of stream or a reset means the client
// is gone; bytes (a pipelined next request) say nothing more, and are left
// where they are. stop ends the watch; it must be called before the
// handler returns, and leaves the context as it is, since a streamed
// answer still reads it.
func watchPeer(parent requestContext, c *fiber.Ctx) (context.Context, func()) {
	conn := c.Context().Conn()
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return parent, func() {}
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return parent, func() {}
	}
	w := &peerContext{requestContext: parent, gone: make(chan struct{})}
	done := make(chan struct{})
	var stopping atomic.Bool
	go func() {
		defer close(done)
		var buf [1]byte
		err := raw.Read(func(fd uintptr) bool {
			if stopping.Load() {
				return true
			}
			n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			switch {
			case errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR):
				return false // nothing yet: wait until readable
			case err != nil || n == 0:
				close(w.gone) // reset, or end of stream
				stopping.Store(true)
			}
			return true
		})
		if err != nil && !stopping.Load() {
			close(w.gone) // the connection was closed under the request
		}
	}()
	return w, func() {
		stopping.Store(true)
		// A read deadline in the past wakes the wait. A connection that
		// keeps its own deadlines (connguard's) is asked to, so that it
		// sets its own again; on a plain one, fasthttp sets its own before
		// it reads the next request.
		if wk, ok := conn.(interface{ WakeWatchers() }); ok {
			wk.WakeWatchers()
			<-done
			return
		}
		_ = conn.SetReadDeadline(time.Unix(1, 0))
		<-done
		_ = conn.SetReadDeadline(time.Time{})
	}
}

// peerContext is a request's store context that ends when its client goes.
type peerContext struct {
	requestContext
	gone chan struct{}
}

func (p *peerContext) Done() <-chan struct{} { return p.gone }

func (p *peerContext) Err() error {
	select {
	case <-p.gone:
		return context.Canceled
	default:
		return nil
	}
}
