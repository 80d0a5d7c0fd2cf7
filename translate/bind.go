package translate

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/gofiber/fiber/v2"
	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/dragoman-gw/dragoman/upstream"
)

// bound holds the canonical values decoded from one request.
type bound struct {
	strs boundStrs
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
	candidates  map[string]linkCandidate
	// natives remembers the client's spelling of each id it sent, so an
	// error names what the client sent rather than an internal id.
	natives map[string]string

	// idName is the name part of an id whose format carries the name.
	idName    string
	idHasName bool

	// expectedSize is the announced size of a file uploaded in chunks.
	expectedSize int64

	// offset and limit page a listing (limit 0: no cap); where filters a
	// record listing by record data (attribute -> value).
	offset, limit int
	where         map[string]string

	// headOnly marks a HEAD of a raw download: it answers from the
	// attachment's metadata and leaves its bytes unread.
	headOnly bool

	// ex is the request's exchange, allocated with the values it carries
	// (run fills it): a struct of its own made one more allocation per
	// request, for an operation called through a function value.
	ex exchange
	// rc is the context the request's store work runs in, for the same
	// reason (watchedStoreContext).
	rc requestContext

	// late, for multipart bodies, reads the values that follow the file
	// part and binds them; the store calls it (through Finish) once the
	// file is consumed.
	late func() error
}

// boundStrs maps the names a request bound (record.id, field, name, ...)
// to their values. A route binds a handful, so they live in the array
// inside the bound values and are found by a scan: a map was two
// allocations per request. Past the array, more takes the rest.
type boundStrs struct {
	n    int
	kv   [boundInline]struct{ k, v string }
	more map[string]string
}

// boundInline is more names than any route of routes.yaml binds.
const boundInline = 12

// makeStrs is a boundStrs holding the name, value pairs kv.
func makeStrs(kv ...string) boundStrs {
	var s boundStrs
	for i := 0; i+1 < len(kv); i += 2 {
		s.set(kv[i], kv[i+1])
	}
	return s
}

func (s *boundStrs) get(k string) (string, bool) {
	for i := range s.n {
		if s.kv[i].k == k {
			return s.kv[i].v, true
		}
	}
	v, ok := s.more[k]
	return v, ok
}

// val is the value bound to k, or "".
func (s *boundStrs) val(k string) string {
	v, _ := s.get(k)
	return v
}

func (s *boundStrs) set(k, v string) {
	for i := range s.n {
		if s.kv[i].k == k {
			s.kv[i].v = v
			return
		}
	}
	if _, ok := s.more[k]; ok || s.n == boundInline {
		if s.more == nil {
			s.more = map[string]string{}
		}
		s.more[k] = v
		return
	}
	s.kv[s.n].k, s.kv[s.n].v = k, v
	s.n++
}

func (b *bound) str(k string) (string, bool) {
	v, ok := b.strs.get(k)
	return v, ok
}

func (b *bound) record() upstream.RecordRef {
	return upstream.RecordRef{Collection: b.strs.val("record.collection"), ID: b.strs.val("record.id")}
}

// requestSource is what bindings read from: the fiber context and, for
// JSON routes, the parsed body.
type requestSource struct {
	c    *fiber.Ctx
	body []byte
	form *multipartForm
}

