package translate

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// ParsePublicURL checks the gateway's public origin (--public-url): an
// absolute http or https URL with a host and perhaps a path prefix, no
// query, fragment or credentials. It returns it without a trailing slash.
func ParsePublicURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("public URL %q: %w", raw, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("public URL %q: the scheme must be http or https", raw)
	case u.Host == "" || !validHost(u.Host):
		return "", fmt.Errorf("public URL %q: want a host", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return "", fmt.Errorf("public URL %q: want no credentials, query or fragment", raw)
	}
	return strings.TrimSuffix(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

// WithPublicURL returns a copy of s whose links, and every other absolute
// URL the gateway writes, start with publicURL (already checked by
// ParsePublicURL) instead of the origin the request came to.
func (s *Signer) WithPublicURL(publicURL string) *Signer {
	c := *s
	c.publicURL = publicURL
	return &c
}

// originOf is the scheme and host absolute URLs in an answer start with:
// the public URL when one is set; else the scheme and host the request
// came to. The X-Forwarded-Proto and -Host a proxy sets are taken only
// from the trusted proxies fiber was configured with (c.Protocol and
// c.Hostname read them only then), and whatever they say, the scheme is
// http or https and the host a plain host[:port], or the server's own
// address stands in.
func (g *Gateway) originOf(c *fiber.Ctx) string {
	if s := g.opts.Signer; s != nil && s.publicURL != "" {
		return s.publicURL
	}
	if !hasForwardedOrigin(&c.Request().Header) {
		// What c.Protocol and c.Hostname would say, without their cost per
		// request (a walk over every header, the peer's address made a
		// string to look it up among the trusted proxies): without the
		// headers they read, they answer the connection's scheme and the
		// Host. The last origin is kept, and reused while it matches.
		scheme := "http"
		if c.Context().IsTLS() {
			scheme = "https"
		}
		host := c.Request().URI().Host()
		if o := g.lastOrigin.Load(); o != nil && o.scheme == scheme && o.host == string(host) {
			return o.origin
		}
		h := string(host)
		if !validHost(h) {
			return scheme + "://" + c.Context().LocalAddr().String()
		}
		o := &cachedOrigin{scheme: scheme, host: h, origin: scheme + "://" + h}
		g.lastOrigin.Store(o)
		return o.origin
	}
	scheme := "http"
	if c.Context().IsTLS() || strings.EqualFold(strings.TrimSpace(c.Protocol()), "https") {
		scheme = "https"
	}
	host := strings.TrimSpace(c.Hostname())
	if !validHost(host) {
		host = c.Context().LocalAddr().String()
	}
	return scheme + "://" + host
}

// cachedOrigin is the origin of the last request that named no forwarded
// one.
type cachedOrigin struct{ scheme, host, origin string }

// hasForwardedOrigin reports whether the request carries a header that
// c.Protocol or c.Hostname read from a trusted proxy.
func hasForwardedOrigin(h *fasthttp.RequestHeader) bool {
	for _, name := range [...]string{fiber.HeaderXForwardedProto, fiber.HeaderXForwardedProtocol,
		fiber.HeaderXForwardedSsl, fiber.HeaderXUrlScheme, fiber.HeaderXForwardedHost} {
		if len(h.Peek(name)) > 0 {
			return true
		}
	}
	return false
}

// validHost accepts a DNS name or IP literal with an optional port: the
// characters of a reg-name, an IPv6 literal's brackets and colons, at most
// 255 bytes. Nothing that could end the authority (/ ? # @ \ space).
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	for i := 0; i < len(h); i++ {
		ch := h[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= 'A' && ch <= 'Z', ch >= '0' && ch <= '9':
		case ch == '.' || ch == '-' || ch == '_' || ch == ':' || ch == '[' || ch == ']':
		default:
			return false
		}
	}
	return true
}
