package translate

import (
	"bufio"
	"bytes"
	"io"
	"net/url"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/dragoman-gw/dragoman/upstream"
)

// bound holds the canonical values decoded from one request.
type bound struct {
	strs map[string]string
	tags []string

	// content is the attachment's bytes, streamed or decoded; contentMax is
	// the cap the store enforces while writing them.
	content    io.Reader
	contentMax int64

	// data is a record update's non-file data (a JSON object), fields its
	// file fields (field -> canonical ids), emptyFields the keys that held
	// an empty array and are file fields only if the record has them.
	data        []byte
	fields      map[string][]string
	emptyFields []string

	// idName is the name part of an id whose format carries the name.
	idName    string
	idHasName bool
}

func (b *bound) str(k string) (string, bool) {
	v, ok := b.strs[k]
	return v, ok
}

func (b *bound) record() upstream.RecordRef {
	return upstream.RecordRef{Collection: b.strs["record.collection"], ID: b.strs["record.id"]}
}

// requestSource is what bindings read from: the fiber context and, for
// JSON routes, the parsed body.
type requestSource struct {
	c    *fiber.Ctx
	body []byte
}

// decode reads the request into canonical values, checking every value:
// a request that fails here has written nothing.
func (r *compiledRoute) decode(c *fiber.Ctx) (*bound, error) {
	b := &bound{strs: make(map[string]string, len(r.binds))}
	src := requestSource{c: c}
	switch r.spec.Body.Kind {
	case "json":
		body, err := readJSONBody(c, r.bodyMax)
		if err != nil {
			return nil, err
		}
		if !gjson.ValidBytes(body) || !gjson.ParseBytes(body).IsObject() {
			return nil, upstream.Errorf(upstream.KindInvalid, "request body is not a valid JSON object")
		}
		src.body = body
	}
	for _, bd := range r.binds {
		if err := r.bindOne(b, bd, src); err != nil {
			return nil, err
		}
	}
	if err := r.checkBound(b); err != nil {
		return nil, err
	}
	return b, nil
}

func (r *compiledRoute) bindOne(b *bound, bd *binding, src requestSource) error {
	if bd.source == "body" {
		stream, err := rawBody(src.c, r.bodyMaxFor(bd))
		if err != nil {
			return err
		}
		b.content, b.contentMax = stream, r.bodyMaxFor(bd)
		return nil
	}
	raw, ok := bd.read(src)
	if !ok && bd.def != "" {
		raw, ok = gjson.Result{Type: gjson.String, Str: bd.def}, true
	}
	if !ok || (raw.Type == gjson.String && raw.Str == "" && bd.required) {
		if bd.required {
			return bd.fail(upstream.KindMissing, "missing", "missing parameter "+bd.paramName())
		}
		return nil
	}
	switch bd.target {
	case "content":
		return r.bindContent(b, bd, raw)
	case "data":
		return r.bindData(b, bd, raw)
	case "tags":
		return bindTags(b, bd, raw)
	}
	if raw.Type != gjson.String && raw.Type != gjson.Number {
		return bd.fail(upstream.KindInvalid, "invalid", bd.paramName()+" must be a string")
	}
	s := raw.String()
	switch bd.codec {
	case "dirname":
		s = path.Dir(s)
		if s == "." {
			s = ""
		}
	case "basename":
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			s = s[i+1:]
		}
	}
	if bd.maxLen > 0 && len([]rune(s)) > bd.maxLen {
		return bd.fail(upstream.KindInvalid, "too_long", bd.paramName()+" is too long")
	}
	if bd.target == "id" {
		id, name, ok := r.d.ids.Decode(s)
		if !ok {
			return upstream.Errorf(upstream.KindNotFound, "attachment not found")
		}
		b.strs["id"], b.idName, b.idHasName = id, name, r.d.ids.hasName
		return nil
	}
	b.strs[bd.target] = strings.Clone(s)
	return nil
}

