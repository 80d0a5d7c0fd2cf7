package translate

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
)

// valueKind is the JSON type an expression yields.
type valueKind int

const (
	vNull valueKind = iota
	vString
	vInt
	vBool
	vRaw // JSON text, written as is
	vTime
	vStrings
)

// value is what an expression evaluates to.
type value struct {
	kind valueKind
	s    string
	n    int64
	b    bool
	raw  []byte
	t    time.Time
	list []string
}

func strValue(s string) value { return value{kind: vString, s: s} }

// text renders v for interpolation into a string.
func (v value) text() string {
	switch v.kind {
	case vString:
		return v.s
	case vInt:
		return strconv.FormatInt(v.n, 10)
	case vBool:
		return strconv.FormatBool(v.b)
	case vTime:
		return v.t.UTC().Format(defaultTimeLayout)
	case vRaw:
		return string(v.raw)
	case vStrings:
		return strings.Join(v.list, ",")
	}
	return ""
}

// defaultTimeLayout is RFC 3339 in UTC with milliseconds, as most of the
// dialects write times ("2023-11-27T09:42:52.099Z").
const defaultTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// env is what expressions read while a response is rendered.
type env struct {
	d     *compiledDialect
	att   *upstream.Attachment // the attachment being rendered, if any
	bound *bound               // the request's bound values
	rec   *upstream.Record
	files []upstream.Attachment
	// records and total: a page of a listing and its size in all.
	records []upstream.RecordEntry
	total   int
	origin  string

	errKind    upstream.Kind
	errMessage string
	errStatus  int

	// contentAt is set by a $content|base64 leaf: the offset in the output
	// where the streamed content goes, between the quotes.
	contentAt int

	link string // a presigned download URL, for link routes
	// rawIDs renders att.ID as it is: an upstream's own id, when the
	// gateway speaks to an upstream rather than to a client.
	rawIDs    bool
	requestID string // the id of the request an error answers

	// idText holds the ids encoded for this answer, end to end: each is a
	// view of its own bytes, which later appends never touch (they write
	// past the end, or into a new array when it grows), so a listing's
	// ids cost an allocation or two instead of one each.
	idText []byte
}

// encodeID is d.ids.Encode, its string kept in e.idText.
func (e *env) encodeID(canonical, name string) string {
	if e.idText == nil {
		e.idText = make([]byte, 0, 48*(len(e.files)+1))
	}
	start := len(e.idText)
	e.idText = e.d.ids.AppendEncode(e.idText, canonical, name)
	return bytesView(e.idText[start:len(e.idText):len(e.idText)])
}

// getter reads one canonical value.
type getter func(e *env) value

// attOrBound reads from the attachment in scope, or from the request's
// bound values when no attachment is in scope.
func attOrBound(fromAtt func(a *upstream.Attachment) value, boundName string) getter {
	return func(e *env) value {
		if e.att != nil {
			return fromAtt(e.att)
		}
		if e.bound != nil {
			if s, ok := e.bound.strs.get(boundName); ok {
				return strValue(s)
			}
		}
		return value{}
	}
}

func attString(name string, field func(a *upstream.Attachment) *string) getter {
	return attOrBound(func(a *upstream.Attachment) value { return strValue(*field(a)) }, name)
}

// attachmentStrings are the canonical names of an attachment's text
// fields: templates read them (getters) and answers parsed from an
// upstream write them (read.go), through this one table.
var attachmentStrings = map[string]func(a *upstream.Attachment) *string{
	"name":              func(a *upstream.Attachment) *string { return &a.Name },
	"type":              func(a *upstream.Attachment) *string { return &a.Type },
	"field":             func(a *upstream.Attachment) *string { return &a.Field },
	"record.collection": func(a *upstream.Attachment) *string { return &a.Record.Collection },
	"record.id":         func(a *upstream.Attachment) *string { return &a.Record.ID },
	"sha256":            func(a *upstream.Attachment) *string { return &a.SHA256 },
	"md5":               func(a *upstream.Attachment) *string { return &a.MD5 },
	"title":             func(a *upstream.Attachment) *string { return &a.Title },
	"description":       func(a *upstream.Attachment) *string { return &a.Description },
	"category":          func(a *upstream.Attachment) *string { return &a.Category },
	"status":            func(a *upstream.Attachment) *string { return &a.Status },
	"external_id":       func(a *upstream.Attachment) *string { return &a.ExternalID },
	"owner":             func(a *upstream.Attachment) *string { return &a.Owner },
}

