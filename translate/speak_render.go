package translate

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/dragoman-gw/dragoman/upstream"
)

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
// read here: it streams when the request body is read. Values a multipart
// body carries after its file part are rendered only once the content has
// been read, so a caller may still change t.Tags while the bytes stream
// (metadata that arrives after the file, see upstream.NewAttachment.Finish).
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
		rt.renderRaw(req, t)
	case "multipart":
		err = rt.renderMultipart(req, t)
	}
	if err != nil {
		return nil, err
	}
	return req, nil
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
			// The wildcard is [folder/]name; the default field is no folder.
			var parts []string
			if t.Field != "" && t.Field != r.d.defaultField {
				parts = strings.Split(t.Field, "/")
			}
			parts = append(parts, t.Name)
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
		if b.source != "bodyjson" && (b.alt == nil || b.alt.source != "bodyjson") {
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
			if t.Content == nil && t.ExpectedSize > 0 {
				doc, err = sjson.SetBytes(doc, arg, t.ExpectedSize)
			}
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
	if len(t.Data) > 0 && gjson.ValidBytes(t.Data) && gjson.ParseBytes(t.Data).IsObject() {
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

// CarriesFiles reports whether the route's record data can name a field's
// files (as attachment objects or link attributes), so that a record update
// can set a field's files.
func (rt *Route) CarriesFiles() bool { return carriesFiles(rt.r) }

func carriesFiles(r *compiledRoute) bool {
	bd := r.byTarget["data"]
	return bd != nil && (bd.links || bd.files != "")
}

func (rt *Route) renderRaw(req *Request, t *Target) {
	if t.Content == nil {
		return
	}
	bd := rt.r.byTarget["content"]
	if bd != nil && (bd.codec == "datauri" || bd.codec == "base64") {
		// A body that is one encoded value (EspoCRM's chunk: a data URI).
		var prefix []byte
		if bd.codec == "datauri" {
			typ := t.Type
			if typ == "" {
				typ = "application/octet-stream"
			}
			prefix = []byte("data:" + typ + ";base64,")
		}
		req.Body = io.MultiReader(bytes.NewReader(prefix), newBase64Reader(t.Content))
		req.BodyLen = -1
		if t.Size >= 0 {
			req.BodyLen = int64(len(prefix)) + int64(base64.StdEncoding.EncodedLen(int(t.Size)))
		}
		req.Headers = append(req.Headers, [2]string{"Content-Type", "text/plain"})
		return
	}
	req.Body, req.BodyLen = t.Content, t.Size
	if t.Type != "" {
		req.Headers = append(req.Headers, [2]string{"Content-Type", t.Type})
	}
}

// renderMultipart writes the file part's header ahead of the content and
// the value parts after it, so the body streams with no goroutine, and the
// values can still be what the caller learnt once the content ended.
func (rt *Route) renderMultipart(req *Request, t *Target) error {
	var head bytes.Buffer
	mw := multipart.NewWriter(&head)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="%s"; filename="%s"`,
		escapeQuotes(rt.r.spec.Body.File), escapeQuotes(t.Name)))
	typ := t.Type
	if typ == "" {
		typ = "application/octet-stream"
	}
	h.Set("Content-Type", typ)
	if _, err := mw.CreatePart(h); err != nil {
		return err
	}
	content := t.Content
	if content == nil {
		content = strings.NewReader("")
	}
	tail := &lazyReader{render: func() ([]byte, error) { return rt.multipartTail(mw.Boundary(), t) }}
	req.Headers = append(req.Headers, [2]string{"Content-Type", mw.FormDataContentType()})
	req.Body = io.MultiReader(bytes.NewReader(head.Bytes()), content, tail)
	req.BodyLen = -1
	if t.Size >= 0 {
		// The size is known, so the content is known whole: the tail can
		// be rendered now and the body given a length.
		b, err := tail.bytes()
		if err != nil {
			return err
		}
		req.BodyLen = int64(head.Len()) + t.Size + int64(len(b))
	}
	return nil
}

// multipartTail renders the value parts that follow the file part, and the
// closing boundary.
func (rt *Route) multipartTail(boundary string, t *Target) ([]byte, error) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if err := mw.SetBoundary(boundary); err != nil {
		return nil, err
	}
	for _, bd := range rt.r.binds {
		if bd.source != "form" {
			continue
		}
		values := t.Tags
		if bd.target != "tags" {
			values = nil
			if v, ok := t.value(bd.target); ok {
				values = []string{v}
			}
		}
		for _, v := range values {
			if err := mw.WriteField(bd.arg, v); err != nil {
				return nil, err
			}
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	// A new writer opens its first part without the line break that ends
	// the file part before it; its closing boundary has one.
	if !bytes.HasPrefix(b.Bytes(), []byte("\r\n")) {
		return append([]byte("\r\n"), b.Bytes()...), nil
	}
	return b.Bytes(), nil
}

var quoteEscaper = strings.NewReplacer("\\", "\\\\", `"`, "\\\"", "\r", "%0D", "\n", "%0A")

// escapeQuotes escapes a value for a quoted multipart header parameter, as
// mime/multipart does (Go's %q would write escapes a server does not read).
func escapeQuotes(s string) string { return quoteEscaper.Replace(s) }

// lazyReader renders its bytes on first use.
type lazyReader struct {
	render func() ([]byte, error)
	buf    []byte
	done   bool
	err    error
}

func (l *lazyReader) bytes() ([]byte, error) {
	if !l.done {
		l.buf, l.err = l.render()
		l.done = true
	}
	return l.buf, l.err
}

func (l *lazyReader) Read(p []byte) (int, error) {
	b, err := l.bytes()
	if err != nil {
		return 0, err
	}
	if len(b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b)
	l.buf = b[n:]
	return n, nil
}
