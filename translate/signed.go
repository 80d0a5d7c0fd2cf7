package translate

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman/upstream"
)

// SignedAuthenticator checks a signed request: mac must be the HMAC the
// holder of the key named name made over message. An Authenticator that
// is also a SignedAuthenticator enables the dialects' credential.hmac.
type SignedAuthenticator interface {
	AuthenticateHMAC(name string, message, mac []byte) (Caller, bool)
}

// signedCredential is a compiled credential.hmac: its header and the
// message template split into literal text and placeholders.
type signedCredential struct {
	header string
	parts  []signedPart
}

type signedPart struct {
	lit string
	// what is "method" or "path" for a placeholder, "" for literal text.
	what string
}

// compileSignedCredential checks credential.hmac once, at start.
func compileSignedCredential(h *HMACCredential) (*signedCredential, error) {
	if h.Header == "" {
		return nil, errors.New("header is required")
	}
	if h.Message == "" {
		return nil, errors.New("message is required: the signed text, with {method} and {path}")
	}
	sc := &signedCredential{header: h.Header}
	rest := h.Message
	for rest != "" {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			sc.parts = append(sc.parts, signedPart{lit: rest})
			break
		}
		if i > 0 {
			sc.parts = append(sc.parts, signedPart{lit: rest[:i]})
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil, errors.New("message: unclosed {")
		}
		switch what := rest[i+1 : i+j]; what {
		case "method", "path":
			sc.parts = append(sc.parts, signedPart{what: what})
		default:
			return nil, errors.New("message: unknown placeholder {" + what + "}: want {method} or {path}")
		}
		rest = rest[i+j+1:]
	}
	return sc, nil
}

// message is the text the client signed for this request.
func (sc *signedCredential) message(c *fiber.Ctx, mount string) []byte {
	// The path as the client sent it, not as the router cleaned it:
	// that is what it signed.
	path := string(c.Request().URI().PathOriginal())
	if rest, ok := strings.CutPrefix(path, mount+"/"); ok {
		path = rest
	} else {
		path = strings.TrimPrefix(strings.TrimPrefix(c.Path(), mount), "/")
	}
	var b []byte
	for _, p := range sc.parts {
		switch p.what {
		case "method":
			b = append(b, c.Method()...)
		case "path":
			b = append(b, path...)
		default:
			b = append(b, p.lit...)
		}
	}
	return b
}

// parseSignedHeader reads base64(<key name> ":" <32-byte MAC>). The MAC
// is raw bytes and may hold ':' itself, so the name is what comes before
// the last 33 bytes, not before the first colon.
func parseSignedHeader(v string) (name string, mac []byte, ok bool) {
	v = strings.TrimSpace(v)
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(v); err != nil {
			return "", nil, false
		}
	}
	cut := len(raw) - sha256.Size - 1
	if cut < 1 || raw[cut] != ':' {
		return "", nil, false
	}
	return string(raw[:cut]), raw[cut+1:], true
}

// authenticateSigned checks a signed credential header.
func (g *Gateway) authenticateSigned(c *fiber.Ctx, d *compiledDialect, v string) (Caller, error) {
	sa, ok := g.opts.Auth.(SignedAuthenticator)
	if !ok {
		return nil, upstream.Errorf(upstream.KindUnauthorized, "signed credentials (%s) are not enabled", d.signed.header)
	}
	name, mac, ok := parseSignedHeader(v)
	if !ok {
		return nil, upstream.Errorf(upstream.KindUnauthorized, "%s must be base64 of <key name>:<HMAC-SHA256>", d.signed.header)
	}
	caller, ok := sa.AuthenticateHMAC(name, d.signed.message(c, d.spec.Mount), mac)
	if !ok {
		return nil, upstream.Errorf(upstream.KindUnauthorized, "invalid credentials")
	}
	return caller, nil
}
