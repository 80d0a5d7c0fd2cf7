package telemetry

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"sync/atomic"
)

// RequestIDHeader carries a request's id both ways: in from a client or a
// proxy before us, out to the client and to every upstream call.
const RequestIDHeader = "X-Request-Id"

// maxRequestID bounds an incoming id; a longer one is replaced.
const maxRequestID = 128

// ValidRequestID reports whether an incoming id is kept as it is: 1-128
// characters of [A-Za-z0-9._:-], safe in a header, a log line and JSON.
func ValidRequestID(id []byte) bool {
	if len(id) == 0 || len(id) > maxRequestID {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '_', c == ':', c == '-':
		default:
			return false
		}
	}
	return true
}

// idSource makes request ids: a random prefix chosen at start, then a
// counter, so ids are unique across restarts and cost no system call.
type idSource struct {
	prefix string
	n      atomic.Uint64
}

func newIDSource() *idSource {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return &idSource{prefix: hex.EncodeToString(b[:]) + "-"}
}

// next returns a new id, appended to buf.
func (s *idSource) next(buf []byte) []byte {
	buf = append(buf, s.prefix...)
	return strconv.AppendUint(buf, s.n.Add(1), 36)
}

// NewRequestID returns a new request id from the same source as every
// request's: for answers written outside any request (connguard's
// refusals of a connection).
func (t *Telemetry) NewRequestID() string { return string(t.ids.next(nil)) }
