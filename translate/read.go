package translate

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/dragoman-gw/dragoman/upstream"
)

// Parsed is what an upstream's answer said, read through the route's
// response template.
type Parsed struct {
	// One is the attachment the answer is about, if it names one.
	One *Remote
	// Files are the attachments it lists.
	Files []Remote
	// Data is a record answer's non-file data.
	Data json.RawMessage
	// Link is a presigned download URL.
	Link string
	// Content is a download's bytes, when they come inside JSON.
	Content []byte
}

// Parse reads a JSON answer of the route. t supplies the values the
// request carried (the record), which templates interpolate.
func (rt *Route) Parse(body []byte, t *Target) (*Parsed, error) {
	p := &Parsed{}
	if rt.r.respBody == nil {
		return p, nil
	}
	if !gjson.ValidBytes(body) {
		return nil, upstream.Errorf(upstream.KindBadGateway, "upstream %s answered %s with malformed JSON", rt.s.d.name, rt.Name())
	}
	rd := reader{d: rt.s.d, t: t, p: p, fieldScoped: rt.r.byTarget["field"] != nil}
	rd.walk(rt.r.respBody, gjson.ParseBytes(body), nil)
	for i := range p.Files {
		rd.complete(&p.Files[i])
	}
	if p.One != nil {
		rd.complete(p.One)
	}
	return p, nil
}

// reader walks a template beside a JSON value, the inverse of rendering.
type reader struct {
	d *compiledDialect
	t *Target
	p *Parsed
	// fieldScoped is set when the request named a field, so files the
	// answer lists without one are in that field.
	fieldScoped bool
	// rendered caches known's renderings: a listing matches the same
	// record against every file's URL.
	rendered []renderedExpr
}

type renderedExpr struct {
	x *expr
	v string
}

func (rd *reader) one() *Remote {
	if rd.p.One == nil {
		rd.p.One = &Remote{Attachment: upstream.Attachment{HasContent: true}}
	}
	return rd.p.One
}

// complete fills what the answer left out from the request's values.
func (rd *reader) complete(r *Remote) {
	if r.Record.Collection == "" {
		r.Record.Collection = rd.t.Record.Collection
	}
	if r.Record.ID == "" {
		r.Record.ID = rd.t.Record.ID
	}
	if r.Field == "" && rd.fieldScoped {
		r.Field = rd.t.Field // a field-scoped answer lists that field
	}
	if r.Field == "" {
		r.Field = rd.d.defaultField
	}
}

func (rd *reader) walk(t tmpl, v gjson.Result, cur *Remote) {
	switch n := t.(type) {
	case *tExpr:
		if n.x.name == "link" {
			rd.p.Link = v.String()
			return
		}
		if cur == nil {
			cur = rd.one()
		}
		assign(cur, n.x, v)
	case *tInterp:
		if cur == nil {
			cur = rd.one()
		}
		rd.invert(n, v.String(), cur)
	case *tObject:
		if len(n.spreads) > 0 {
			rd.spreads(n, v)
		}
		rd.walkKeys(n, v, cur)
	case *tList:
		items := v.Array()
		rd.p.Files = slices.Grow(rd.p.Files, len(items))
		for _, it := range items {
			r := Remote{Attachment: upstream.Attachment{HasContent: true}}
			rd.walk(n.shape, it, &r)
			rd.p.Files = append(rd.p.Files, r)
		}
	case *tShape:
		rd.walk(n.shape, v, rd.one())
	case tContent:
		if b, err := DecodeBase64([]byte(v.String())); err == nil {
			rd.p.Content = b
		}
	case *tFields, *tLinks:
		rd.spreads(&tObject{spreads: []tmpl{t}}, v)
	}
}

// walkKeys walks an object's keyed members. One pass over the answer's
// object finds them all (a Get per key would rescan it each time); they are
// then read in the template's order, absent ones as null, as Get would give.
func (rd *reader) walkKeys(n *tObject, v gjson.Result, cur *Remote) {
	var buf [16]gjson.Result
	vals := buf[:0]
	if len(n.keys) > len(buf) {
		vals = make([]gjson.Result, 0, len(n.keys))
	}
	vals = vals[:len(n.keys)]
	if v.IsObject() {
		v.ForEach(func(k, val gjson.Result) bool {
			key := k.String()
			for i, want := range n.keys {
				if want == key && !vals[i].Exists() {
					vals[i] = val
					break
				}
			}
			return true
		})
	}
	for i := range n.keys {
		rd.walk(n.vals[i], vals[i], cur)
	}
}