// decode reads the request into canonical values, checking every value:
// a request that fails here has written nothing.
func (r *compiledRoute) decode(c *fiber.Ctx) (*bound, error) {
	b := &bound{}
	src := requestSource{c: c}
	switch r.spec.Body.Kind {
	case "json":
		body, err := readJSONBody(c, r.bodyMax)
		if err != nil {
			return nil, err
		}
		if !gjson.ValidBytes(body) || !gjson.Parse(bytesView(body)).IsObject() {
			return nil, upstream.Errorf(upstream.KindInvalid, "request body is not a valid JSON object")
		}
		src.body = body
	case "multipart":
		form, err := openMultipart(c, r.bodyMax, r.spec.Body.File)
		if err != nil {
			return nil, err
		}
		src.form = form
	}
	var deferred []*binding
	for _, bd := range r.binds {
		if bd.source == "form" && src.form.file != nil {
			// More of it may come after the file part: bind it once the
			// whole form has been read.
			deferred = append(deferred, bd)
			continue
		}
		if err := r.bindOne(b, bd, src); err != nil {
			return nil, err
		}
	}
	if len(deferred) > 0 {
		b.late = func() error {
			if err := src.form.rest(); err != nil {
				return err
			}
			for _, bd := range deferred {
				if err := r.bindOne(b, bd, src); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if err := r.checkBound(b); err != nil {
		return nil, err
	}
	return b, nil
}

func (r *compiledRoute) bindOne(b *bound, bd *binding, src requestSource) error {
	if bd.source == "file" {
		if src.form.file == nil {
			return bd.fail(upstream.KindMissing, "missing", "missing file part "+r.spec.Body.File)
		}
		b.content, b.contentMax = src.form.content, r.bodyMaxFor(bd)
		return nil
	}
	if bd.source == "form" && bd.target == "tags" {
		b.tags = splitFormList(src.form.values[bd.arg])
		return nil
	}
	if bd.source == "body" && bd.codec == "" {
		stream, err := rawBody(src.c, r.bodyMaxFor(bd))
		if err != nil {
			return err
		}
		b.content, b.contentMax = stream, r.bodyMaxFor(bd)
		return nil
	}
	if bd.source == "body" {
		// A whole body that is one encoded value (a data URI chunk); a JSON
		// string holding it is accepted too.
		var body []byte
		var err error
		if s := src.c.Context().RequestBodyStream(); s != nil {
			// Decoded as it arrives, beside the store's hashing and write,
			// rather than after the whole body is in.
			body, err = r.bindEncodedStream(b, bd, src.c)
		} else {
			body, err = readJSONBody(src.c, r.bodyMax)
		}
		if err != nil || body == nil {
			return err
		}
		if len(body) > 0 && body[0] == '"' && gjson.ValidBytes(body) {
			return r.bindContent(b, bd, gjson.ParseBytes(body), nil)
		}
		// The body itself is the encoded value: decoded from where it
		// lies, not copied into a string and back (two copies of up to
		// 6 MiB per EspoCRM chunk).
		return r.bindEncoded(b, bd, body)
	}
	if bd.source == "where" && bd.arg == "" {
		conds, err := parseWhere(src.c)
		if err != nil {
			return bd.fail(upstream.KindInvalid, "invalid", err.Error())
		}
		b.where = conds
		return nil
	}
	if bd.source == "new_id" {
		var id [8]byte
		if _, err := rand.Read(id[:]); err != nil {
			return upstream.Wrap(upstream.KindInternal, err, "could not make an id")
		}
		b.strs.set(bd.target, r.d.recordIDs.Encode(hex.EncodeToString(id[:]), ""))
		return nil
	}
	raw, ok := bd.read(src)
	if !ok && bd.alt != nil {
		raw, ok = bd.alt.read(src)
	}
	if !ok && bd.def != "" {
		raw, ok = gjson.Result{Type: gjson.String, Str: bd.def}, true
	}
	// An empty string is a missing value, except as content: an empty
	// file is a file.
	if !ok || (raw.Type == gjson.String && raw.Str == "" && bd.required && bd.target != "content") {
		if bd.required {
			return bd.fail(upstream.KindMissing, "missing", "missing parameter "+bd.paramName())
		}
		return nil
	}
	switch bd.target {
	case "content":
		return r.bindContent(b, bd, raw, src.body)
	case "data":
		if bd.links {
			return r.bindLinks(b, bd, raw)
		}
		return r.bindData(b, bd, raw)
	case "tags":
		return bindTags(b, bd, raw)
	case "expected_size":
		if raw.Type != gjson.Number || raw.Int() < 0 || float64(raw.Int()) != raw.Num {
			return bd.fail(upstream.KindInvalid, "invalid", bd.paramName()+" must be a whole number")
		}
		b.expectedSize = raw.Int()
		return nil
	case "offset", "limit":
		n, err := strconv.Atoi(raw.String())
		if err != nil || n < 0 || (bd.max > 0 && int64(n) > bd.max) {
			msg := bd.paramName() + " must be a whole number"
			if bd.max > 0 {
				msg += fmt.Sprintf(" from 0 to %d", bd.max)
			}
			return bd.fail(upstream.KindInvalid, "invalid", msg)
		}
		if bd.target == "offset" {
			b.offset = n
		} else {
			b.limit = n
		}
		return nil
	}
	// Text from a JSON body must be a JSON string: a title of 12 is a
	// client bug to report, not a title "12".
	if raw.Type != gjson.String {
		return bd.fail(upstream.KindInvalid, "invalid", bd.paramName()+" must be a string")
	}
	s := raw.String()
	switch bd.codec {
	case "dirname":
		// Not path.Dir: it would clean "a/../b" into "b" before the name
		// checks could refuse the "..".
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			s = s[:i]
		} else {
			s = ""
		}
	case "basename":
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			s = s[i+1:]
		}
	case "filename":
		s = safeFilename(s)
	}
	if bd.maxLen > 0 && len([]rune(s)) > bd.maxLen {
		return bd.fail(upstream.KindInvalid, "too_long", bd.paramName()+" is too long")
	}
	if bd.target == "id" {
		id, name, ok := r.d.ids.Decode(s)
		if !ok {
			return upstream.Errorf(upstream.KindNotFound, "attachment not found")
		}
		b.strs.set("id", id)
		b.idName, b.idHasName = name, r.d.ids.hasName
		return nil
	}
	b.strs.set(bd.target, strings.Clone(s))
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
		if bd.arg == "*" && strings.IndexByte(v, '%') >= 0 {
			// Decode each segment on its own, so an encoded "/" stays inside
			// its segment and is refused by name checks, never splits a path.
			// Without a '%' there is nothing to decode, and no slice to make.
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
		// Read through a string view of the body: gjson.GetBytes would copy
		// every value, and a base64 file is most of the body. Values that
		// outlive the request are cloned where they are kept.
		res := gjson.Get(bytesView(src.body), bd.arg)
		if !res.Exists() || res.Type == gjson.Null {
			return gjson.Result{}, false
		}
		return res, true
	case "const":
		return str(bd.arg)
	case "where":
		v, ok := whereEquals(src.c)[bd.arg]
		if !ok {
			return gjson.Result{}, false
		}
		return str(v)
	case "form":
		if vs := src.form.values[bd.arg]; len(vs) > 0 {
			return str(vs[0])
		}
	case "file.name":
		if n := src.form.fileName(); n != "" {
			return str(n)
		}
	case "file.type":
		if t := src.form.fileType(); t != "" {
			return str(t)
		}
	}
	return gjson.Result{}, false
}

// bytesView is b as a string without a copy; b must not change while the
// string is in use.
func bytesView(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// jsonStringArray parses a JSON array of strings.
func jsonStringArray(s string) ([]string, bool) {
	if !gjson.Valid(s) {
		return nil, false
	}
	res := gjson.Parse(s)
	if !res.IsArray() {
		return nil, false
	}
	var out []string
	for _, it := range res.Array() {
		if it.Type != gjson.String {
			return nil, false
		}
		out = append(out, it.Str)
	}
	return out, true
}

// paramName is the name a client knows a value by, for error messages.
func (bd *binding) paramName() string {
	if bd.source == "path" && bd.arg == "*" {
		return "file name"
	}
	if bd.source == "file" || bd.source == "file.name" || bd.source == "file.type" {
		return "file"
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

func (r *compiledRoute) bindContent(b *bound, bd *binding, raw gjson.Result, body []byte) error {
	if raw.Type != gjson.String {
		return bd.fail(upstream.KindInvalid, "invalid", bd.paramName()+" must be a string")
	}
	var enc []byte
	if body != nil && raw.Index > 0 && raw.Index+len(raw.Raw) <= len(body) && strings.IndexByte(raw.Raw, '\\') < 0 {
		// No escapes: the encoded bytes are the body between the quotes.
		enc = body[raw.Index+1 : raw.Index+len(raw.Raw)-1]
	} else {
		enc = []byte(raw.Str)
	}
	return r.bindEncoded(b, bd, enc)
}

// dataURIHead is how far into a body a data URI's header may reach: the
// "data:" prefix and the 1024 bytes splitDataURI looks through for the
// comma that ends the header.
const dataURIHead = len("data:") + 1024

// bindEncodedStream binds content from a streamed body that is one encoded
// value, decoding it as it is read. It returns the whole body instead,
// having bound nothing, when the body is a form the stream decoder does
// not take (a JSON string, a percent-encoded data URI).
func (r *compiledRoute) bindEncodedStream(b *bound, bd *binding, c *fiber.Ctx) ([]byte, error) {
	body, err := rawBody(c, r.bodyMax)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(body, 2*dataURIHead)
	head, err := br.Peek(dataURIHead)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	whole := func() ([]byte, error) { return readBudgeted(c, br, r.bodyMax) }
	if len(head) > 0 && head[0] == '"' {
		return whole()
	}
	payloadAt := 0
	if bd.codec == "datauri" {
		typ, payload, isBase64, err := splitDataURI(head)
		if err != nil {
			return nil, bd.fail(upstream.KindInvalid, "invalid", upstream.MessageOf(err))
		}
		if !isBase64 {
			return whole()
		}
		payloadAt = len(head) - len(payload)
		if _, ok := b.strs.get("type"); !ok {
			b.strs.set("type", typ)
		}
	}
	// Refused from the declared length, before decoding anything.
	if n := declaredLength(c); n >= 0 && bd.max > 0 && (n-int64(payloadAt))/4*3 > bd.max+3 {
		return nil, upstream.Errorf(upstream.KindTooLarge, "file is larger than %d bytes", bd.max)
	}
	if _, err := br.Discard(payloadAt); err != nil {
		return nil, err
	}
	b.content, b.contentMax = newBase64Decoder(br), bd.max
	return nil, nil
}

// bindEncoded binds content from its encoded bytes (base64 or a data
// URI), which the decoder reads in place: enc must stay untouched until
// the content is consumed.
func (r *compiledRoute) bindEncoded(b *bound, bd *binding, enc []byte) error {
	// tooBig refuses from the encoded length, before decoding anything.
	tooBig := func(payload []byte) error {
		if bd.max > 0 && int64(len(payload))/4*3 > bd.max+3 {
			return upstream.Errorf(upstream.KindTooLarge, "file is larger than %d bytes", bd.max)
		}
		return nil
	}
	// The decoded bytes stream into the store, which enforces contentMax;
	// corrupt base64 fails that write and leaves nothing.
	b.contentMax = bd.max
	switch bd.codec {
	case "base64":
		if err := tooBig(enc); err != nil {
			return err
		}
		b.content = base64Stream(enc)
	case "datauri":
		typ, payload, isBase64, err := splitDataURI(enc)
		if err != nil {
			return bd.fail(upstream.KindInvalid, "invalid", upstream.MessageOf(err))
		}
		if err := tooBig(payload); err != nil {
			return err
		}
		if _, ok := b.strs.get("type"); !ok {
			b.strs.set("type", typ)
		}
		if isBase64 {
			b.content = base64Stream(payload)
			return nil
		}
		u, err := ParseDataURI(enc)
		if err != nil {
			return bd.fail(upstream.KindInvalid, "invalid", upstream.MessageOf(err))
		}
		b.content = bytes.NewReader(u.Data)
	}
	return nil
}

func bindTags(b *bound, bd *binding, raw gjson.Result) error {
	switch {
	case raw.IsArray():
		for _, t := range raw.Array() {
			if t.Type != gjson.String {
				return bd.fail(upstream.KindInvalid, "invalid", "tags must be strings")
			}
			b.tags = append(b.tags, strings.Clone(t.Str))
		}
	case raw.Type == gjson.String && bd.source != "bodyjson":
		// One tag in a query or header; in JSON a list is a list.
		b.tags = append(b.tags, strings.Clone(raw.Str))
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
				// A file field cleared, or an empty list of data: the
				// operation tells which once it sees the record.
				b.emptyFields = append(b.emptyFields, k.String())
				opaque, _ = sjson.SetRawBytes(opaque, escapePathKey(k.String()), []byte("[]"))
				return true
			}
			if items[0].IsObject() && items[0].Get(escapePathKey(idKey)).Exists() {
				ids := make([]string, 0, len(items))
				for _, it := range items {
					id, e := r.attachmentRef(b, it, shape, idKey)
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

// bindLinks splits a record's attributes into link attributes naming
// attachments (<field>Id, <field>Ids) and opaque data. A link attribute whose
// ids are not all attachment ids of this dialect is a link to something
// else (EspoCRM's assignedUserId) and stays in the data; the operation then
// checks that the candidates exist before treating them as file fields.
func (r *compiledRoute) bindLinks(b *bound, bd *binding, raw gjson.Result) error {
	if !raw.IsObject() {
		return bd.fail(upstream.KindInvalid, "invalid", "request body must be an object")
	}
	l := r.d.spec.Links
	opaque := []byte("{}")
	b.fields, b.candidates = map[string][]string{}, map[string]linkCandidate{}
	raw.ForEach(func(k, v gjson.Result) bool {
		key := k.String()
		var field string
		var natives []gjson.Result
		switch {
		case strings.HasSuffix(key, l.IDs) && len(key) > len(l.IDs) && v.IsArray():
			field, natives = strings.TrimSuffix(key, l.IDs), v.Array()
		case strings.HasSuffix(key, l.ID) && len(key) > len(l.ID) && (v.Type == gjson.String || v.Type == gjson.Null):
			field = strings.TrimSuffix(key, l.ID)
			if v.Type == gjson.String {
				natives = []gjson.Result{v}
			}
		}
		if field != "" && ValidateField(field) == nil {
			if len(natives) == 0 {
				b.emptyFields = append(b.emptyFields, field)
				return true
			}
			ids := make([]string, 0, len(natives))
			for _, n := range natives {
				id, _, ok := r.d.ids.Decode(n.String())
				if n.Type != gjson.String || !ok {
					break
				}
				b.remember(id, n.String())
				ids = append(ids, id)
			}
			if len(ids) == len(natives) {
				b.candidates[field] = linkCandidate{key: key, raw: v.Raw, ids: ids}
				return true
			}
		}
		opaque, _ = sjson.SetRawBytes(opaque, escapePathKey(key), []byte(v.Raw))
		return true
	})
	b.data = opaque
	return nil
}

func (b *bound) remember(id, native string) {
	if b.natives == nil {
		b.natives = map[string]string{}
	}
	b.natives[id] = native
}

// linkCandidate is a link attribute that may name attachments.
type linkCandidate struct {
	key, raw string
	ids      []string
}

// attachmentRef reads the canonical id out of an attachment object that a
// client sent back, insisting on the shape's full set of keys.
func (r *compiledRoute) attachmentRef(b *bound, it gjson.Result, shape *tObject, idKey string) (string, error) {
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
	b.remember(id, native)
	return id, nil
}

// has reports whether a canonical value was bound.
func (b *bound) has(target string) bool {
	switch target {
	case "content":
		return b.content != nil
	case "expected_size":
		return b.expectedSize > 0
	case "tags":
		return len(b.tags) > 0
	case "data":
		return b.data != nil
	}
	_, ok := b.strs.get(target)
	return ok
}

// checkBound validates names and fills defaults after every binding ran.
func (r *compiledRoute) checkBound(b *bound) error {
	for _, bd := range r.binds {
		if bd.without != "" && !b.has(bd.target) && !b.has(bd.without) {
			return bd.fail(upstream.KindMissing, "missing", "missing parameter "+bd.paramName())
		}
	}
	for _, k := range []string{"record.collection", "record.id"} {
		if v, ok := b.strs.get(k); ok && (v != "" || k == "record.collection") {
			if err := validateRecordPart(strings.TrimPrefix(k, "record."), v); err != nil {
				return err
			}
		}
	}
	if bd := r.byTarget["field"]; bd != nil {
		if b.strs.val("field") == "" {
			b.strs.set("field", r.d.defaultField)
		}
		field, err := CleanField(b.strs.val("field"))
		b.strs.set("field", field)
		if err != nil {
			return err
		}
	}
	if name, ok := b.strs.get("name"); ok {
		clean, err := CleanName(name)
		b.strs.set("name", clean)
		if err != nil {
			return err
		}
	}
	return ValidateType(b.strs.val("type"))
}

// safeFilename turns a title into a usable file name: path separators and
// control characters become '_', and it is cut to MaxNameBytes.
func safeFilename(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '_'
		}
		return r
	}, strings.TrimSpace(s))
	if s == "" || s == "." || s == ".." {
		s = "_" + s
	}
	for len(s) > MaxNameBytes {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

// sniffContent settles the type from the content's first bytes (see
// uploadType), keeping the stream whole.
func sniffContent(b *bound) {
	if b.content == nil {
		return
	}
	br := bufio.NewReaderSize(b.content, 512)
	head, _ := br.Peek(512)
	b.strs.set("type", uploadType(b.strs.val("type"), head, b.strs.val("name")))
	b.content = br
}
