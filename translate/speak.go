package translate

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/dragoman-gw/dragoman/upstream"
)

// Speaker speaks one dialect to an upstream: it renders canonical
// operations as that dialect's requests and reads its answers back. It is
// the dialect's routes.yaml description read in the other direction: the
// bindings that decode a client's request encode the upstream's, and the
// templates that render a client's answer parse the upstream's.
type Speaker struct {
	d *compiledDialect
}

// Speaker returns the speaker of a dialect.
func (c *Config) Speaker(dialect string) (*Speaker, error) {
	for _, d := range c.dialects {
		if d.name == dialect {
			return &Speaker{d: d}, nil
		}
	}
	return nil, fmt.Errorf("no dialect %q in routes (have %v)", dialect, c.Dialects())
}

// Dialect names the dialect spoken.
func (s *Speaker) Dialect() string { return s.d.name }

// DefaultField is the field the dialect gives files that have none.
func (s *Speaker) DefaultField() string { return s.d.defaultField }

// Remote is an attachment as an upstream knows it: the canonical metadata
// it reported, and its own id for it (empty for dialects that address files
// by record, field and name).
type Remote struct {
	upstream.Attachment
	NativeID string
}

// Target holds the canonical values an upstream request is rendered from.
type Target struct {
	Record   upstream.RecordRef
	Field    string
	Name     string
	Type     string
	Tags     []string
	Title    string
	NativeID string
	// Content and Size: the bytes to send (Size -1 when unknown).
	Content io.Reader
	Size    int64
	// Data and Fields: a record update's opaque data and file fields.
	Data   json.RawMessage
	Fields map[string][]Remote
}

// value returns the target's value of a canonical name.
func (t *Target) value(name string) (string, bool) {
	switch name {
	case "record.collection":
		return t.Record.Collection, t.Record.Collection != ""
	case "record.id":
		return t.Record.ID, t.Record.ID != ""
	case "field":
		return t.Field, t.Field != ""
	case "name":
		return t.Name, t.Name != ""
	case "type":
		return t.Type, t.Type != ""
	case "title":
		return t.Title, t.Title != ""
	case "id":
		return t.NativeID, t.NativeID != ""
	}
	return "", false
}

// Route is one route of the spoken dialect, chosen for an operation.
type Route struct {
	s *Speaker
	r *compiledRoute
}

// Op is the route's canonical operation.
func (rt *Route) Op() string { return rt.r.spec.Op }

// Name is the route's name in routes.yaml.
func (rt *Route) Name() string { return rt.s.d.name + "." + rt.r.spec.Name }

// RawContent reports whether the route answers with the bytes themselves.
func (rt *Route) RawContent() bool { return rt.r.rawContent }

// MaxContent is the largest content the route carries (0: no cap): a
// request body's content cap for uploads, the answer's cap for downloads.
func (rt *Route) MaxContent() int64 {
	if rt.r.maxContent > 0 {
		return rt.r.maxContent
	}
	if bd := rt.r.byTarget["content"]; bd != nil && bd.max > 0 {
		return bd.max
	}
	return rt.r.bodyMax
}

// Find returns a route for op that can be rendered from t: every path
// value it needs is there and every constant it binds matches.
func (s *Speaker) Find(op string, t *Target) (*Route, bool) {
	for _, r := range s.d.routes {
		if r.spec.Op != op || !canRender(r, t) {
			continue
		}
		return &Route{s: s, r: r}, true
	}
	return nil, false
}

// Has reports whether the dialect has any route for op.
func (s *Speaker) Has(op string) bool {
	for _, r := range s.d.routes {
		if r.spec.Op == op {
			return true
		}
	}
	return false
}

func canRender(r *compiledRoute, t *Target) bool {
	for _, b := range r.binds {
		v, ok := t.value(b.target)
		switch {
		case b.source == "const":
			if !ok || v != b.arg {
				return false
			}
		case b.source == "path" && b.target != "field":
			if !ok {
				return false
			}
		case b.target == "id" && !ok:
			return false
		}
	}
	return true
}

// Request is an upstream request rendered from a Target.
type Request struct {
	Method string
	// Path is the escaped path below the upstream's base URL.
	Path    string
	Query   url.Values
	Headers [][2]string
	Body    io.Reader
	// BodyLen is the body's length, or -1 when it is not known ahead.
	BodyLen int64
}

