// Package remote is a Store that is another attachment system, spoken to in
// one of the dialects of routes.yaml. Each canonical operation is rendered
// into the upstream dialect's request by translate.Speaker (the same
// description that serves that dialect to clients) and sent over a pooled
// fasthttp client; an operation the dialect has no call for is composed from
// calls it has, or refused as unsupported.
package remote

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"time"

	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// maxAnswer bounds a JSON answer read from the upstream.
const maxAnswer = 64 << 20

// Options configure a remote store.
type Options struct {
	// Speaker speaks the upstream's dialect.
	Speaker *translate.Speaker
	// URL is the upstream's base: http(s)://host:port[/base].
	URL string
	// Token is the upstream credential, sent in its dialect's header.
	Token string
	// DataDir keeps the map of canonical ids to upstream objects.
	DataDir  string
	Timeouts Timeouts
}

// Store is an upstream.Store backed by an upstream system.
type Store struct {
	sp  *translate.Speaker
	t   *transport
	ids *idMap
}

var _ upstream.Store = (*Store)(nil)

// New connects nothing yet: connections are made per request.
func New(opts Options) (*Store, error) {
	to := opts.Timeouts
	if to == (Timeouts{}) {
		to = DefaultTimeouts
	}
	t, err := newTransport(opts.URL, opts.Speaker, opts.Token, to)
	if err != nil {
		return nil, err
	}
	ids, err := openIDMap(filepath.Join(opts.DataDir, "upstream-ids.db"))
	if err != nil {
		return nil, err
	}
	return &Store{sp: opts.Speaker, t: t, ids: ids}, nil
}

// Close releases the id map.
func (s *Store) Close() error { return s.ids.close() }

// Ping checks nothing remote: a gateway is ready when its own state is.
func (s *Store) Ping(context.Context) error { return nil }

// call renders and sends one request and, for a JSON answer, parses it.
func (s *Store) call(ctx context.Context, rt *translate.Route, t *translate.Target) (*translate.Parsed, error) {
	req, err := rt.Render(t)
	if err != nil {
		return nil, err
	}
	resp, err := s.t.do(ctx, req)
	if err != nil {
		return nil, err
	}
	body, err := resp.readAll(maxAnswer)
	if err != nil {
		return nil, err
	}
	if resp.status >= 300 {
		return nil, rt.ParseError(resp.status, resp.header, body)
	}
	if rt.RawContent() {
		return &translate.Parsed{Content: body}, nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return &translate.Parsed{}, nil
	}
	return rt.Parse(body, t)
}

func unsupported(dialect, what string) error {
	return upstream.Errorf(upstream.KindUnsupported, "the upstream dialect %s cannot %s", dialect, what)
}

// canonical turns remote attachments into canonical ones with ids, filling
// what the upstream did not report from what the gateway recorded.
func (s *Store) canonical(rs []translate.Remote) ([]upstream.Attachment, error) {
	return s.canonicalWith(rs, nil)
}

func (s *Store) canonicalWith(rs []translate.Remote, extra *upstream.Attachment) ([]upstream.Attachment, error) {
	refs := make([]ref, len(rs))
	for i, r := range rs {
		refs[i] = ref{NativeID: r.NativeID, Record: r.Record, Field: r.Field, Name: r.Name, Extra: extra}
	}
	ids, err := s.ids.ids(refs)
	if err != nil {
		return nil, err
	}
	extras := s.ids.extras(ids)
	out := make([]upstream.Attachment, len(rs))
	pos := map[string]int64{}
	for i, r := range rs {
		a := r.Attachment
		a.ID = ids[i]
		a.Position = pos[a.Field]
		pos[a.Field]++
		if x := extras[a.ID]; x != nil {
			overlay(&a, x)
		}
		out[i] = a
	}
	return out, nil
}