// getters maps the canonical names an expression may use: the attachment's
// text fields, and the values built below.
var getters = func() map[string]getter {
	g := map[string]getter{}
	for name, field := range attachmentStrings {
		g[name] = attString(name, field)
	}
	// A record in scope with no attachment ($records[shape]) is named by
	// its own ref, not the request's: a listing's records are many.
	for name, part := range map[string]func(r upstream.RecordRef) string{
		"record.collection": func(r upstream.RecordRef) string { return r.Collection },
		"record.id":         func(r upstream.RecordRef) string { return r.ID },
	} {
		fromAtt := g[name]
		g[name] = func(e *env) value {
			if e.att == nil && e.rec != nil && e.rec.Ref.ID != "" {
				return strValue(part(e.rec.Ref))
			}
			return fromAtt(e)
		}
	}
	for name, get := range otherGetters {
		g[name] = get
	}
	return g
}()

// otherGetters are the canonical values that are not text fields.
var otherGetters = map[string]getter{
	"size": attOrBound(func(a *upstream.Attachment) value {
		return value{kind: vInt, n: a.Size}
	}, "size"),
	"has_content": attOrBound(func(a *upstream.Attachment) value {
		return value{kind: vBool, b: a.HasContent}
	}, "has_content"),
	"created": attOrBound(func(a *upstream.Attachment) value {
		return value{kind: vTime, t: a.Created}
	}, "created"),
	"modified": attOrBound(func(a *upstream.Attachment) value {
		return value{kind: vTime, t: a.Modified}
	}, "modified"),
	"tags": attOrBound(func(a *upstream.Attachment) value {
		return value{kind: vStrings, list: a.Tags}
	}, "tags"),
	"id": func(e *env) value {
		if e.att != nil && e.rawIDs {
			return strValue(e.att.ID)
		}
		if e.att == nil || e.d.ids == nil {
			return value{}
		}
		return strValue(e.encodeID(e.att.ID, e.att.Name))
	},
	"record.data": func(e *env) value {
		if e.rec == nil || len(e.rec.Data) == 0 {
			return value{kind: vRaw, raw: []byte("{}")}
		}
		return value{kind: vRaw, raw: e.rec.Data}
	},
	"record.created": func(e *env) value {
		if e.rec == nil {
			return value{}
		}
		return value{kind: vTime, t: e.rec.Created}
	},
	"record.modified": func(e *env) value {
		if e.rec == nil {
			return value{}
		}
		return value{kind: vTime, t: e.rec.Modified}
	},
	"origin": func(e *env) value { return strValue(e.origin) },
	"total":  func(e *env) value { return value{kind: vInt, n: int64(e.total)} },
	"link":   func(e *env) value { return strValue(e.link) },
	// request_id is the request's X-Request-Id, for a client to quote in
	// an error and an operator to find in the access log.
	"request_id": func(e *env) value { return strValue(e.requestID) },
	"mount":      func(e *env) value { return strValue(e.d.spec.Mount) },
	"message":    func(e *env) value { return strValue(e.errMessage) },
	"kind":       func(e *env) value { return strValue(string(e.errKind)) },
	"error.status": func(e *env) value {
		return value{kind: vInt, n: int64(e.errStatus)}
	},
}

// modifier transforms a value; it is compiled with its argument.
type modifier func(e *env, v value) value

