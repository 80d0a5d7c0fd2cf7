package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dragoman-gw/dragoman/telemetry"
	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// Timeouts bound every exchange with the upstream.
type Timeouts struct {
	// Connect bounds dialing a new connection.
	Connect time.Duration
	// FirstByte bounds the wait from sending a request to its answer's
	// first byte.
	FirstByte time.Duration
	// Idle bounds any pause while a body streams, either way.
	Idle time.Duration
}

// DefaultTimeouts suit an upstream on a LAN.
var DefaultTimeouts = Timeouts{Connect: 5 * time.Second, FirstByte: 30 * time.Second, Idle: 60 * time.Second}

// orDefaults fills the timeouts left zero: zero is no setting, not "fail
// at once".
func (to Timeouts) orDefaults() Timeouts {
	if to.Connect <= 0 {
		to.Connect = DefaultTimeouts.Connect
	}
	if to.FirstByte <= 0 {
		to.FirstByte = DefaultTimeouts.FirstByte
	}
	if to.Idle <= 0 {
		to.Idle = DefaultTimeouts.Idle
	}
	return to
}

// transport sends requests to one upstream over pooled connections, with
// retries for idempotent reads and a circuit breaker.
type transport struct {
	pool     *connPool
	base     string // path prefix of the upstream, without trailing '/'
	scheme   string
	host     string // as in the URL: what the Host header says
	addr     string // host:port dialed
	timeouts Timeouts
	retries  int
	credName string
	credVal  string
	breaker  *breaker
	name     string // the upstream's dialect, its label in the metrics
}

func newTransport(rawURL string, sp *translate.Speaker, token string, to Timeouts) (*transport, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" {
		return nil, fmt.Errorf("upstream URL %q: want http(s)://host:port[/base]", rawURL)
	}
	t := &transport{base: strings.TrimSuffix(u.EscapedPath(), "/"), scheme: u.Scheme, host: u.Host,
		addr: hostPort(u), timeouts: to, retries: 2, breaker: newBreaker(5, 5*time.Second), name: sp.Dialect()}
	t.credName, t.credVal = sp.Credential(token)
	var tlsConf *tls.Config
	if u.Scheme == "https" {
		tlsConf = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12,
			ClientSessionCache: tls.NewLRUClientSessionCache(0)}
	}
	t.pool = newConnPool(t.addr, tlsConf, to)
	return t, nil
}

// hostPort is the URL's host with its port made explicit.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return strings.ToLower(u.Host)
	}
	return net.JoinHostPort(strings.ToLower(u.Hostname()), map[string]string{"http": "80", "https": "443"}[u.Scheme])
}

// outgoing is one request as sent: a rendered dialect request below the
// upstream's base, or a link the upstream handed out.
type outgoing struct {
	method  string
	uri     string // path and query, escaped
	headers [][2]string
	body    io.Reader
	bodyLen int64
	// anonymous requests go without the upstream credential: a presigned
	// link needs none, and the credential goes nowhere it is not needed.
	anonymous bool
}

func (t *transport) rendered(req *translate.Request) *outgoing {
	uri := t.base + req.Path
	if len(req.Query) > 0 {
		uri += "?" + req.Query.Encode()
	}
	return &outgoing{method: req.Method, uri: uri, headers: req.Headers, body: req.Body, bodyLen: req.BodyLen}
}

// response is an upstream answer whose body may still be streaming.
type response struct {
	status int
	header func(string) string
	body   io.Reader
	// start is the content offset the body begins at (a range answer);
	// length is the body's length, -1 when the answer did not say.
	start, length int64

	x *exchange // nil once closed
}

// readAll reads a JSON answer, bounded so a broken upstream cannot exhaust
// memory, and releases the response.
func (r *response) readAll(ctx context.Context, max int64) ([]byte, error) {
	defer r.close()
	b, err := io.ReadAll(io.LimitReader(r.body, max+1))
	if err != nil {
		return nil, readError(ctx, err)
	}
	if int64(len(b)) > max {
		return nil, upstream.Errorf(upstream.KindBadGateway, "upstream answer is larger than %d bytes", max)
	}
	return b, nil
}

func (r *response) close() {
	if r.x != nil {
		r.x.Close() //nolint:errcheck // closing an exchange does not fail
		r.x = nil
	}
}

// readError classifies a failure while reading an answer's body.
func readError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctxError(ctx)
	}
	if _, ok := errors.AsType[*upstream.Error](err); ok {
		return err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return upstream.Wrap(upstream.KindTimeout, err, "upstream stalled while answering")
	}
	return upstream.Wrap(upstream.KindBadGateway, err, "upstream answer broke off")
}

// ctxError is the error of a call whose context ended: the caller gave
// up waiting, which is a timeout whether a deadline or a cancel did it.
func ctxError(ctx context.Context) error {
	return upstream.Wrap(upstream.KindTimeout, ctx.Err(), "request cancelled before the upstream answered")
}

