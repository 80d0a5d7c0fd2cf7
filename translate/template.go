package translate

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"
	"gopkg.in/yaml.v3"
)

// tmpl renders one JSON value of a response template.
type tmpl interface {
	appendJSON(dst []byte, e *env) []byte
}

// templateCompiler compiles YAML template trees for one dialect.
type templateCompiler struct {
	shapes map[string]*tObject
	links  *LinkSuffixes
	// allowContent permits $content|base64, which only a download's
	// top-level response may use.
	allowContent bool
	usesContent  bool
	usesFiles    bool
	usesRecord   bool
	usesID       bool
	// recordShapes names the shapes that show records (and so their files),
	// which only $records[shape] may use.
	recordShapes map[string]bool
}

func (tc *templateCompiler) compile(n *yaml.Node) (tmpl, error) {
	switch n.Kind {
	case yaml.MappingNode:
		return tc.compileObject(n)
	case yaml.SequenceNode:
		arr := &tArray{}
		for _, c := range n.Content {
			t, err := tc.compile(c)
			if err != nil {
				return nil, err
			}
			arr.items = append(arr.items, t)
		}
		return arr, nil
	case yaml.ScalarNode:
		return tc.compileScalar(n)
	case yaml.AliasNode:
		return tc.compile(n.Alias)
	}
	return nil, fmt.Errorf("line %d: unsupported template node", n.Line)
}

func (tc *templateCompiler) compileObject(n *yaml.Node) (*tObject, error) {
	obj := &tObject{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		t, err := tc.compile(v)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(k.Value, "$") {
			// A "$..." key spreads an object's keys into this one.
			obj.spreads = append(obj.spreads, t)
			continue
		}
		obj.keys = append(obj.keys, k.Value)
		obj.encodedKeys = append(obj.encodedKeys, appendJSONString(nil, k.Value))
		obj.vals = append(obj.vals, t)
	}
	return obj, nil
}

func (tc *templateCompiler) compileScalar(n *yaml.Node) (tmpl, error) {
	switch n.Tag {
	case "!!null":
		return tLiteral("null"), nil
	case "!!bool", "!!int", "!!float":
		return tLiteral(n.Value), nil
	}
	s := n.Value
	if strings.Contains(s, "${") {
		return tc.compileInterpolation(n)
	}
	if !strings.HasPrefix(s, "$") {
		return tLiteral(appendJSONString(nil, s)), nil
	}
	p, err := parseExpr(s)
	if err != nil {
		return nil, fmt.Errorf("line %d: %w", n.Line, err)
	}
	switch {
	case p.name == "content":
		if !tc.allowContent {
			return nil, fmt.Errorf("line %d: $content is only allowed in a download route's response", n.Line)
		}
		if len(p.mods) != 1 || p.mods[0][0] != "base64" {
			return nil, fmt.Errorf("line %d: $content must be written $content|base64 inside JSON", n.Line)
		}
		tc.usesContent = true
		return tContent{}, nil
	case p.shape != "":
		shape, ok := tc.shapes[p.shape]
		if !ok {
			return nil, fmt.Errorf("line %d: unknown shape %q", n.Line, p.shape)
		}
		if p.name == "records" {
			tc.usesFiles, tc.usesRecord = true, true
			return &tRecords{shape: shape}, nil
		}
		if tc.recordShapes[p.shape] {
			return nil, fmt.Errorf("line %d: shape `%s` shows records or their files; only `$records[%s]` can use it", n.Line, p.shape, p.shape)
		}
		switch p.name {
		case "files":
			tc.usesFiles = true
			return &tList{shape: shape}, nil
		case "record.fields":
			tc.usesFiles, tc.usesRecord = true, true
			return &tFields{shape: shape}, nil
		case "attachment":
			return &tShape{shape: shape}, nil
		}
		return nil, fmt.Errorf("line %d: %q takes no shape; only $files[shape], $records[shape], $record.fields[shape] and $attachment[shape] do", n.Line, p.name)
	}
	if p.name == "record.links" {
		if tc.links == nil {
			return nil, fmt.Errorf("line %d: $record.links needs the dialect's links suffixes", n.Line)
		}
		tc.usesFiles, tc.usesRecord, tc.usesID = true, true, true
		return &tLinks{s: tc.links}, nil
	}
	x, err := compileScalarExpr(s)
	if err != nil {
		return nil, fmt.Errorf("line %d: %w", n.Line, err)
	}
	if p.name == "record.data" {
		tc.usesRecord = true
	}
	tc.usesID = tc.usesID || p.name == "id"
	return &tExpr{x: x}, nil
}