// overlay fills an upstream's report with the gateway's record of the
// attachment where the upstream said nothing.
func overlay(a *upstream.Attachment, x *upstream.Attachment) {
	fill := func(dst *string, src string) {
		if *dst == "" {
			*dst = src
		}
	}
	fill(&a.SHA256, x.SHA256)
	fill(&a.MD5, x.MD5)
	fill(&a.Title, x.Title)
	fill(&a.Description, x.Description)
	fill(&a.Category, x.Category)
	fill(&a.Status, x.Status)
	fill(&a.ExternalID, x.ExternalID)
	fill(&a.Owner, x.Owner)
	fill(&a.Type, x.Type)
	if len(a.Tags) == 0 {
		a.Tags = x.Tags
	}
	if a.Created.IsZero() {
		a.Created = x.Created
	}
	if a.Modified.IsZero() {
		a.Modified = x.Modified
	}
}

// List lists a record through the dialect's list call, or its record call.
func (s *Store) List(ctx context.Context, rec upstream.RecordRef) ([]upstream.Attachment, error) {
	rs, _, err := s.listRemote(ctx, rec)
	if err != nil {
		return nil, err
	}
	atts, err := s.canonical(rs)
	if err != nil {
		return nil, err
	}
	return orderByField(atts), nil
}

func (s *Store) listRemote(ctx context.Context, rec upstream.RecordRef) ([]translate.Remote, *translate.Parsed, error) {
	t := &translate.Target{Record: rec, Size: -1}
	for _, op := range []string{"list", "record.get"} {
		if rt, ok := s.sp.Find(op, t); ok {
			p, err := s.call(ctx, rt, t)
			if err != nil {
				return nil, nil, err
			}
			return p.Files, p, nil
		}
	}
	return nil, nil, unsupported(s.sp.Dialect(), "list a record's files")
}

// orderByField keeps each field's upstream order and groups fields, as
// the Store contract orders lists.
func orderByField(atts []upstream.Attachment) []upstream.Attachment {
	var fields []string
	groups := map[string][]upstream.Attachment{}
	for _, a := range atts {
		if _, ok := groups[a.Field]; !ok {
			fields = append(fields, a.Field)
		}
		groups[a.Field] = append(groups[a.Field], a)
	}
	sortStrings(fields)
	out := make([]upstream.Attachment, 0, len(atts))
	for _, f := range fields {
		out = append(out, groups[f]...)
	}
	return out
}

// GetRecord reads a record through the record call, or tells existence by
// listing.
func (s *Store) GetRecord(ctx context.Context, rec upstream.RecordRef) (upstream.Record, error) {
	t := &translate.Target{Record: rec, Size: -1}
	if rt, ok := s.sp.Find("record.get", t); ok {
		p, err := s.call(ctx, rt, t)
		if err != nil {
			return upstream.Record{}, err
		}
		return upstream.Record{Ref: rec, Data: p.Data}, nil
	}
	if _, _, err := s.listRemote(ctx, rec); err != nil {
		return upstream.Record{}, err
	}
	return upstream.Record{Ref: rec}, nil
}

// Stat finds an attachment by its upstream address.
func (s *Store) Stat(ctx context.Context, id string) (upstream.Attachment, error) {
	r, err := s.ids.lookup(id)
	if err != nil {
		return upstream.Attachment{}, err
	}
	rs, _, err := s.listRemote(ctx, r.Record)
	if err != nil {
		if upstream.IsKind(err, upstream.KindNotFound) {
			return upstream.Attachment{}, upstream.Errorf(upstream.KindNotFound, "attachment not found")
		}
		return upstream.Attachment{}, err
	}
	for i := len(rs) - 1; i >= 0; i-- {
		if matches(rs[i], r) {
			atts, err := s.canonical(rs[i : i+1])
			if err != nil {
				return upstream.Attachment{}, err
			}
			return atts[0], nil
		}
	}
	return upstream.Attachment{}, upstream.Errorf(upstream.KindNotFound, "attachment not found")
}

func matches(rm translate.Remote, r ref) bool {
	if r.NativeID != "" {
		return rm.NativeID == r.NativeID
	}
	return rm.Field == r.Field && rm.Name == r.Name
}

