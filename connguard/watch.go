package connguard

import (
	"errors"
	"syscall"
	"time"
)

// SyscallConn gives the socket under c, for a handler that watches it
// without reading from it (translate's check that a client is still
// there while its request waits on an upstream).
func (c *conn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}

// WakeWatchers ends a wait on the socket that is not a Read of c (a watch
// through SyscallConn): the socket's read deadline is set in the past, and
// c remembers that it is, so that its next Read sets its own deadline
// again.
func (c *conn) WakeWatchers() {
	past := time.Unix(1, 0)
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.Conn.SetReadDeadline(past)
	c.readSet = past
}
