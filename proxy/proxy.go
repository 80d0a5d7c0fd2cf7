// Package proxy forwards requests the gateway does not model to an upstream
// that speaks the same dialect: a reverse proxy that swaps the client's
// gateway key for the upstream's credential and streams both ways. It
// sends through the upstream's own client (the remote store's), so an
// upstream has one pool, one set of timeouts, one breaker and one place
// that retries.
package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Upstream sends one request on; remote.Store.Pass is one. It sets the
// URI below its base, the Host, its credential and the request id, and
// returns a canonical error only when no answer came.
type Upstream interface {
	Pass(ctx context.Context, req *fasthttp.Request, resp *fasthttp.Response) error
}

// Options configure a Proxy.
type Options struct {
	// Upstream is where requests go.
	Upstream Upstream
	// Credential is the header the dialect carries keys in: the client's
	// gateway key is never forwarded.
	Credential string
}

// Proxy forwards requests to one upstream.
type Proxy struct {
	up         Upstream
	credential string
}

// New builds a proxy.
func New(opts Options) (*Proxy, error) {
	if opts.Upstream == nil {
		return nil, errors.New("a pass-through needs an upstream")
	}
	return &Proxy{up: opts.Upstream, credential: opts.Credential}, nil
}

// hopByHop are the headers of one connection, never forwarded (RFC 9110
// 7.6.1), plus any a Connection header names.
var hopByHop = [...]string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// Forward sends the request on and streams the answer back. A failure to
// reach the upstream is returned as a canonical error for the caller to
// render in the client's dialect; the upstream's own answers, errors
// included, pass back unchanged. ctx is the call's: when it ends (the
// client went away, shutdown's cut-off) the upstream call ends with it.
func (p *Proxy) Forward(ctx context.Context, c *fiber.Ctx) error {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	c.Request().Header.CopyTo(&req.Header)
	stripHopByHop(&req.Header)
	req.Header.Del(p.credential)
	setForwarded(c, &req.Header)
	if body := c.Context().RequestBodyStream(); body != nil {
		req.SetBodyStream(body, c.Request().Header.ContentLength())
	} else if b := c.Request().Body(); len(b) > 0 {
		req.SetBodyRaw(b) // the client's request outlives this one
	}

	resp := fasthttp.AcquireResponse()
	if err := p.up.Pass(ctx, req, resp); err != nil {
		fasthttp.ReleaseResponse(resp)
		return err
	}
	resp.Header.CopyTo(&c.Response().Header)
	stripHopByHop(&c.Response().Header)
	c.Status(resp.StatusCode())
	if s := resp.BodyStream(); s != nil {
		c.Context().SetBodyStream(&released{r: s, resp: resp}, resp.Header.ContentLength())
		return nil
	}
	// SetBody copies into the answer's own pooled buffer.
	c.Response().SetBody(resp.Body())
	fasthttp.ReleaseResponse(resp)
	return nil
}

// setForwarded sets X-Forwarded-For (the client's address after any a
// proxy before us gave), -Proto and -Host, built in a buffer on the stack.
func setForwarded(c *fiber.Ctx, h *fasthttp.RequestHeader) {
	var buf [256]byte
	xff := buf[:0]
	if prior := c.Request().Header.Peek("X-Forwarded-For"); len(prior) > 0 {
		xff = append(append(xff, prior...), ", "...)
	}
	xff = appendIP(xff, c.Context().RemoteIP())
	h.SetBytesV("X-Forwarded-For", xff)
	h.Set("X-Forwarded-Proto", protocol(c))
	h.SetBytesV("X-Forwarded-Host", c.Request().Host())
}

// protocol is c.Protocol without its cost when the request carries none
// of the headers it would believe from a trusted proxy: a walk over every
// header, and the peer's address made a string to look it up.
func protocol(c *fiber.Ctx) string {
	if c.Context().IsTLS() {
		return "https"
	}
	h := &c.Request().Header
	for _, name := range [...]string{fiber.HeaderXForwardedProto, fiber.HeaderXForwardedProtocol,
		fiber.HeaderXForwardedSsl, fiber.HeaderXUrlScheme} {
		if len(h.Peek(name)) > 0 {
			return c.Protocol()
		}
	}
	return "http"
}

// appendIP appends ip as net.IP.String would write it.
func appendIP(dst []byte, ip net.IP) []byte {
	if ip4 := ip.To4(); ip4 != nil {
		return fasthttp.AppendIPv4(dst, ip4)
	}
	return append(dst, ip.String()...)
}

// released returns the upstream response to its pool once the client has
// read all of it.
type released struct {
	r    io.Reader
	resp *fasthttp.Response
}

func (r *released) Read(p []byte) (int, error) { return r.r.Read(p) }

// WriteTo keeps the upstream body's own WriteTo reachable: fasthttp uses
// it to send the answer, and the remote store's splices a large body from
// socket to socket instead of copying it through 32 KiB buffers.
func (r *released) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := r.r.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	return io.Copy(w, readerOnly{r.r})
}

// readerOnly hides a reader's WriteTo, so io.Copy does not call it back.
type readerOnly struct{ io.Reader }

func (r *released) Close() error {
	err := r.resp.CloseBodyStream()
	fasthttp.ReleaseResponse(r.resp)
	return err
}

type headers interface {
	Peek(key string) []byte
	Del(key string)
	DelBytes(key []byte)
}

func stripHopByHop(h headers) {
	// The names a Connection header lists, copied out first (deleting
	// headers moves what Peek pointed into); most messages have none.
	var list []byte
	if v := h.Peek("Connection"); len(v) > 0 {
		list = bytes.Clone(v)
	}
	for len(list) > 0 {
		name := list
		if i := bytes.IndexByte(list, ','); i >= 0 {
			name, list = list[:i], list[i+1:]
		} else {
			list = nil
		}
		if name = bytes.TrimSpace(name); len(name) > 0 {
			h.DelBytes(name)
		}
	}
	for _, name := range hopByHop {
		h.Del(name)
	}
}
