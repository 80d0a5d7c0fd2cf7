package connguard

import (
	"io"
	"net"
	"strconv"
	"time"
)

// Refusals are whole fixed HTTP answers written to a connection the
// listener will not serve. They carry nothing of what the client sent.
var (
	refusalBusy     = fixedAnswer(503, "Service Unavailable", "the server has too many connections; try again shortly", true)
	refusalPerIP    = fixedAnswer(429, "Too Many Requests", "too many connections from your address", true)
	refusalDraining = fixedAnswer(503, "Service Unavailable", "the server is shutting down", true)
)

// fixedAnswer renders a complete HTTP/1.1 answer that closes the connection.
func fixedAnswer(status int, reason, text string, retry bool) []byte {
	body := text + "\n"
	s := "HTTP/1.1 " + strconv.Itoa(status) + " " + reason + "\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
	if retry {
		s += "Retry-After: 1\r\n"
	}
	return []byte(s + "Connection: close\r\n\r\n" + body)
}

// Bounds of one refusal: how long its answer may take to write, and how
// much of what the client already sent is read and dropped first so that
// closing does not reset the connection before the client reads the answer.
const (
	refuseTime  = 500 * time.Millisecond
	refuseDrain = 64 << 10
)

// refuse answers c with msg and closes it, in the background and within
// refuseTime; past maxRefusing refusals at once, c is closed unanswered.
func (l *Listener) refuse(c net.Conn, msg []byte) {
	select {
	case l.refuseSem <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	l.refusing.Add(1)
	go func() {
		defer l.refusing.Done()
		defer func() { <-l.refuseSem }()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(refuseTime))
		if _, err := c.Write(msg); err != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		_, _ = io.CopyN(io.Discard, c, refuseDrain)
	}()
}