func (s *Store) target(r ref) *translate.Target {
	return &translate.Target{Record: r.Record, Field: r.Field, Name: r.Name, NativeID: r.NativeID, Size: -1}
}

// Open downloads through the dialect's download call, or through a
// presigned link when that is all it has.
func (s *Store) Open(ctx context.Context, id string) (upstream.Attachment, upstream.Content, error) {
	att, err := s.Stat(ctx, id)
	if err != nil {
		return upstream.Attachment{}, nil, err
	}
	r, _ := s.ids.lookup(id)
	t := s.target(r)
	rt, ok := s.sp.Find("download", t)
	if !ok {
		return upstream.Attachment{}, nil, unsupported(s.sp.Dialect(), "return a file's bytes")
	}
	if !rt.RawContent() {
		p, err := s.call(ctx, rt, t)
		if err != nil {
			return upstream.Attachment{}, nil, err
		}
		att.Size = int64(len(p.Content))
		return att, &memContent{Reader: bytes.NewReader(p.Content)}, nil
	}
	req, err := rt.Render(t)
	if err != nil {
		return upstream.Attachment{}, nil, err
	}
	resp, err := s.t.do(ctx, req)
	if err != nil {
		return upstream.Attachment{}, nil, err
	}
	if resp.status != http.StatusOK {
		body, _ := resp.readAll(64 << 10)
		return upstream.Attachment{}, nil, rt.ParseError(resp.status, resp.header, body)
	}
	if n := resp.resp.Header.ContentLength(); n >= 0 {
		att.Size = int64(n)
	}
	return att, &streamContent{resp: resp}, nil
}

// Delete deletes through the dialect's delete call.
func (s *Store) Delete(ctx context.Context, id string) error {
	r, err := s.ids.lookup(id)
	if err != nil {
		return err
	}
	t := s.target(r)
	rt, ok := s.sp.Find("delete", t)
	if !ok {
		return unsupported(s.sp.Dialect(), "delete a file")
	}
	if _, err := s.call(ctx, rt, t); err != nil {
		return err
	}
	return s.ids.forget(id)
}

// Create uploads through the dialect's create call. A dialect whose
// uploads carry base64 in JSON has a cap; content over it is refused
// before anything is sent.
func (s *Store) Create(ctx context.Context, na upstream.NewAttachment, content io.Reader) (upstream.Attachment, error) {
	t := &translate.Target{Record: na.Record, Field: na.Field, Name: na.Name, Type: na.Type,
		Tags: na.Tags, Title: na.Title, Content: content, Size: -1}
	if t.Field == "" {
		t.Field = s.sp.DefaultField()
	}
	rt, ok := s.sp.Find("create", t)
	if !ok {
		return upstream.Attachment{}, unsupported(s.sp.Dialect(), "create a file in collection "+na.Record.Collection)
	}
	var digest *digester
	if content != nil {
		body, size, err := boundContent(content, rt.MaxContent(), na.MaxSize)
		if err != nil {
			return upstream.Attachment{}, err
		}
		digest = newDigester(body, na.MaxSize)
		t.Content, t.Size = digest, size
	}
	if na.Finish != nil && content != nil {
		// Late metadata (multipart fields after the file) must be known
		// before the upstream request is rendered: bound content was read
		// whole already; streamed content cannot wait, so Finish runs now
		// only when the content was bounded.
		if t.Size >= 0 {
			if err := na.Finish(&na); err != nil {
				return upstream.Attachment{}, err
			}
			t.Tags, t.Name, t.Type, t.Title = na.Tags, na.Name, na.Type, na.Title
		}
	}
	p, err := s.call(ctx, rt, t)
	if err != nil {
		if digest != nil && digest.err != nil {
			return upstream.Attachment{}, digest.err
		}
		return upstream.Attachment{}, err
	}
	now := time.Now().UTC()
	extra := &upstream.Attachment{Tags: na.Tags, Title: na.Title, Description: na.Description,
		Category: na.Category, Status: na.Status, ExternalID: na.ExternalID, Owner: na.Owner,
		Type: na.Type, Created: now, Modified: now}
	if digest != nil {
		extra.SHA256, extra.MD5 = digest.sums()
	}
	att, err := s.created(ctx, p, na, extra)
	if err != nil {
		return upstream.Attachment{}, err
	}
	if na.Finish != nil && content != nil && t.Size < 0 {
		// Streamed: the metadata after the file arrives too late to send,
		// but the request must still be read and checked.
		if err := na.Finish(&na); err != nil {
			_ = s.Delete(ctx, att.ID)
			return upstream.Attachment{}, err
		}
	}
	return att, nil
}

