package translate

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman/upstream"
)

// LinkPath is where presigned download links are served. It sits outside
// every dialect's mount: a link is the gateway's own URL, not a dialect's.
const LinkPath = "/_dragoman/files/"

// Signer makes and checks presigned download links: the attachment id and
// an expiry, authenticated with HMAC-SHA256 under a secret the gateway keeps
// in its data directory. A link needs no credential and stops working at its
// expiry or when its attachment is deleted.
type Signer struct {
	secret []byte
	ttl    time.Duration
	now    func() time.Time
	// publicURL, if set, is the origin of every absolute URL the gateway
	// writes (see WithPublicURL).
	publicURL string
}

// NewSigner returns a signer whose links live for ttl.
func NewSigner(secret []byte, ttl time.Duration) *Signer {
	return &Signer{secret: secret, ttl: ttl, now: time.Now}
}

// linkMACBytes is the truncated MAC length: 128 bits is far beyond what an
// online forger could try.
const linkMACBytes = 16

// Token signs an id (16 hex characters) until now + ttl.
func (s *Signer) Token(id string) (string, error) {
	raw, err := hex.DecodeString(id)
	if err != nil || len(raw) != 8 {
		return "", upstream.Errorf(upstream.KindUnsupported, "this store's ids cannot be presigned")
	}
	msg := make([]byte, 16, 16+linkMACBytes)
	copy(msg, raw)
	binary.BigEndian.PutUint64(msg[8:], uint64(s.now().Add(s.ttl).Unix()))
	return base64.RawURLEncoding.EncodeToString(append(msg, s.mac(msg)...)), nil
}

// Verify returns the id a token signs, if the token is authentic and has
// not expired.
func (s *Signer) Verify(token string) (string, bool) {
	// Strict: the last character's spare bits must be zero, so no two
	// spellings of one token exist.
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) != 16+linkMACBytes {
		return "", false
	}
	msg, mac := raw[:16], raw[16:]
	if !hmac.Equal(mac, s.mac(msg)) {
		return "", false
	}
	if int64(binary.BigEndian.Uint64(msg[8:])) < s.now().Unix() {
		return "", false
	}
	return hex.EncodeToString(msg[:8]), true
}

func (s *Signer) mac(msg []byte) []byte {
	h := hmac.New(sha256.New, s.secret)
	h.Write(msg)
	return h.Sum(nil)[:linkMACBytes]
}

// serveLink streams the attachment a valid link names. Failures are plain
// statuses: a link is not any dialect's, and its holder has no credential
// to be told more.
func (g *Gateway) serveLink(c *fiber.Ctx) error {
	if g.opts.Signer == nil {
		return c.SendStatus(fiber.StatusNotFound)
	}
	id, ok := g.opts.Signer.Verify(c.Params("token"))
	if !ok {
		return c.SendStatus(fiber.StatusForbidden)
	}
	var att upstream.Attachment
	var content upstream.Content
	var err error
	if c.Method() == fiber.MethodHead {
		att, err = g.opts.Store.Stat(c.Context(), id) // the bytes stay unread
	} else {
		att, content, err = g.opts.Store.Open(c.Context(), id)
	}
	if err != nil {
		if upstream.IsKind(err, upstream.KindNotFound) {
			return c.SendStatus(fiber.StatusNotFound)
		}
		g.log.Error("open linked attachment", "err", err)
		return c.SendStatus(fiber.StatusBadGateway)
	}
	return serveContent(c, &result{att: &att, content: content}, g.opts.PresignTTL)
}