func (tc *templateCompiler) compileInterpolation(n *yaml.Node) (tmpl, error) {
	t := &tInterp{}
	s := n.Value
	for s != "" {
		i := strings.Index(s, "${")
		if i < 0 {
			t.parts = append(t.parts, interpPart{lit: s, litJSON: appendJSONEscaped(nil, s)})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, interpPart{lit: s[:i], litJSON: appendJSONEscaped(nil, s[:i])})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("line %d: unclosed ${ in %q", n.Line, n.Value)
		}
		x, err := compileScalarExpr(s[i+2 : i+j])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		tc.usesID = tc.usesID || x.name == "id"
		t.parts = append(t.parts, interpPart{x: x})
		s = s[i+j+1:]
	}
	return t, nil
}

// tLiteral is JSON text fixed at compile time.
type tLiteral []byte

func (t tLiteral) appendJSON(dst []byte, _ *env) []byte { return append(dst, t...) }

// tExpr is one expression's value.
type tExpr struct{ x *expr }

func (t *tExpr) appendJSON(dst []byte, e *env) []byte { return appendValue(dst, t.x.eval(e)) }

// tInterp is a string with ${...} parts.
type tInterp struct{ parts []interpPart }

type interpPart struct {
	lit     string
	litJSON []byte // lit JSON-escaped, at compile time
	x       *expr
}

// appendJSON renders the string; a part that is null (`no_content`,
// `null_if_empty`) makes the whole string null, so that a link to bytes a
// placeholder does not have is not made up.
func (t *tInterp) appendJSON(dst []byte, e *env) []byte {
	start := len(dst)
	dst = append(dst, '"')
	for _, p := range t.parts {
		if p.x == nil {
			dst = append(dst, p.litJSON...)
			continue
		}
		v := p.x.eval(e)
		if v.kind == vNull && len(p.x.mods) > 0 {
			return append(dst[:start], "null"...)
		}
		dst = appendJSONEscaped(dst, v.text())
	}
	return append(dst, '"')
}

// tArray is a fixed JSON array.
type tArray struct{ items []tmpl }

func (t *tArray) appendJSON(dst []byte, e *env) []byte {
	dst = append(dst, '[')
	for i, it := range t.items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = it.appendJSON(dst, e)
	}
	return append(dst, ']')
}

// tObject is a JSON object; spreads merge other objects' keys into it.
type tObject struct {
	keys        []string
	encodedKeys [][]byte
	vals        []tmpl
	spreads     []tmpl
}

func (t *tObject) appendJSON(dst []byte, e *env) []byte {
	if len(t.spreads) > 0 {
		return append(dst, t.merged(e)...)
	}
	dst = append(dst, '{')
	for i, k := range t.encodedKeys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, k...)
		dst = append(dst, ':')
		dst = t.vals[i].appendJSON(dst, e)
	}
	return append(dst, '}')
}

// merged builds an object with spreads: each spread's keys in order,
// then the template's own keys, a later value replacing an earlier one in
// its first place (as sjson's set would, without re-reading the document
// for every key: a record answer was the slowest small request).
func (t *tObject) merged(e *env) []byte {
	type pair struct {
		key string
		val []byte
	}
	var pairs []pair
	at := map[string]int{}
	put := func(k string, v []byte) {
		if i, ok := at[k]; ok {
			pairs[i].val = v
			return
		}
		at[k] = len(pairs)
		pairs = append(pairs, pair{k, v})
	}
	for _, sp := range t.spreads {
		src := sp.appendJSON(nil, e)
		res := gjson.Parse(bytesView(src))
		if !res.IsObject() {
			continue
		}
		res.ForEach(func(k, v gjson.Result) bool {
			if v.Index > 0 { // the value's place in src: no copy needed
				put(k.String(), src[v.Index:v.Index+len(v.Raw)])
			} else {
				put(k.String(), []byte(v.Raw))
			}
			return true
		})
	}
	for i, k := range t.keys {
		put(k, t.vals[i].appendJSON(nil, e))
	}
	out := []byte{'{'}
	for i, p := range pairs {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendJSONString(out, p.key)
		out = append(out, ':')
		out = append(out, p.val...)
	}
	return append(out, '}')
}

// tShape renders the attachment in scope through a shape.
type tShape struct{ shape *tObject }

func (t *tShape) appendJSON(dst []byte, e *env) []byte {
	if e.att == nil {
		return append(dst, "null"...)
	}
	return t.shape.appendJSON(dst, e)
}

// tList renders the files in scope through a shape.
type tList struct{ shape *tObject }

func (t *tList) appendJSON(dst []byte, e *env) []byte {
	dst = append(dst, '[')
	saved := e.att
	for i := range e.files {
		if i > 0 {
			dst = append(dst, ',')
		}
		e.att = &e.files[i]
		dst = t.shape.appendJSON(dst, e)
	}
	e.att = saved
	return append(dst, ']')
}

// tRecords renders a page of records through a shape, each with its own
// data and files in scope.
type tRecords struct{ shape *tObject }

func (t *tRecords) appendJSON(dst []byte, e *env) []byte {
	dst = append(dst, '[')
	savedRec, savedFiles := e.rec, e.files
	for i := range e.records {
		if i > 0 {
			dst = append(dst, ',')
		}
		e.rec, e.files = &e.records[i].Record, e.records[i].Files
		dst = t.shape.appendJSON(dst, e)
	}
	e.rec, e.files = savedRec, savedFiles
	return append(dst, ']')
}