// Render builds the route's request for t. The content, if any, is not
// read here: it streams when the request body is read.
func (rt *Route) Render(t *Target) (*Request, error) {
	r := rt.r
	req := &Request{Method: r.spec.Method, Query: url.Values{}, BodyLen: 0}
	path, err := renderPath(r, t)
	if err != nil {
		return nil, err
	}
	req.Path = r.d.spec.Mount + path
	for _, b := range r.binds {
		v, ok := t.value(b.target)
		if !ok {
			continue
		}
		switch b.source {
		case "query":
			req.Query.Set(b.arg, v)
		case "header":
			req.Headers = append(req.Headers, [2]string{b.arg, v})
		}
	}
	switch r.spec.Body.Kind {
	case "json":
		err = rt.renderJSON(req, t)
	case "raw":
		err = rt.renderRaw(req, t)
	case "multipart":
		err = rt.renderMultipart(req, t)
	}
	if err != nil {
		return nil, err
	}
	return req, nil
}

// Credential is the header that carries token in this dialect.
func (s *Speaker) Credential(token string) (name, value string) {
	c := s.d.spec.Credential
	if c.Scheme != "" {
		return c.Header, c.Scheme + " " + token
	}
	return c.Header, token
}

func renderPath(r *compiledRoute, t *Target) (string, error) {
	segs := strings.Split(r.spec.Path, "/")
	for i, seg := range segs {
		switch {
		case strings.HasPrefix(seg, ":"):
			v, err := pathValue(r, seg[1:], t)
			if err != nil {
				return "", err
			}
			segs[i] = url.PathEscape(v)
		case seg == "*":
			field, name := "", t.Name
			if t.Field != "" && t.Field != r.d.defaultField {
				field = t.Field
			}
			parts := strings.Split(field, "/")
			if field == "" {
				parts = nil
			}
			parts = append(parts, name)
			for j, p := range parts {
				parts[j] = url.PathEscape(p)
			}
			segs[i] = strings.Join(parts, "/")
		}
	}
	return strings.Join(segs, "/"), nil
}

func pathValue(r *compiledRoute, param string, t *Target) (string, error) {
	for _, b := range r.binds {
		if b.source == "path" && b.arg == param {
			if v, ok := t.value(b.target); ok {
				return v, nil
			}
			return "", upstream.Errorf(upstream.KindInvalid, "%s needs %s for its path", r.spec.Name, b.target)
		}
	}
	return "", upstream.Errorf(upstream.KindUnsupported, "%s: path parameter %s has no binding", r.spec.Name, param)
}

// contentMarker stands where streamed content goes in a rendered JSON body.
const contentMarker = "@@dragoman-content-5f0c@@"

func (rt *Route) renderJSON(req *Request, t *Target) error {
	r := rt.r
	doc := []byte("{}")
	var contentBinding *binding
	for _, b := range r.binds {
		if b.source != "bodyjson" && !(b.alt != nil && b.alt.source == "bodyjson") {
			continue
		}
		arg := b.arg
		if b.source != "bodyjson" {
			arg = b.alt.arg
		}
		var err error
		switch b.target {
		case "content":
			if t.Content == nil {
				continue
			}
			contentBinding = b
			doc, err = sjson.SetBytes(doc, arg, contentMarker)
		case "data":
			doc, err = rt.renderData(doc, arg, b, t)
		case "tags":
			if len(t.Tags) > 0 {
				doc, err = sjson.SetBytes(doc, arg, t.Tags)
			}
		case "expected_size":
		default:
			if v, ok := t.value(b.target); ok {
				doc, err = sjson.SetBytes(doc, arg, v)
			}
		}
		if err != nil {
			return fmt.Errorf("render %s body: %w", rt.Name(), err)
		}
	}
	req.Headers = append(req.Headers, [2]string{"Content-Type", "application/json"})
	if contentBinding == nil {
		req.Body, req.BodyLen = bytes.NewReader(doc), int64(len(doc))
		return nil
	}
	i := bytes.Index(doc, []byte(contentMarker))
	prefix, suffix := doc[:i], doc[i+len(contentMarker):]
	if contentBinding.codec == "datauri" {
		typ := t.Type
		if typ == "" {
			typ = "application/octet-stream"
		}
		prefix = append(append([]byte(nil), prefix...), "data:"+typ+";base64,"...)
	}
	req.Body = io.MultiReader(bytes.NewReader(prefix), newBase64Reader(t.Content), bytes.NewReader(suffix))
	req.BodyLen = -1
	if t.Size >= 0 {
		req.BodyLen = int64(len(prefix)+len(suffix)) + int64(base64.StdEncoding.EncodedLen(int(t.Size)))
	}
	return nil
}