func compileModifier(name, arg string) (modifier, error) {
	switch name {
	case "folder":
		// The default field is "no folder"; any other field is a path
		// segment followed by a slash.
		return func(e *env, v value) value {
			s := v.text()
			if s == "" || s == e.d.defaultField {
				return strValue("")
			}
			return strValue(s + "/")
		}, nil
	case "urlpath":
		return func(_ *env, v value) value {
			if pathSafe(v.text()) {
				return v // nothing to escape, as in nearly every path
			}
			segs := strings.Split(v.text(), "/")
			for i, s := range segs {
				segs[i] = url.PathEscape(s)
			}
			return strValue(strings.Join(segs, "/"))
		}, nil
	case "urlsegment":
		// One path segment: a '/' inside the value is escaped too.
		return func(_ *env, v value) value { return strValue(url.PathEscape(v.text())) }, nil
	case "time":
		if arg == "" {
			return nil, fmt.Errorf("modifier time needs a layout, e.g. time:2006-01-02 15:04:05")
		}
		return func(_ *env, v value) value {
			if v.kind != vTime {
				return v
			}
			return strValue(v.t.UTC().Format(arg))
		}, nil
	case "null_if_empty":
		return func(_ *env, v value) value {
			if (v.kind == vString && v.s == "") || (v.kind == vTime && v.t.IsZero()) {
				return value{}
			}
			return v
		}, nil
	case "string":
		return func(_ *env, v value) value { return strValue(v.text()) }, nil
	case "not":
		return func(_ *env, v value) value { return value{kind: vBool, b: !(v.kind == vBool && v.b)} }, nil
	case "upper":
		return func(_ *env, v value) value { return strValue(strings.ToUpper(v.text())) }, nil
	case "default":
		// A literal for an empty value.
		return func(_ *env, v value) value {
			if isEmpty(v) {
				return strValue(arg)
			}
			return v
		}, nil
	case "or":
		// Another canonical value for an empty one: $title|or:name.
		other, ok := getters[arg]
		if !ok {
			return nil, fmt.Errorf("modifier or:%s: unknown name %q", arg, arg)
		}
		return func(e *env, v value) value {
			if isEmpty(v) {
				return other(e)
			}
			return v
		}, nil
	case "no_content":
		// What an attachment without bytes (a placeholder) shows instead:
		// the literal argument, or null when there is none.
		return func(e *env, v value) value {
			if e.att == nil || e.att.HasContent {
				return v
			}
			if arg == "" {
				return value{}
			}
			return strValue(arg)
		}, nil
	}
	return nil, fmt.Errorf("unknown modifier %q", name)
}

func isEmpty(v value) bool {
	switch v.kind {
	case vNull:
		return true
	case vString:
		return v.s == ""
	case vTime:
		return v.t.IsZero()
	case vStrings:
		return len(v.list) == 0
	}
	return false
}

// expr is a compiled expression: a getter and its modifiers.
type expr struct {
	src  string
	name string
	get  getter
	mods []modifier
	// modSrc keeps each modifier's name and argument, which reading an
	// answer back consults to undo them.
	modSrc [][2]string
}

func (x *expr) eval(e *env) value {
	v := x.get(e)
	for _, m := range x.mods {
		v = m(e, v)
	}
	return v
}

// parsedExpr is the syntax of "$name[shape]|mod|mod:arg" before compiling.
type parsedExpr struct {
	name  string
	shape string
	mods  [][2]string
}

func parseExpr(src string) (parsedExpr, error) {
	var p parsedExpr
	s := strings.TrimPrefix(src, "$")
	parts := strings.Split(s, "|")
	head := parts[0]
	if i := strings.IndexByte(head, '['); i >= 0 {
		if !strings.HasSuffix(head, "]") {
			return p, fmt.Errorf("expression %q: unclosed [", src)
		}
		p.shape = head[i+1 : len(head)-1]
		head = head[:i]
	}
	if head == "" {
		return p, fmt.Errorf("expression %q: no name", src)
	}
	p.name = head
	for _, m := range parts[1:] {
		name, arg, _ := strings.Cut(m, ":")
		p.mods = append(p.mods, [2]string{name, arg})
	}
	return p, nil
}

// compileScalarExpr compiles an expression that yields one value.
func compileScalarExpr(src string) (*expr, error) {
	p, err := parseExpr(src)
	if err != nil {
		return nil, err
	}
	if p.shape != "" {
		return nil, fmt.Errorf("expression %q: a [shape] list is not allowed here", src)
	}
	g, ok := getters[p.name]
	if !ok {
		return nil, fmt.Errorf("expression %q: unknown name %q", src, p.name)
	}
	x := &expr{src: src, name: p.name, get: g, modSrc: p.mods}
	for _, m := range p.mods {
		mod, err := compileModifier(m[0], m[1])
		if err != nil {
			return nil, fmt.Errorf("expression %q: %w", src, err)
		}
		x.mods = append(x.mods, mod)
	}
	return x, nil
}

// pathSafe reports whether url.PathEscape leaves every '/'-separated
// segment of s as it is: only unreserved characters and the sub-delimiters
// a path segment may hold.
func pathSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-_.~$&+:=@/", c) >= 0:
		default:
			return false
		}
	}
	return true
}
