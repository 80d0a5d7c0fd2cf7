package connguard

import (
	"io"
	"net"
	"strconv"
	"time"
)

// Refusals are whole fixed HTTP answers written to a connection the
// listener will not serve. They carry nothing of what the client sent;
// each carries a request id of its own (see Listener.SetRequestIDs).
var (
	refusalBusy     = fixedAnswer(503, "Service Unavailable", "the server has too many connections; try again shortly", true)
	refusalPerIP    = fixedAnswer(429, "Too Many Requests", "too many connections from your address", true)
	refusalDraining = fixedAnswer(503, "Service Unavailable", "the server is shutting down", true)
)

// refusal is a complete HTTP/1.1 answer that closes the connection, cut
// where its X-Request-Id header goes.
type refusal struct{ head, tail []byte }

// fixedAnswer renders a refusal.
func fixedAnswer(status int, reason, text string, retry bool) refusal {
	body := text + "\n"
	s := "HTTP/1.1 " + strconv.Itoa(status) + " " + reason + "\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n"
	if retry {
		s += "Retry-After: 1\r\n"
	}
	return refusal{head: []byte(s), tail: []byte("Connection: close\r\n\r\n" + body)}
}

// answer is the refusal with the request id id (none when id is "").
func (r refusal) answer(id string) []byte {
	out := make([]byte, 0, len(r.head)+len(r.tail)+len(id)+len("X-Request-Id: \r\n"))
	out = append(out, r.head...)
	if id != "" {
		out = append(append(append(out, "X-Request-Id: "...), id...), "\r\n"...)
	}
	return append(out, r.tail...)
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
func (l *Listener) refuse(c net.Conn, r refusal) {
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
		if _, err := c.Write(r.answer(l.requestID())); err != nil {
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		_, _ = io.CopyN(io.Discard, c, refuseDrain)
	}()
}

// SetRequestIDs makes next the source of the request ids refusals carry
// (the telemetry's, so that they are unique with every other answer's).
// It must be called before the listener accepts.
func (l *Listener) SetRequestIDs(next func() string) { l.newID = next }

func (l *Listener) requestID() string {
	if l.newID == nil {
		return ""
	}
	return l.newID()
}
