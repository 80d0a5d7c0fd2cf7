package translate

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman/telemetry"
	"github.com/dragoman-gw/dragoman/upstream"
)

// respond encodes a successful result in the route's response shape.
func (g *Gateway) respond(c *fiber.Ctx, r *compiledRoute, b *bound, res *result) error {
	if r.rawContent {
		var presign time.Duration
		if r.redirect {
			presign = g.opts.PresignTTL
		}
		return serveContent(c, res, presign)
	}
	if res.content != nil && !r.usesContent {
		res.content.Close()
		res.content = nil
	}
	c.Status(r.status)
	if r.respBody == nil {
		return nil
	}
	res.env = env{d: r.d, att: res.att, bound: b, rec: res.rec, files: res.files, records: res.records, total: res.total,
		origin: g.originOf(c), contentAt: -1}
	e := &res.env
	if res.link != "" {
		e.link = e.origin + res.link
	}
	if res.rec != nil {
		// At the top level of a record response, record.* is the record.
		e.att = nil
		if e.bound == nil {
			e.bound = &bound{}
		}
	}
	bufp := g.renderBufs.Get().(*[]byte)
	out := r.respBody.appendJSON((*bufp)[:0], e)
	defer func() {
		*bufp = out[:0]
		g.renderBufs.Put(bufp)
	}()
	c.Set(fiber.HeaderContentType, r.contentType)
	if !r.usesContent || res.content == nil {
		// SetBody copies into fasthttp's own pooled buffer, so ours can go
		// back to the pool: rendering a list then allocates nothing.
		c.Response().SetBody(out)
		return nil
	}
	// Stream the content as base64 between the two halves of the document.
	prefix, suffix := out[:e.contentAt], out[e.contentAt:]
	size := int64(len(out)) + int64(base64.StdEncoding.EncodedLen(int(res.att.Size)))
	body := io.MultiReader(strings.NewReader(string(prefix)), newBase64Reader(res.content), strings.NewReader(string(suffix)))
	c.Context().SetBodyStream(readCloser{Reader: body, Closer: res.content}, int(size))
	return nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// serveContent streams an attachment's bytes with validators and ranges.
// Without content (a HEAD, answered from the attachment's metadata) it
// sends the same status and headers, Content-Length included, and no body.
func serveContent(c *fiber.Ctx, res *result, presign time.Duration) error {
	a := res.att
	closeContent := func() {
		if res.content != nil {
			res.content.Close()
		}
	}
	h := &c.Response().Header
	if url := presignedURL(c, res, presign); url != "" {
		closeContent()
		h.Set(fiber.HeaderLocation, url)
		// The URL expires: no cache may answer with it later.
		h.Set(fiber.HeaderCacheControl, "no-store")
		c.Status(http.StatusTemporaryRedirect)
		return nil
	}
	h.Set(fiber.HeaderContentType, contentTypeOr(a.Type))
	// A stored file is never a page of this origin: no sniffing, saved
	// rather than shown (an HTML or SVG file would run as the gateway's
	// own), and no scripts should a browser render it anyway.
	h.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	h.Set(fiber.HeaderContentDisposition, contentDisposition(a.Name))
	h.Set(fiber.HeaderContentSecurityPolicy, "sandbox")
	etag := ""
	if a.SHA256 != "" {
		etag = `"` + a.SHA256 + `"`
		h.Set(fiber.HeaderETag, etag)
	}
	h.Set(fiber.HeaderAcceptRanges, "bytes")
	if !a.Modified.IsZero() {
		h.Set(fiber.HeaderLastModified, a.Modified.UTC().Format(http.TimeFormat))
	}
	if inm := c.Get(fiber.HeaderIfNoneMatch); etag != "" && inm != "" && etagMatches(inm, etag) {
		closeContent()
		c.Status(http.StatusNotModified)
		return nil
	}
	start, length, partial, ok := parseRange(c.Get(fiber.HeaderRange), a.Size)
	if !ok {
		closeContent()
		h.Set(fiber.HeaderContentRange, "bytes */"+strconv.FormatInt(a.Size, 10))
		c.Status(http.StatusRequestedRangeNotSatisfiable)
		return nil
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set(fiber.HeaderContentRange, fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, a.Size))
	}
	c.Status(status)
	if res.content == nil {
		// fasthttp keeps an explicit length when the body is skipped.
		c.Response().SkipBody = true
		h.SetContentLength(int(length))
		return nil
	}
	if partial {
		if _, err := res.content.Seek(start, io.SeekStart); err != nil {
			res.content.Close()
			return fmt.Errorf("seek content: %w", err)
		}
		c.Context().SetBodyStream(readCloser{Reader: io.LimitReader(res.content, length), Closer: res.content}, int(length))
		return nil
	}
	c.Context().SetBodyStream(res.content, int(a.Size))
	return nil
}