// tFields renders the files in scope as an object of field -> list.
type tFields struct{ shape *tObject }

func (t *tFields) appendJSON(dst []byte, e *env) []byte {
	dst = append(dst, '{')
	saved := e.att
	first := true
	for i := 0; i < len(e.files); {
		field := e.files[i].Field
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, field)
		dst = append(dst, ':', '[')
		start := i
		for ; i < len(e.files) && e.files[i].Field == field; i++ {
			if i > start {
				dst = append(dst, ',')
			}
			e.att = &e.files[i]
			dst = t.shape.appendJSON(dst, e)
		}
		dst = append(dst, ']')
	}
	e.att = saved
	return append(dst, '}')
}

// tLinks renders the files in scope as link attributes, per field F:
// F<ids> (the ids), F<names> (id -> name), and F<id>, F<name> for the last
// one, which is what a single-file field holds.
type tLinks struct{ s *LinkSuffixes }

func (t *tLinks) appendJSON(dst []byte, e *env) []byte {
	dst = append(dst, '{')
	for i := 0; i < len(e.files); {
		field := e.files[i].Field
		j := i
		for j < len(e.files) && e.files[j].Field == field {
			j++
		}
		group := e.files[i:j]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, field+t.s.IDs)
		dst = append(dst, ':', '[')
		for k := range group {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, e.d.ids.Encode(group[k].ID, group[k].Name))
		}
		dst = append(dst, "],"...)
		dst = appendJSONString(dst, field+t.s.Names)
		dst = append(dst, ':', '{')
		for k := range group {
			if k > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, e.d.ids.Encode(group[k].ID, group[k].Name))
			dst = append(dst, ':')
			dst = appendJSONString(dst, group[k].Name)
		}
		last := group[len(group)-1]
		dst = append(dst, "},"...)
		dst = appendJSONString(dst, field+t.s.ID)
		dst = append(dst, ':')
		dst = appendJSONString(dst, e.d.ids.Encode(last.ID, last.Name))
		dst = append(dst, ',')
		dst = appendJSONString(dst, field+t.s.Name)
		dst = append(dst, ':')
		dst = appendJSONString(dst, last.Name)
		i = j
	}
	return append(dst, '}')
}

// tContent marks where a download's content goes, base64-encoded. The
// bytes are streamed in after rendering, so the template renders an empty
// string and records the offset between its quotes.
type tContent struct{}

func (tContent) appendJSON(dst []byte, e *env) []byte {
	dst = append(dst, '"')
	e.contentAt = len(dst)
	return append(dst, '"')
}

// appendValue writes v as JSON.
func appendValue(dst []byte, v value) []byte {
	switch v.kind {
	case vString:
		return appendJSONString(dst, v.s)
	case vInt:
		return strconv.AppendInt(dst, v.n, 10)
	case vBool:
		return strconv.AppendBool(dst, v.b)
	case vRaw:
		return append(dst, v.raw...)
	case vTime:
		if v.t.IsZero() {
			return append(dst, "null"...)
		}
		dst = append(dst, '"')
		dst = v.t.UTC().AppendFormat(dst, defaultTimeLayout)
		return append(dst, '"')
	case vStrings:
		dst = append(dst, '[')
		for i, s := range v.list {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, s)
		}
		return append(dst, ']')
	}
	return append(dst, "null"...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendJSONEscaped(dst, s)
	return append(dst, '"')
}

// appendJSONEscaped writes s escaped for the inside of a JSON string.
func appendJSONEscaped(dst []byte, s string) []byte {
	// Runs of bytes that need no escape are copied whole: most of an
	// answer is names and URLs with nothing to escape.
	run := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[run:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			run = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(append(dst, s[run:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(append(dst, s[run:i]...), `\u202`...)
			dst = append(dst, hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		run = i
	}
	return append(dst, s[run:]...)
}

// escapePathKey escapes a literal key for use as an sjson/gjson path.
func escapePathKey(k string) string {
	// ':' too: sjson reads a leading ':' as "this is an object key".
	const special = `.*?|#@\!:`
	if !strings.ContainsAny(k, special) {
		return k
	}
	var sb strings.Builder
	for _, r := range k {
		if strings.ContainsRune(special, r) {
			sb.WriteByte('\\')
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// Compile-time check that every template node kind satisfies tmpl.
var (
	_ tmpl = tLiteral(nil)
	_ tmpl = (*tExpr)(nil)
	_ tmpl = (*tInterp)(nil)
	_ tmpl = (*tArray)(nil)
	_ tmpl = (*tObject)(nil)
	_ tmpl = (*tList)(nil)
	_ tmpl = (*tFields)(nil)
	_ tmpl = tContent{}
	_ tmpl = (*tLinks)(nil)
)