// renderData writes a record update's data and file fields, as attachment
// objects in the binding's shape or as link attributes.
func (rt *Route) renderData(doc []byte, arg string, b *binding, t *Target) ([]byte, error) {
	data := []byte("{}")
	if len(t.Data) > 0 && gjson.ValidBytes(t.Data) {
		data = append([]byte(nil), t.Data...)
	}
	var err error
	for _, field := range sortedKeys(t.Fields) {
		files := t.Fields[field]
		switch {
		case b.links:
			ids := make([]string, len(files))
			for i, f := range files {
				ids[i] = f.NativeID
			}
			data, err = sjson.SetBytes(data, escapePathKey(field+rt.s.d.spec.Links.IDs), ids)
		case b.files != "":
			shape := rt.s.d.shapes[b.files]
			arr := []byte{'['}
			for i := range files {
				if i > 0 {
					arr = append(arr, ',')
				}
				a := files[i].Attachment
				a.ID = files[i].NativeID
				arr = shape.appendJSON(arr, &env{d: rt.s.d, att: &a, rawIDs: true})
			}
			arr = append(arr, ']')
			data, err = sjson.SetRawBytes(data, escapePathKey(field), arr)
		}
		if err != nil {
			return nil, err
		}
	}
	if arg == "@this" {
		return data, nil
	}
	return sjson.SetRawBytes(doc, arg, data)
}

func (rt *Route) renderRaw(req *Request, t *Target) error {
	if t.Content != nil {
		req.Body, req.BodyLen = t.Content, t.Size
		if t.Type != "" {
			req.Headers = append(req.Headers, [2]string{"Content-Type", t.Type})
		}
	}
	return nil
}

// renderMultipart writes the value parts and the file part's header ahead
// of the content, so the body streams with no goroutine and, when the size
// is known, a known length.
func (rt *Route) renderMultipart(req *Request, t *Target) error {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	for _, b := range rt.r.binds {
		if b.source != "form" {
			continue
		}
		values := t.Tags
		if b.target != "tags" {
			values = nil
			if v, ok := t.value(b.target); ok {
				values = []string{v}
			}
		}
		for _, v := range values {
			if err := mw.WriteField(b.arg, v); err != nil {
				return err
			}
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, rt.r.spec.Body.File, t.Name))
	typ := t.Type
	if typ == "" {
		typ = "application/octet-stream"
	}
	h.Set("Content-Type", typ)
	if _, err := mw.CreatePart(h); err != nil {
		return err
	}
	tail := "\r\n--" + mw.Boundary() + "--\r\n"
	content := t.Content
	if content == nil {
		content = strings.NewReader("")
	}
	req.Headers = append(req.Headers, [2]string{"Content-Type", mw.FormDataContentType()})
	req.Body = io.MultiReader(bytes.NewReader(head.Bytes()), content, strings.NewReader(tail))
	req.BodyLen = -1
	if t.Size >= 0 {
		req.BodyLen = int64(head.Len()) + t.Size + int64(len(tail))
	}
	return nil
}

// ParseError reads an upstream's error answer back into a canonical error:
// a message the route names for a kind wins, then the dialect's status map.
func (rt *Route) ParseError(status int, header func(string) string, body []byte) error {
	d := rt.s.d
	msg := ""
	if d.spec.Errors.Header != "" {
		msg = header(d.spec.Errors.Header)
	}
	if msg == "" && d.errBody != nil && gjson.ValidBytes(body) {
		msg = findMessage(d.errBody, gjson.ParseBytes(body))
	}
	if msg == "" {
		msg = fmt.Sprintf("upstream %s answered %d", d.name, status)
	}
	for kind, m := range rt.r.messages {
		if m == msg {
			return upstream.Errorf(kind, "%s", msg)
		}
	}
	kind := upstream.KindInternal
	for _, k := range upstream.Kinds() { // the first kind mapped to the status wins
		if d.errStatus[k] == status {
			kind = k
			break
		}
	}
	if status >= 500 {
		kind = upstream.KindUnavailable
	}
	return upstream.Errorf(kind, "upstream: %s", msg)
}

// findMessage finds where an error template puts $message.
func findMessage(t tmpl, v gjson.Result) string {
	switch n := t.(type) {
	case *tExpr:
		if n.x.name == "message" {
			return v.String()
		}
	case *tObject:
		for i, k := range n.keys {
			if m := findMessage(n.vals[i], v.Get(escapePathKey(k))); m != "" {
				return m
			}
		}
	case *tArray:
		for i, it := range n.items {
			if m := findMessage(it, v.Get(strconv.Itoa(i))); m != "" {
				return m
			}
		}
	}
	return ""
}
