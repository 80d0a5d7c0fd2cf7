package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// Timeouts bound every exchange with the upstream.
type Timeouts struct {
	// Connect bounds dialing a new connection.
	Connect time.Duration
	// FirstByte bounds the wait from sending a request to its answer's
	// headers.
	FirstByte time.Duration
	// Idle bounds any pause while a body streams, either way.
	Idle time.Duration
}

// DefaultTimeouts suit an upstream on a LAN.
var DefaultTimeouts = Timeouts{Connect: 5 * time.Second, FirstByte: 30 * time.Second, Idle: 60 * time.Second}

// transport sends rendered requests to one upstream over pooled
// connections, with retries for idempotent reads and a circuit breaker.
type transport struct {
	hc       *fasthttp.HostClient
	base     string // path prefix of the upstream, without trailing '/'
	host     string
	scheme   string
	timeouts Timeouts
	retries  int
	credName string
	credVal  string
	breaker  *breaker
}

func newTransport(rawURL string, sp *translate.Speaker, token string, to Timeouts) (*transport, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream URL %q: want http(s)://host:port[/base]", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	t := &transport{base: strings.TrimSuffix(u.EscapedPath(), "/"), host: u.Host, scheme: u.Scheme,
		timeouts: to, retries: 2, breaker: newBreaker(5, 5*time.Second)}
	t.credName, t.credVal = sp.Credential(token)
	t.hc = &fasthttp.HostClient{
		Addr:  addr,
		IsTLS: u.Scheme == "https",
		Dial: func(a string) (net.Conn, error) {
			return fasthttp.DialTimeout(a, to.Connect)
		},
		MaxConns:                      256,
		MaxConnWaitTimeout:            to.FirstByte,
		MaxIdleConnDuration:           30 * time.Second,
		ReadTimeout:                   to.FirstByte,
		WriteTimeout:                  to.Idle,
		StreamResponseBody:            true,
		MaxResponseBodySize:           1 << 20,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		NoDefaultUserAgentHeader:      true,
	}
	return t, nil
}

// response is an upstream answer whose body may still be streaming.
type response struct {
	status int
	header func(string) string
	body   io.Reader
	resp   *fasthttp.Response
}

// readAll reads a JSON answer, bounded so a broken upstream cannot exhaust
// memory, and releases the response.
func (r *response) readAll(max int64) ([]byte, error) {
	defer r.close()
	b, err := io.ReadAll(io.LimitReader(r.body, max+1))
	if err != nil {
		return nil, upstream.Wrap(upstream.KindBadGateway, err, "upstream answer broke off")
	}
	if int64(len(b)) > max {
		return nil, upstream.Errorf(upstream.KindBadGateway, "upstream answer is larger than %d bytes", max)
	}
	return b, nil
}

func (r *response) close() {
	if r.resp != nil {
		r.resp.CloseBodyStream() //nolint:errcheck // the answer is done with either way
		fasthttp.ReleaseResponse(r.resp)
		r.resp = nil
	}
}

// do sends req and returns the answer's headers with its body unread.
// Reads (GET) are retried with jittered backoff; nothing with a body is,
// since a body stream cannot be replayed.
func (t *transport) do(ctx context.Context, req *translate.Request) (*response, error) {
	if !t.breaker.allow() {
		return nil, upstream.Errorf(upstream.KindUnavailable, "upstream is failing; not trying again for a moment")
	}
	attempts := 1
	if req.Method == fasthttp.MethodGet && req.Body == nil {
		attempts += t.retries
	}
	var lastErr error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			backoff := time.Duration(50<<uint(i-1)) * time.Millisecond
			backoff = backoff/2 + time.Duration(rand.Int64N(int64(backoff)))
			select {
			case <-ctx.Done():
				return nil, upstream.Wrap(upstream.KindTimeout, ctx.Err(), "request cancelled")
			case <-time.After(backoff):
			}
		}
		resp, err := t.once(ctx, req)
		if err == nil && resp.status < 500 {
			t.breaker.record(true)
			return resp, nil
		}
		if err == nil {
			// A 5xx is the upstream's answer: hand it back, but count it.
			t.breaker.record(false)
			if i == attempts-1 {
				return resp, nil
			}
			resp.close()
			lastErr = upstream.Errorf(upstream.KindBadGateway, "upstream answered %d", resp.status)
			continue
		}
		t.breaker.record(false)
		lastErr = err
	}
	return nil, lastErr
}

func (t *transport) once(ctx context.Context, req *translate.Request) (*response, error) {
	freq := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(freq)
	uri := t.base + req.Path
	if len(req.Query) > 0 {
		uri += "?" + req.Query.Encode()
	}
	freq.SetRequestURI(t.scheme + "://" + t.host + uri)
	freq.Header.SetMethod(req.Method)
	freq.Header.Set(t.credName, t.credVal)
	for _, h := range req.Headers {
		freq.Header.Set(h[0], h[1])
	}
	if req.Body != nil {
		freq.SetBodyStream(&idleReader{r: req.Body}, int(req.BodyLen))
	}
	resp := fasthttp.AcquireResponse()
	deadline := time.Now().Add(t.timeouts.FirstByte)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := t.hc.DoDeadline(freq, resp, deadline); err != nil {
		fasthttp.ReleaseResponse(resp)
		return nil, classify(err)
	}
	// fasthttp streams only bodies over MaxResponseBodySize (or chunked);
	// smaller ones arrive whole.
	var body io.Reader = resp.BodyStream()
	if body == nil {
		body = bytes.NewReader(resp.Body())
	}
	return &response{
		status: resp.StatusCode(),
		header: func(k string) string { return string(resp.Header.Peek(k)) },
		body:   body,
		resp:   resp,
	}, nil
}

// classify maps a transport failure to a canonical kind: a timeout is a
// timeout, anything else a bad gateway.
func classify(err error) error {
	var ne net.Error
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) ||
		errors.Is(err, fasthttp.ErrNoFreeConns) || (errors.As(err, &ne) && ne.Timeout()) {
		return upstream.Wrap(upstream.KindTimeout, err, "upstream did not answer in time")
	}
	return upstream.Wrap(upstream.KindBadGateway, err, "upstream is unreachable")
}

// idleReader hides the body's concrete type so fasthttp streams it
// instead of special-casing it; reads pass straight through.
type idleReader struct{ r io.Reader }

func (i *idleReader) Read(p []byte) (int, error) { return i.r.Read(p) }

// breaker opens after a run of consecutive failures and, after a pause,
// lets one probe through: success closes it, failure opens it again.
type breaker struct {
	threshold int
	pause     time.Duration

	mu       sync.Mutex
	failures int
	openedAt time.Time
	probing  bool
}

func newBreaker(threshold int, pause time.Duration) *breaker {
	return &breaker{threshold: threshold, pause: pause}
}

func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return true
	}
	if time.Since(b.openedAt) < b.pause || b.probing {
		return false
	}
	b.probing = true
	return true
}

func (b *breaker) record(ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if ok {
		b.failures = 0
		return
	}
	b.failures++
	if b.failures >= b.threshold {
		b.openedAt = time.Now()
	}
}