// read finds a binding's raw value in the request. Path, query and header
// values come back as gjson strings so every source looks alike.
func (bd *binding) read(src requestSource) (gjson.Result, bool) {
	str := func(s string) (gjson.Result, bool) { return gjson.Result{Type: gjson.String, Str: s}, true }
	switch bd.source {
	case "path":
		v := src.c.Params(bd.arg)
		if v == "" {
			return gjson.Result{}, false
		}
		if bd.arg == "*" {
			// Decode each segment on its own, so an encoded "/" stays inside
			// its segment and is refused by name checks, never splits a path.
			segs := strings.Split(v, "/")
			for i, s := range segs {
				u, err := url.PathUnescape(s)
				if err != nil {
					return str("\x00") // refused by the name checks
				}
				if strings.Contains(u, "/") {
					u = strings.ReplaceAll(u, "/", "\x00")
				}
				segs[i] = u
			}
			return str(strings.Join(segs, "/"))
		}
		u, err := url.PathUnescape(v)
		if err != nil {
			return str("\x00")
		}
		return str(u)
	case "query":
		if !src.c.Context().QueryArgs().Has(bd.arg) {
			return gjson.Result{}, false
		}
		return str(src.c.Query(bd.arg))
	case "header":
		v := src.c.Get(bd.arg)
		if v == "" {
			return gjson.Result{}, false
		}
		return str(v)
	case "bodyjson":
		res := gjson.GetBytes(src.body, bd.arg)
		if !res.Exists() || res.Type == gjson.Null {
			return gjson.Result{}, false
		}
		return res, true
	case "const":
		return str(bd.arg)
	}
	return gjson.Result{}, false
}

// paramName is the name a client knows a value by, for error messages.
func (bd *binding) paramName() string {
	if bd.source == "path" && bd.arg == "*" {
		return "file name"
	}
	if i := strings.LastIndexByte(bd.arg, '.'); i >= 0 {
		return bd.arg[i+1:]
	}
	return bd.arg
}

// fail builds an error, using the binding's own message when it has one.
func (bd *binding) fail(kind upstream.Kind, key, fallback string) error {
	if m, ok := bd.messages[key]; ok {
		return upstream.Errorf(kind, "%s", m)
	}
	return upstream.Errorf(kind, "%s", fallback)
}

func (r *compiledRoute) bodyMaxFor(bd *binding) int64 {
	if bd.max > 0 {
		return bd.max
	}
	return r.bodyMax
}

func (r *compiledRoute) bindContent(b *bound, bd *binding, raw gjson.Result) error {
	if raw.Type != gjson.String {
		return bd.fail(upstream.KindInvalid, "invalid", bd.paramName()+" must be a string")
	}
	enc := []byte(raw.Str)
	if bd.max > 0 {
		// Refuse from the encoded length before decoding anything.
		if est := int64(len(enc)) / 4 * 3; est > bd.max+3 {
			return upstream.Errorf(upstream.KindTooLarge, "file is larger than %d bytes", bd.max)
		}
	}
	var data []byte
	switch bd.codec {
	case "base64":
		d, err := DecodeBase64(enc)
		if err != nil {
			return bd.fail(upstream.KindInvalid, "invalid", "invalid base64 in "+bd.paramName())
		}
		data = d
	case "datauri":
		u, err := ParseDataURI(enc)
		if err != nil {
			return bd.fail(upstream.KindInvalid, "invalid", upstream.MessageOf(err))
		}
		data = u.Data
		if _, ok := b.strs["type"]; !ok {
			b.strs["type"] = u.Type
		}
	}
	if bd.max > 0 && int64(len(data)) > bd.max {
		return upstream.Errorf(upstream.KindTooLarge, "file is larger than %d bytes", bd.max)
	}
	b.content, b.contentMax = bytes.NewReader(data), bd.max
	return nil
}

