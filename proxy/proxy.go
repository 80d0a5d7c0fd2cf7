// Package proxy forwards requests the gateway does not model to an upstream
// that speaks the same dialect: a reverse proxy that swaps the client's
// gateway key for the upstream's credential and streams both ways.
package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/dragoman-gw/dragoman/telemetry"
	"github.com/dragoman-gw/dragoman/upstream"
)

// Options configure a Proxy.
type Options struct {
	// URL is the upstream's base: http(s)://host:port[/base].
	URL string
	// Credential is the header the dialect carries keys in; the client's
	// value is removed and CredentialValue (the upstream token, with its
	// scheme) sent instead.
	Credential      string
	CredentialValue string
	ConnectTimeout  time.Duration
	// FirstByteTimeout bounds the wait for the upstream's answer headers.
	FirstByteTimeout time.Duration
	// Name is the upstream's label in the metrics (its dialect).
	Name string
	// Client, when set, is the upstream's client shared with the store
	// (remote.Store.HostClient): its connection and idle timeouts bound
	// each read and write, never the whole transfer. Without one the proxy
	// makes its own, whose timeouts bound each direction whole.
	Client *fasthttp.HostClient
}

// Proxy forwards requests to one upstream.
type Proxy struct {
	opts   Options
	hc     *fasthttp.HostClient
	scheme string
	host   string
	base   string
}

// New builds a proxy; it connects lazily.
func New(opts Options) (*Proxy, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("upstream URL %q: want http(s)://host:port[/base]", opts.URL)
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	if opts.FirstByteTimeout == 0 {
		opts.FirstByteTimeout = 30 * time.Second
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), map[string]string{"http": "80", "https": "443"}[u.Scheme])
	}
	p := &Proxy{opts: opts, scheme: u.Scheme, host: u.Host, base: strings.TrimSuffix(u.EscapedPath(), "/")}
	if opts.Client != nil {
		p.hc = opts.Client
		return p, nil
	}
	p.hc = &fasthttp.HostClient{
		Addr:  addr,
		IsTLS: u.Scheme == "https",
		Dial: func(a string) (net.Conn, error) {
			return fasthttp.DialTimeout(a, opts.ConnectTimeout)
		},
		MaxConns:                      1024,
		MaxConnWaitTimeout:            opts.FirstByteTimeout,
		MaxIdleConnDuration:           30 * time.Second,
		ReadTimeout:                   opts.FirstByteTimeout,
		WriteTimeout:                  opts.FirstByteTimeout,
		MaxIdemponentCallAttempts:     1,
		StreamResponseBody:            true,
		MaxResponseBodySize:           1 << 20,
		DisableHeaderNamesNormalizing: true,
		DisablePathNormalizing:        true,
		NoDefaultUserAgentHeader:      true,
	}
	return p, nil
}

// hopByHop are the headers of one connection, never forwarded (RFC 9110
// 7.6.1), plus any a Connection header names.
var hopByHop = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// Forward sends the request on and streams the answer back. A failure to
// reach the upstream is returned as a canonical error for the caller to
// render in the client's dialect; the upstream's own answers, errors
// included, pass back unchanged.
func (p *Proxy) Forward(c *fiber.Ctx) error {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	c.Request().Header.CopyTo(&req.Header)
	stripHopByHop(&req.Header)
	req.Header.Del(p.opts.Credential)
	req.Header.Set(p.opts.Credential, p.opts.CredentialValue)
	req.SetRequestURI(p.scheme + "://" + p.host + p.base + string(c.Request().URI().RequestURI()))
	req.Header.SetHost(p.host)
	prior := string(c.Request().Header.Peek("X-Forwarded-For"))
	client := c.Context().RemoteIP().String()
	if prior != "" {
		client = prior + ", " + client
	}
	req.Header.Set("X-Forwarded-For", client)
	req.Header.Set("X-Forwarded-Proto", c.Protocol())
	req.Header.Set("X-Forwarded-Host", string(c.Request().Host()))
	if body := c.Context().RequestBodyStream(); body != nil {
		req.SetBodyStream(body, c.Request().Header.ContentLength())
	} else {
		req.SetBody(c.Request().Body())
	}

	if id := telemetry.RequestID(c.Context()); id != "" {
		req.Header.Set(telemetry.RequestIDHeader, id)
	}

	resp := fasthttp.AcquireResponse()
	start := time.Now()
	// No deadline on the whole exchange: the client's timeouts bound the
	// wait for the answer and each stall, so an upload or download that
	// keeps moving is never cut off.
	if err := p.hc.Do(req, resp); err != nil {
		fasthttp.ReleaseResponse(resp)
		telemetry.ObserveUpstream(c.Context(), p.opts.Name, 0, time.Since(start))
		return classify(err)
	}
	telemetry.ObserveUpstream(c.Context(), p.opts.Name, resp.StatusCode(), time.Since(start))
	resp.Header.CopyTo(&c.Response().Header)
	stripHopByHop(&c.Response().Header)
	c.Status(resp.StatusCode())
	if s := resp.BodyStream(); s != nil {
		c.Context().SetBodyStream(&released{r: s, resp: resp}, resp.Header.ContentLength())
		return nil
	}
	c.Response().SetBodyRaw(bytes.Clone(resp.Body()))
	fasthttp.ReleaseResponse(resp)
	return nil
}

// released returns the upstream response to its pool once the client has
// read all of it.
type released struct {
	r    io.Reader
	resp *fasthttp.Response
}

func (r *released) Read(p []byte) (int, error) { return r.r.Read(p) }

func (r *released) Close() error {
	err := r.resp.CloseBodyStream()
	fasthttp.ReleaseResponse(r.resp)
	return err
}

type headers interface {
	Peek(key string) []byte
	Del(key string)
}

func stripHopByHop(h headers) {
	for _, name := range strings.Split(string(h.Peek("Connection")), ",") {
		if name = strings.TrimSpace(name); name != "" {
			h.Del(name)
		}
	}
	for _, name := range hopByHop {
		h.Del(name)
	}
}

func classify(err error) error {
	var ne net.Error
	if errors.Is(err, fasthttp.ErrTimeout) || errors.Is(err, fasthttp.ErrDialTimeout) || (errors.As(err, &ne) && ne.Timeout()) {
		return upstream.Wrap(upstream.KindTimeout, err, "upstream did not answer in time")
	}
	return upstream.Wrap(upstream.KindBadGateway, err, "upstream is unreachable")
}
