package remote

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// Open downloads through the dialect's download call, or through a
// presigned link when that is all it has (TransactionLink's "get link").
func (s *Store) Open(ctx context.Context, id string) (upstream.Attachment, upstream.Content, error) {
	att, r, err := s.stat(ctx, id)
	if err != nil {
		return upstream.Attachment{}, nil, err
	}
	return s.openAt(ctx, att, r)
}

var _ upstream.ListedOpener = (*Store)(nil)

// OpenListed is Open without the look-up: where the dialect has no call
// that describes one file, that look-up lists the file's whole record.
func (s *Store) OpenListed(ctx context.Context, a upstream.Attachment) (upstream.Attachment, upstream.Content, error) {
	r, err := s.ids.lookup(a.ID)
	if err != nil {
		return upstream.Attachment{}, nil, err
	}
	if r.Held != nil {
		return s.Open(ctx, a.ID)
	}
	return s.openAt(ctx, a, r)
}

// openAt opens the bytes of att, whose upstream address is r.
func (s *Store) openAt(ctx context.Context, att upstream.Attachment, r ref) (upstream.Attachment, upstream.Content, error) {
	id := att.ID
	if !att.HasContent {
		return upstream.Attachment{}, nil, upstream.Errorf(upstream.KindNotFound, "attachment has no content yet")
	}
	if r.Held != nil {
		// Whole, and held until the upstream can take it (keep.go).
		c, err := s.openHeldContent(id, r)
		if err != nil {
			if now, lerr := s.ids.lookup(id); lerr == nil && now.Held == nil {
				// Sent upstream between the look-up and the open.
				return s.Open(ctx, id)
			}
			return upstream.Attachment{}, nil, err
		}
		return att, c, nil
	}
	t := s.target(r)
	if rt, ok := s.sp.Find(translate.OpDownload, t); ok && !rt.RawContent() {
		// The bytes come inside a JSON answer (InfoLobby's base64, capped
		// at 10 MiB by the dialect): they are whole once the answer is.
		p, err := s.call(ctx, rt, t)
		if err != nil {
			return upstream.Attachment{}, nil, err
		}
		att.Size = int64(len(p.Content))
		return att, memContent{Reader: bytes.NewReader(p.Content)}, nil
	}
	var open func(ctx context.Context, offset int64) (*response, error)
	if rt, ok := s.sp.Find(translate.OpDownload, t); ok {
		t := s.outgoing(t) // rendered here, not through call
		open = func(ctx context.Context, offset int64) (*response, error) {
			req, err := rt.Render(t)
			if err != nil {
				return nil, err
			}
			return s.fetch(ctx, rt, s.t.rendered(req), offset)
		}
	} else if rt, ok := s.sp.Find(translate.OpLink, t); ok {
		open = func(ctx context.Context, offset int64) (*response, error) {
			return s.followLink(ctx, rt, t, offset)
		}
	} else {
		return upstream.Attachment{}, nil, s.unsupported("return a file's bytes")
	}
	c := &streamContent{ctx: ctx, open: open, size: att.Size}
	if err := c.reopen(0); err != nil {
		return upstream.Attachment{}, nil, err
	}
	if n := c.resp.length; n >= 0 && n != att.Size {
		// The bytes are what they are, whatever the listing said.
		c.size, att.Size = n, n
	}
	return att, c, nil
}

// fetch sends a download and checks its answer. From a nonzero offset it
// asks for the rest with a Range header; an upstream that ignores it
// answers 200 with everything, and the bytes before offset are skipped
// (by the content, which knows where the body starts).
func (s *Store) fetch(ctx context.Context, rt *translate.Route, o *outgoing, offset int64) (*response, error) {
	if offset > 0 {
		o.headers = append(o.headers[:len(o.headers):len(o.headers)], [2]string{"Range", "bytes=" + strconv.FormatInt(offset, 10) + "-"})
	}
	resp, err := s.t.do(ctx, o)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.status == http.StatusOK:
		resp.start = 0
		return resp, nil
	case resp.status == http.StatusPartialContent && offset > 0:
		start, ok := rangeStart(resp.header("Content-Range"))
		if !ok || start > offset {
			resp.close()
			return nil, upstream.Errorf(upstream.KindBadGateway, "upstream %s answered a range it was not asked for", s.sp.Dialect())
		}
		resp.start = start
		return resp, nil
	}
	return nil, s.answerError(ctx, rt, resp)
}

// rangeStart reads the first byte position of "bytes a-b/n".
func rangeStart(h string) (int64, bool) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(a, 10, 64)
	return n, err == nil && n >= 0
}

// followLink asks for a presigned link and downloads through it. The link
// is followed only to the upstream's own host and port, without the
// upstream credential (a presigned link needs none): an upstream that
// hands out links elsewhere could otherwise make the gateway fetch any URL.
func (s *Store) followLink(ctx context.Context, rt *translate.Route, t *translate.Target, offset int64) (*response, error) {
	p, err := s.call(ctx, rt, t)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(p.Link)
	if err != nil || p.Link == "" || u.Scheme != s.t.scheme || hostPort(u) != s.t.addr || u.User != nil {
		return nil, upstream.Errorf(upstream.KindBadGateway, "upstream %s gave a download link outside itself", s.sp.Dialect())
	}
	return s.fetch(ctx, rt, &outgoing{method: http.MethodGet, uri: u.RequestURI(), anonymous: true}, offset)
}
