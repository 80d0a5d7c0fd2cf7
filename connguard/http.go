package connguard

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/valyala/fasthttp"
)

// Failure is what the server answers when it cannot read a request: a
// status and a short fixed text. Neither ever carries request bytes
// (fasthttp's own messages quote the raw buffer, credentials included).
type Failure struct {
	Status int
	Text   string
}

// Classify maps an error fasthttp met reading a request to its answer.
func Classify(err error) Failure {
	var small *fasthttp.ErrSmallBuffer
	var ne net.Error
	switch {
	case errors.As(err, &small):
		return Failure{fasthttp.StatusRequestHeaderFieldsTooLarge, "request header too large"}
	case errors.As(err, &ne) && ne.Timeout():
		return Failure{fasthttp.StatusRequestTimeout, "request not received in time"}
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		return Failure{fasthttp.StatusRequestEntityTooLarge, "request body too large"}
	default:
		return Failure{fasthttp.StatusBadRequest, "malformed request"}
	}
}

// CheckFraming refuses what fasthttp lets through but RFC 9112 section 6.1
// tells a proxy to refuse: a request with both Content-Length and
// Transfer-Encoding, whose length two parsers can read two ways. fasthttp
// keeps only Transfer-Encoding after parsing, so the raw header is read.
func CheckFraming(h *fasthttp.RequestHeader) *Failure {
	raw := h.RawHeaders()
	if len(raw) == 0 {
		return nil
	}
	var cl, te bool
	for line := range bytes.SplitSeq(raw, []byte("\n")) {
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			cl = true
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			te = true
		}
	}
	if cl && te {
		return &Failure{fasthttp.StatusBadRequest, "a request must not carry both Content-Length and Transfer-Encoding"}
	}
	return nil
}

// serverLogger routes fasthttp's own complaints to the gateway's log.
// With the server's SecureErrorLogMessage set they quote no request bytes.
type serverLogger struct{ log *slog.Logger }

func (l serverLogger) Printf(format string, args ...any) {
	l.log.Warn("http server: " + fmt.Sprintf(format, args...))
}

// Guard sets srv up to serve l's connections: the header timeout (as
// fasthttp's ReadTimeout, which HeaderReceived lifts for the body), the
// ConnState hook that tells a conn when its request is answered, no
// request bytes in fasthttp's error messages and logs, and answer for
// every request fasthttp cannot read (with the path of its request line
// when it was seen, else "").
func (l *Listener) Guard(srv *fasthttp.Server, answer func(ctx *fasthttp.RequestCtx, path string, f Failure)) {
	srv.ReadTimeout = l.limits.HeaderTimeout
	srv.HeaderReceived = HeaderReceived
	srv.ConnState = l.ConnState
	srv.SecureErrorLogMessage = true
	srv.Logger = serverLogger{l.log}
	srv.ErrorHandler = func(ctx *fasthttp.RequestCtx, err error) {
		answer(ctx, RequestPath(ctx.Conn()), Classify(err))
	}
}