// presignedURL is where a download may be redirected to instead of
// streamed: the content's own presigned URL, answering with the headers
// the gateway would send, if presign is on, the content has one, and the
// request is a plain GET. A conditional request streams, as the
// gateway's validators (the sha256 ETag) are not the store's; a range
// does not, as the store serves ranges. A URL that cannot be made is no
// failure: the bytes stream.
func presignedURL(c *fiber.Ctx, res *result, presign time.Duration) string {
	if presign <= 0 || res.content == nil || c.Method() != fiber.MethodGet {
		return ""
	}
	pc, ok := res.content.(upstream.PresignedContent)
	if !ok {
		return ""
	}
	for _, h := range []string{fiber.HeaderIfNoneMatch, fiber.HeaderIfModifiedSince, fiber.HeaderIfRange,
		fiber.HeaderIfMatch, fiber.HeaderIfUnmodifiedSince} {
		if c.Get(h) != "" {
			return ""
		}
	}
	url, err := pc.PresignURL(c.Context(), presign, contentTypeOr(res.att.Type), contentDisposition(res.att.Name))
	if err != nil {
		return ""
	}
	return url
}

// contentTypeOr is the Content-Type a stored type is served as: the type
// itself when it is a well-formed media type, else (empty, or stored by
// an upstream or an older version unchecked) application/octet-stream.
func contentTypeOr(t string) string {
	if t == "" || ValidateType(t) != nil {
		return "application/octet-stream"
	}
	return t
}

func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(t), "W/"))
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// parseRange reads a single "bytes=a-b" range. Multiple ranges and
// unparsable headers are served whole, as RFC 9110 allows; an unsatisfiable
// range gives ok=false.
func parseRange(header string, size int64) (start, length int64, partial, ok bool) {
	if !strings.HasPrefix(header, "bytes=") || strings.Contains(header, ",") {
		return 0, size, false, true
	}
	spec := strings.TrimSpace(strings.TrimPrefix(header, "bytes="))
	a, z, found := strings.Cut(spec, "-")
	if !found {
		return 0, size, false, true
	}
	switch {
	case a == "": // suffix: the last z bytes
		n, err := strconv.ParseInt(z, 10, 64)
		if err != nil || n < 0 {
			return 0, size, false, true
		}
		if n == 0 {
			return 0, 0, false, false
		}
		n = min(n, size)
		return size - n, n, true, size > 0
	default:
		s, err := strconv.ParseInt(a, 10, 64)
		if err != nil || s < 0 {
			return 0, size, false, true
		}
		if s >= size {
			return 0, 0, false, false
		}
		e := size - 1
		if z != "" {
			if e2, err := strconv.ParseInt(z, 10, 64); err == nil && e2 >= s {
				e = min(e2, size-1)
			} else {
				return 0, size, false, true
			}
		}
		return s, e - s + 1, true, true
	}
}

// writeError renders err in the dialect's error shape: status from the
// kind, message in the body template and/or a header. Every error a client
// sees leaves through here.
func (g *Gateway) writeError(c *fiber.Ctx, d *compiledDialect, r *compiledRoute, err error) error {
	kind := upstream.KindOf(err)
	msg := upstream.MessageOf(err)
	if r != nil {
		if m, ok := r.messages[kind]; ok {
			msg = m
		}
	}
	status := d.errStatus[kind]
	if se, ok := errors.AsType[*statusError](err); ok {
		if se.status != 0 {
			status = se.status
			c.Context().SetConnectionClose()
		}
		if se.retryAfter != "" {
			c.Set(fiber.HeaderRetryAfter, se.retryAfter)
		}
	}
	if kind == upstream.KindInternal || kind == upstream.KindUnavailable {
		g.log.Error("request failed", "request_id", telemetry.RequestID(c.Context()), "dialect", d.name, "method", c.Method(), "path", c.Path(), "err", err)
	}
	return g.renderError(c, d, kind, msg, status)
}

// renderError writes one error answer in d's shape with the given status.
func (g *Gateway) renderError(c *fiber.Ctx, d *compiledDialect, kind upstream.Kind, msg string, status int) error {
	req := telemetry.FromContext(c.Context())
	req.SetError(string(kind))
	requestID := req.ID()
	if requestID == "" {
		requestID = newRequestID() // no telemetry in front: still one id per answer
	}
	c.Context().ResetBody()
	c.Status(status)
	if d.spec.Errors.Header != "" {
		c.Set(d.spec.Errors.Header, headerSafe(msg))
	}
	if d.errBody == nil {
		return nil
	}
	e := &env{d: d, errKind: kind, errMessage: msg, errStatus: status, bound: &bound{},
		requestID: requestID}
	c.Set(fiber.HeaderContentType, "application/json; charset=utf-8")
	return c.Send(d.errBody.appendJSON(nil, e))
}

// newRequestID identifies an error answer of a gateway with no telemetry
// in front of it (tests of the handlers alone).
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// headerSafe keeps a message to printable ASCII for a response header.
func headerSafe(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch < 0x20 || ch > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}