// created finds the attachment a create made: the one the answer names,
// else the newest of that name in the record's listing.
func (s *Store) created(ctx context.Context, p *translate.Parsed, na upstream.NewAttachment, extra *upstream.Attachment) (upstream.Attachment, error) {
	if p.One != nil && p.One.NativeID != "" {
		atts, err := s.canonicalWith([]translate.Remote{*p.One}, extra)
		if err != nil {
			return upstream.Attachment{}, err
		}
		return atts[0], nil
	}
	rs := p.Files
	if len(rs) == 0 {
		listed, _, err := s.listRemote(ctx, na.Record)
		if err != nil {
			return upstream.Attachment{}, err
		}
		rs = listed
	}
	field := na.Field
	if field == "" {
		field = s.sp.DefaultField()
	}
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].Name == na.Name && rs[i].Field == field {
			atts, err := s.canonicalWith(rs[i:i+1], extra)
			if err != nil {
				return upstream.Attachment{}, err
			}
			return atts[0], nil
		}
	}
	return upstream.Attachment{}, upstream.Errorf(upstream.KindBadGateway, "the upstream acknowledged the upload but does not list it")
}

// UpdateRecord updates through the dialect's record update call.
func (s *Store) UpdateRecord(ctx context.Context, rec upstream.RecordRef, u upstream.RecordUpdate) (upstream.Record, error) {
	t := &translate.Target{Record: rec, Data: u.Data, Fields: map[string][]translate.Remote{}, Size: -1}
	rt, ok := s.sp.Find("record.update", t)
	if !ok {
		return upstream.Record{}, unsupported(s.sp.Dialect(), "update a record")
	}
	for field, ids := range u.Fields {
		for _, id := range ids {
			r, err := s.ids.lookup(id)
			if err != nil {
				return upstream.Record{}, upstream.Errorf(upstream.KindInvalid, "attachment %s does not exist", id)
			}
			a, err := s.Stat(ctx, id)
			if err != nil {
				return upstream.Record{}, err
			}
			t.Fields[field] = append(t.Fields[field], translate.Remote{Attachment: a, NativeID: r.NativeID})
		}
	}
	p, err := s.call(ctx, rt, t)
	if err != nil {
		return upstream.Record{}, err
	}
	return upstream.Record{Ref: rec, Data: p.Data}, nil
}

// boundContent reads content of a capped dialect whole (it travels as
// base64 in JSON anyway), refusing it before sending when it is over the
// cap; uncapped content streams with its size unknown.
func boundContent(content io.Reader, routeCap, storeCap int64) (io.Reader, int64, error) {
	limit := routeCap
	if storeCap > 0 && (limit == 0 || storeCap < limit) {
		limit = storeCap
	}
	if limit == 0 || limit > 64<<20 {
		return content, -1, nil
	}
	b, err := io.ReadAll(io.LimitReader(content, limit+1))
	if err != nil {
		return nil, 0, err
	}
	if int64(len(b)) > limit {
		return nil, 0, upstream.Errorf(upstream.KindTooLarge, "file is larger than the %d bytes the upstream accepts", limit)
	}
	return bytes.NewReader(b), int64(len(b)), nil
}