// spreads reads an object built from spreads: file fields (arrays of shape
// objects, or link attributes) and, for the rest, the record's data.
func (rd *reader) spreads(n *tObject, v gjson.Result) {
	taken := map[string]bool{}
	for _, k := range n.keys {
		taken[k] = true
	}
	hasData := false
	for _, sp := range n.spreads {
		switch s := sp.(type) {
		case *tFields:
			idKey := ""
			for sk, shape := range rd.d.shapes {
				if shape == s.shape {
					idKey = rd.d.shapeIDKeys[sk]
				}
			}
			v.ForEach(func(k, val gjson.Result) bool {
				items := val.Array()
				if !val.IsArray() || (len(items) > 0 && !(items[0].IsObject() && items[0].Get(escapePathKey(idKey)).Exists())) {
					return true
				}
				taken[k.String()] = true
				for _, it := range items {
					r := Remote{Attachment: upstream.Attachment{HasContent: true, Field: k.String()}}
					rd.walk(s.shape, it, &r)
					r.Field = k.String()
					rd.p.Files = append(rd.p.Files, r)
				}
				return true
			})
		case *tLinks:
			rd.readLinks(s.s, v, taken)
		case *tExpr:
			if s.x.name == "record.data" {
				hasData = true
			}
		}
	}
	if !hasData {
		return
	}
	data := []byte("{}")
	v.ForEach(func(k, val gjson.Result) bool {
		if !taken[k.String()] {
			data, _ = sjson.SetRawBytes(data, escapePathKey(k.String()), []byte(val.Raw))
		}
		return true
	})
	rd.p.Data = data
}

// readLinks reads <field>Ids / <field>Names attributes.
func (rd *reader) readLinks(l *LinkSuffixes, v gjson.Result, taken map[string]bool) {
	v.ForEach(func(k, val gjson.Result) bool {
		key := k.String()
		if !strings.HasSuffix(key, l.IDs) || len(key) == len(l.IDs) || !val.IsArray() {
			return true
		}
		field := strings.TrimSuffix(key, l.IDs)
		names := v.Get(escapePathKey(field + l.Names))
		for _, k := range []string{l.IDs, l.Names, l.ID, l.Name} {
			taken[field+k] = true
		}
		for _, id := range val.Array() {
			r := Remote{Attachment: upstream.Attachment{HasContent: true, Field: field}, NativeID: id.String(), Partial: true}
			r.Name = names.Get(escapePathKey(id.String())).String()
			rd.p.Files = append(rd.p.Files, r)
		}
		return true
	})
}

// assign stores one answered value into a remote attachment, undoing the
// expression's modifiers where they change the value.
func assign(r *Remote, x *expr, v gjson.Result) {
	s := v.String()
	if v.Type == gjson.Null {
		s = ""
	}
	var layout string
	for _, m := range x.modSrc {
		name, arg := m[0], m[1]
		switch name {
		case "urlpath", "urlsegment":
			if u, err := url.PathUnescape(s); err == nil {
				s = u
			}
		case "time":
			layout = arg
		case "no_content":
			if s == arg || (arg == "" && v.Type == gjson.Null) {
				r.HasContent = false
				return
			}
		}
	}
	if field, ok := attachmentStrings[x.name]; ok {
		*field(&r.Attachment) = s
		return
	}
	switch x.name {
	case "id":
		r.NativeID = s
	case "size":
		r.Size = v.Int()
	case "tags":
		for _, t := range v.Array() {
			r.Tags = append(r.Tags, t.String())
		}
	case "created", "modified":
		if layout == "" {
			layout = time.RFC3339Nano
		}
		if tm, err := time.Parse(layout, s); err == nil {
			if x.name == "created" {
				r.Created = tm
			} else {
				r.Modified = tm
			}
		}
	}
}

// invert reads an interpolated string back: known values (the request's
// record) must match; unknown ones are captured between the literals, and
// a folder followed by a name splits at the last '/'.
func (rd *reader) invert(n *tInterp, s string, cur *Remote) {
	pos := 0
	for i := 0; i < len(n.parts); i++ {
		part := n.parts[i]
		if part.x == nil {
			if !strings.HasPrefix(s[pos:], part.lit) {
				return
			}
			pos += len(part.lit)
			continue
		}
		if v, ok := rd.known(part.x); ok {
			if !strings.HasPrefix(s[pos:], v) {
				return
			}
			pos += len(v)
			continue
		}
		end := len(s)
		switch {
		case i+1 < len(n.parts) && n.parts[i+1].x == nil:
			j := strings.Index(s[pos:], n.parts[i+1].lit)
			if j < 0 {
				return
			}
			end = pos + j
		case i+1 < len(n.parts) && hasModifier(part.x, "folder"):
			end = pos + strings.LastIndexByte(s[pos:], '/') + 1
		}
		raw := s[pos:end]
		if hasModifier(part.x, "folder") {
			raw = strings.TrimSuffix(raw, "/")
			if raw == "" {
				raw = rd.d.defaultField
			}
		}
		assign(cur, part.x, gjson.Result{Type: gjson.String, Str: raw})
		pos = end
	}
}

// known renders an expression the request fixes (the record), so the
// reader can match it instead of capturing it.
func (rd *reader) known(x *expr) (string, bool) {
	if x.name == "origin" || x.name == "mount" {
		return "", false
	}
	v, ok := rd.t.value(x.name)
	if !ok || (x.name != "record.collection" && x.name != "record.id") {
		return "", false
	}
	for _, r := range rd.rendered {
		if r.x == x {
			return r.v, true
		}
	}
	e := &env{d: rd.d, bound: &bound{strs: makeStrs(x.name, v)}}
	out := x.eval(e).text()
	rd.rendered = append(rd.rendered, renderedExpr{x: x, v: out})
	return out, true
}

func hasModifier(x *expr, name string) bool {
	for _, m := range x.modSrc {
		if m[0] == name {
			return true
		}
	}
	return false
}