func bindTags(b *bound, bd *binding, raw gjson.Result) error {
	switch {
	case raw.IsArray():
		for _, t := range raw.Array() {
			if t.Type != gjson.String {
				return bd.fail(upstream.KindInvalid, "invalid", "tags must be strings")
			}
			b.tags = append(b.tags, t.Str)
		}
	case raw.Type == gjson.String:
		b.tags = append(b.tags, raw.Str)
	default:
		return bd.fail(upstream.KindInvalid, "invalid", "tags must be a list of strings")
	}
	return nil
}

// bindData splits a record update's data object into file fields (arrays
// of attachment objects in the binding's shape) and opaque data.
func (r *compiledRoute) bindData(b *bound, bd *binding, raw gjson.Result) error {
	if !raw.IsObject() {
		return bd.fail(upstream.KindInvalid, "invalid", bd.paramName()+" must be an object")
	}
	opaque := []byte("{}")
	b.fields = map[string][]string{}
	idKey := r.d.shapeIDKeys[bd.files]
	shape := r.d.shapes[bd.files]
	var err error
	raw.ForEach(func(k, v gjson.Result) bool {
		if bd.files != "" && v.IsArray() {
			items := v.Array()
			if len(items) == 0 {
				b.emptyFields = append(b.emptyFields, k.String())
				return true
			}
			if items[0].IsObject() && items[0].Get(escapePathKey(idKey)).Exists() {
				ids := make([]string, 0, len(items))
				for _, it := range items {
					id, e := r.attachmentRef(it, shape, idKey)
					if e != nil {
						err = e
						return false
					}
					ids = append(ids, id)
				}
				if e := ValidateField(k.String()); e != nil {
					err = e
					return false
				}
				b.fields[k.String()] = ids
				return true
			}
		}
		opaque, _ = sjson.SetRawBytes(opaque, escapePathKey(k.String()), []byte(v.Raw))
		return true
	})
	if err != nil {
		return err
	}
	b.data = opaque
	return nil
}

// attachmentRef reads the canonical id out of an attachment object that a
// client sent back, insisting on the shape's full set of keys.
func (r *compiledRoute) attachmentRef(it gjson.Result, shape *tObject, idKey string) (string, error) {
	if !it.IsObject() {
		return "", upstream.Errorf(upstream.KindInvalid, "each attachment must be an object")
	}
	for _, k := range shape.keys {
		if !it.Get(escapePathKey(k)).Exists() {
			return "", upstream.Errorf(upstream.KindInvalid, "each attachment object must carry %s", strings.Join(shape.keys, ", "))
		}
	}
	native := it.Get(escapePathKey(idKey)).String()
	id, _, ok := r.d.ids.Decode(native)
	if !ok {
		return "", upstream.Errorf(upstream.KindInvalid, "attachment %s does not exist", native)
	}
	return id, nil
}

// checkBound validates names and fills defaults after every binding ran.
func (r *compiledRoute) checkBound(b *bound) error {
	for _, k := range []string{"record.collection", "record.id"} {
		if v, ok := b.strs[k]; ok {
			if err := validateRecordPart(strings.TrimPrefix(k, "record."), v); err != nil {
				return err
			}
		}
	}
	if bd := r.byTarget["field"]; bd != nil {
		if b.strs["field"] == "" {
			b.strs["field"] = r.d.defaultField
		}
		if err := ValidateField(b.strs["field"]); err != nil {
			return err
		}
	}
	if name, ok := b.strs["name"]; ok {
		if err := ValidateName(name); err != nil {
			return err
		}
	}
	return nil
}

// sniffContent fills an empty or generic type from the content's first
// bytes, keeping the stream whole.
func sniffContent(b *bound) {
	if !isGenericType(b.strs["type"]) || b.content == nil {
		return
	}
	br := bufio.NewReaderSize(b.content, 512)
	head, _ := br.Peek(512)
	b.strs["type"] = SniffType(head, b.strs["name"])
	b.content = br
}