// do sends a request and returns the answer's headers with its body
// unread. Reads without a body are retried with jittered backoff when the
// connection failed or the upstream answered 502-504; a timeout is not
// retried (the caller would wait it out again), and nothing with a body
// is, since a body stream cannot be replayed.
func (t *transport) do(ctx context.Context, o *outgoing) (*response, error) {
	if err := ctx.Err(); err != nil {
		return nil, ctxError(ctx)
	}
	attempts := 1
	if o.method == fasthttp.MethodGet && o.body == nil {
		attempts += t.retries
	}
	var lastErr error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			if err := backoff(ctx, i); err != nil {
				return nil, err
			}
		}
		if err := t.breaker.allow(); err != nil {
			return nil, err
		}
		resp, err := t.once(ctx, o)
		switch {
		case err == nil:
			// A server error is the upstream's answer, and is handed back;
			// it counts as a failure all the same (501, "not
			// implemented", says nothing of the upstream's health).
			var failure error
			if resp.status >= 500 && resp.status != 501 {
				failure = upstream.Errorf(statusKind(resp.status), "upstream answered %d", resp.status)
			}
			t.breaker.record(failure)
			if !retryable(resp.status) || i == attempts-1 {
				return resp, nil
			}
			resp.close()
			lastErr = failure
		case errors.As(err, new(*oursError)):
			// The request failed on this side (the caller's context, its
			// body): the upstream is not to blame.
			t.breaker.release()
			return nil, err.(*oursError).err
		default:
			t.breaker.record(err)
			if upstream.IsKind(err, upstream.KindTimeout) {
				return nil, err
			}
			lastErr = err
		}
	}
	return nil, lastErr
}

// backoff waits before the attempt-th retry (1 for the first): a
// jittered 50 ms doubling each time, or until ctx ends.
func backoff(ctx context.Context, attempt int) error {
	d := time.Duration(50<<uint(attempt-1)) * time.Millisecond
	d = d/2 + time.Duration(rand.Int64N(int64(d)))
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctxError(ctx)
	case <-timer.C:
		return nil
	}
}

// statusKind is what a gateway makes of an upstream's server error.
func statusKind(status int) upstream.Kind {
	switch status {
	case 503:
		return upstream.KindUnavailable
	case 504:
		return upstream.KindTimeout
	}
	return upstream.KindBadGateway
}

func retryable(status int) bool { return status >= 502 && status <= 504 }

// oursError marks a failure of this side (the caller's context, its
// body), so that do does not blame the upstream for it.
type oursError struct{ err error }

func (e *oursError) Error() string { return e.err.Error() }
func markOurs(err error) error     { return &oursError{err: err} }

func (t *transport) url(uri string) string { return t.scheme + "://" + t.host + uri }

func (t *transport) once(ctx context.Context, o *outgoing) (*response, error) {
	freq := fasthttp.AcquireRequest()
	freq.SetRequestURI(t.url(o.uri))
	// The path goes as the dialect rendered it: "normalizing" it could
	// change what it names.
	freq.URI().DisablePathNormalizing = true
	freq.Header.SetMethod(o.method)
	if !o.anonymous {
		freq.Header.Set(t.credName, t.credVal)
	}
	for _, h := range o.headers {
		freq.Header.Set(h[0], h[1])
	}
	if id := telemetry.RequestID(ctx); id != "" {
		freq.Header.Set(telemetry.RequestIDHeader, id)
	}
	var body *bodyTracker
	if o.body != nil {
		body = &bodyTracker{r: o.body, ctx: ctx}
		freq.SetBodyStream(body, int(o.bodyLen))
	}
	start := time.Now()
	x, err := t.roundTrip(ctx, freq, nil)
	fasthttp.ReleaseRequest(freq)
	if err != nil {
		telemetry.ObserveUpstream(ctx, t.name, 0, time.Since(start))
		if body != nil && body.err != nil {
			// The body failed: its error says why, whatever the
			// connection made of it.
			return nil, markOurs(body.err)
		}
		if ctx.Err() != nil {
			return nil, markOurs(ctxError(ctx))
		}
		return nil, classify(err)
	}
	h := x.h
	telemetry.ObserveUpstream(ctx, t.name, h.StatusCode(), time.Since(start))
	r := &response{status: h.StatusCode(), x: x, body: x, length: int64(h.ContentLength())}
	// The headers are copied: an error's message may be wanted after the
	// body is read and the exchange released, and header names are
	// matched without regard to case, as HTTP has them.
	hdr := map[string]string{}
	for k, v := range h.All() {
		hdr[textproto.CanonicalMIMEHeaderKey(string(k))] = string(v)
	}
	r.header = func(k string) string { return hdr[textproto.CanonicalMIMEHeaderKey(k)] }
	return r, nil
}

// classify maps a transport failure to a canonical kind: a timeout is a
// timeout, anything else a bad gateway.
func classify(err error) error {
	var ne net.Error
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, errNoFreeConns) || (errors.As(err, &ne) && ne.Timeout()) {
		return upstream.Wrap(upstream.KindTimeout, err, "upstream did not answer in time")
	}
	return upstream.Wrap(upstream.KindBadGateway, err, "upstream is unreachable")
}

// bodyTracker hands a request body to fasthttp, failing it as soon as the
// caller's context ends, and keeps the first error it returned so that the
// exchange's failure can be told by its cause. It also hides the body's
// concrete type, so fasthttp streams it instead of special-casing it.
type bodyTracker struct {
	r   io.Reader
	ctx context.Context
	err error
}

func (b *bodyTracker) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.ctx.Err() != nil {
		b.err = ctxError(b.ctx)
		return 0, b.err
	}
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = contentError(err)
		return n, b.err
	}
	return n, err
}

// WriteTo hands the body over in pieces of up to copyBuffer bytes:
// fasthttp's own copy reads 4 KiB at a time, and for a chunked body
// flushes each, which made relaying an upload mostly system calls.
func (b *bodyTracker) WriteTo(w io.Writer) (int64, error) { return relay(w, b) }

// SupportsBodyWriteTo tells fasthttp that WriteTo writes what Read would
// read, so it may frame a chunked body from it.
func (b *bodyTracker) SupportsBodyWriteTo() bool { return true }

// contentError gives a failure of the content a kind: its own if it has
// one, else invalid (the bytes could not be read), as the bundled store
// does.
func contentError(err error) error {
	if _, ok := errors.AsType[*upstream.Error](err); ok {
		return err
	}
	return upstream.Wrap(upstream.KindInvalid, err, "the content could not be read")
}
