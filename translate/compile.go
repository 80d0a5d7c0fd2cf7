package translate

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/dragoman-gw/dragoman/upstream"
)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// knownTargets are the canonical values a binding may fill.
var knownTargets = map[string]bool{"record.collection": true, "record.id": true, "field": true,
	"name": true, "type": true, "content": true, "id": true, "tags": true, "title": true,
	"description": true, "category": true, "status": true, "external_id": true, "data": true,
	"expected_size": true, "offset": true, "limit": true, "where": true}

var knownCodecs = map[string]bool{"": true, "base64": true, "datauri": true, "dirname": true,
	"basename": true, "filename": true}

// Config is a checked, compiled routes.yaml: every path, binding and
// template is compiled once, at start.
type Config struct {
	file     *File
	dialects []*compiledDialect
}

// Dialects returns the compiled dialect names in a stable order.
func (c *Config) Dialects() []string {
	out := make([]string, len(c.dialects))
	for i, d := range c.dialects {
		out[i] = d.name
	}
	return out
}

// compiledDialect is one dialect ready to serve.
type compiledDialect struct {
	name         string
	spec         *Dialect
	ids          *idFormat
	defaultField string
	errStatus    map[upstream.Kind]int
	errBody      tmpl
	shapes       map[string]*tObject
	// recordShapes names the shapes that show a record, not a file.
	recordShapes map[string]bool
	// shapeIDKeys maps a shape to the key that carries $id, for reading
	// attachment objects back from requests.
	shapeIDKeys map[string]string
	// recordIDs makes record ids for record creates; nil if the dialect
	// never makes them.
	recordIDs *idFormat
	routes    []*compiledRoute
	// caps says how the dialect, as an upstream, does each capability.
	caps map[Capability]Means

	// signed is the dialect's signed credential form, if it has one.
	signed *signedCredential

	// mount is the parsed mount; nil when it is unusable (and reported).
	mount *pathPattern
}

// compiledRoute is one route ready to serve.
type compiledRoute struct {
	d        *compiledDialect
	spec     *RouteSpec
	op       *Operation
	fullPath string
	// pattern is the parsed path; nil when it is unusable (and reported).
	pattern *pathPattern
	// bodyKnown is false when the body kind is unknown (and reported), so
	// that bindings are not also blamed for not fitting it.
	bodyKnown bool
	// usesIDs: the route binds or renders attachment ids (checkIDUsers).
	usesIDs  bool
	binds    []*binding
	byTarget map[string]*binding
	messages map[upstream.Kind]string

	respBody    tmpl
	usesContent bool
	usesFiles   bool
	usesRecord  bool
	contentType string
	status      int
	listScope   string
	rawContent  bool
	// redirect: a download may be answered with a redirect to a
	// presigned URL of the bytes (response.redirect: presigned).
	redirect     bool
	maxContent   int64
	bodyMax      int64
	replaceNames bool
}

// binding is one compiled BindSpec.
type binding struct {
	alt      *binding // read when this one is absent
	without  string   // required unless this target is bound
	links    bool
	target   string
	source   string // path, query, header, body, bodyjson, const
	arg      string
	codec    string
	required bool
	max      int64
	maxLen   int
	def      string
	sniff    bool
	files    string
	messages map[string]string
}

// parseSource reads a binding's source ("path.table", "body.name", ...).
func parseSource(r *compiledRoute, b *binding, from, target string, fail func(string, ...any)) {
	src, arg, _ := strings.Cut(from, ".")
	switch {
	case from == "body":
		b.source = "body"
		if target != "content" {
			fail("only content can come from the raw body")
		}
	case from == "new_id":
		b.source = "new_id"
	case src == "body":
		b.source, b.arg = "bodyjson", arg
	case src == "path":
		b.source, b.arg = "path", arg
		if r.pattern != nil && !r.pattern.hasParam(arg) {
			fail("path `%s` has no parameter `%s`", r.spec.Path, arg)
		}
	case from == "file" || from == "file.name" || from == "file.type" || src == "form":
		b.source, b.arg = from, arg
		if src == "form" {
			b.source = "form"
		}
		if from == "file" && target != "content" {
			fail("only content can come from the file part")
		}
	case src == "query" || src == "header":
		b.source, b.arg = src, arg
		if arg == "" {
			fail("from: %s. needs a name", src)
		}
	case strings.HasPrefix(from, "const:"):
		b.source, b.arg = "const", strings.TrimPrefix(from, "const:")
	case from == "where" || src == "where":
		// A PHP-style query filter: all its equality conditions (for the
		// where target), or the value one of them gives an attribute.
		b.source, b.arg = "where", arg
		if (arg == "") != (target == "where") {
			fail("from: where binds the where target; from: where.ATTRIBUTE binds any other")
		}
	default:
		fail("from `%s`: want path.P, query.Q, header.H, body.PATH, body, form.F, file, file.name, file.type, where, where.ATTRIBUTE, new_id or const:VALUE", from)
	}
}

// Load parses and compiles routes.yaml, reporting every problem found, each
// with its line number.
func Load(data []byte) (*Config, error) {
	f, err := Parse(data)
	if err != nil {
		return nil, err
	}
	return Compile(f)
}

// Compile checks and compiles a parsed routes.yaml.
func Compile(f *File) (*Config, error) {
	var problems Problems
	fail := func(line int, format string, args ...any) {
		problems = append(problems, Problem{Line: line, Message: fmt.Sprintf(format, args...)})
	}
	if f.Version != 1 {
		fail(f.line("version"), "version must be 1, not %d", f.Version)
	}
	if len(f.Dialects) == 0 {
		fail(f.line("dialects"), "no dialects")
	}
	cfg := &Config{file: f}
	for _, name := range f.DialectNames() {
		d := compileDialect(f, name, fail)
		if d == nil {
			continue
		}
		checkRouteNames(f, d, fail)
		checkIDUsers(f, d, fail)
		cfg.dialects = append(cfg.dialects, d)
	}
	checkMounts(cfg.dialects, fail, func(name string) int { return f.line("dialects", name, "mount") })
	checkOverlaps(f, cfg.dialects, fail)
	if len(problems) > 0 {
		return nil, problems.sorted()
	}
	return cfg, nil
}

func compileDialect(f *File, name string, fail func(int, string, ...any)) *compiledDialect {
	spec := f.Dialects[name]
	at := func(path ...any) int { return f.line(append([]any{"dialects", name}, path...)...) }
	if spec == nil {
		fail(at(), "dialect %s is empty", name)
		return nil
	}
	d := &compiledDialect{name: name, spec: spec, defaultField: spec.DefaultField,
		errStatus: map[upstream.Kind]int{}, shapes: map[string]*tObject{}, shapeIDKeys: map[string]string{},
		recordShapes: map[string]bool{}}
	if d.defaultField == "" {
		d.defaultField = upstream.DefaultField
	}
	if m, err := parseMount(spec.Mount); err != nil {
		fail(at("mount"), "dialect %s: %v", name, err)
	} else {
		d.mount = m
	}
	if spec.Credential.Header == "" {
		fail(at("credential"), "dialect %s: credential.header is required", name)
	}
	if h := spec.Credential.HMAC; h != nil {
		sc, err := compileSignedCredential(h)
		if err != nil {
			fail(at("credential", "hmac"), "dialect %s: credential.hmac: %v", name, err)
		}
		d.signed = sc
	}
	if spec.IDFormat != nil {
		ids, err := newIDFormat(spec.IDFormat)
		if err != nil {
			fail(at("id_format"), "dialect %s: %v", name, err)
		}
		d.ids = ids
	}
	if spec.RecordIDs != nil {
		ids, err := newIDFormat(spec.RecordIDs)
		if err != nil {
			fail(at("record_ids"), "dialect %s: %s", name, strings.Replace(err.Error(), "id_format", "record_ids", 1))
		}
		d.recordIDs = ids
	}
	if l := spec.Links; l != nil && (l.ID == "" || l.IDs == "" || l.Name == "" || l.Names == "") {
		fail(at("links"), "dialect %s: links needs all of id, ids, name and names suffixes", name)
	}
	compileErrorStatus(d, at, fail)
	if spec.Errors.JSON != nil {
		tc := &templateCompiler{shapes: d.shapes}
		t, err := tc.compile(&spec.Errors.JSON.node)
		if err != nil {
			failErr(fail, at("errors", "json"), "dialect "+name+": errors.json: ", err)
		}
		d.errBody = t
	}
	for _, shapeName := range sortedKeys(spec.Shapes) {
		node := spec.Shapes[shapeName]
		// A broken shape stays known, empty, so that the routes using it
		// are not each blamed for naming an unknown shape.
		if node == nil || node.node.Kind != yaml.MappingNode {
			d.shapes[shapeName] = &tObject{} // reported by checkShapeRefs
			continue
		}
		tc := &templateCompiler{shapes: d.shapes, links: spec.Links}
		obj, err := tc.compileObject(&node.node)
		if err != nil {
			failErr(fail, at("shapes", shapeName), "dialect "+name+": shape "+shapeName+": ", err)
			d.shapes[shapeName] = &tObject{}
			continue
		}
		d.shapes[shapeName] = obj
		for i, k := range obj.keys {
			if te, ok := obj.vals[i].(*tExpr); ok && strings.HasPrefix(te.x.src, "$id") {
				d.shapeIDKeys[shapeName] = k
			}
		}
		if tc.usesFiles || tc.usesRecord {
			// A record's shape, for $records lists.
			d.recordShapes[shapeName] = true
		}
	}
	checkShapeRefs(d, at, fail)
	checkLinkUsers(d, at, fail)
	for i, rs := range spec.Routes {
		r := compileRoute(d, rs, func(path ...any) int { return at(append([]any{"routes", i}, path...)...) }, fail)
		if r != nil {
			d.routes = append(d.routes, r)
		}
	}
	d.caps = capabilitiesOf(d)
	return d
}

func isKnownKind(k string) bool {
	for _, kk := range upstream.Kinds() {
		if string(kk) == k {
			return true
		}
	}
	return false
}

func compileRoute(d *compiledDialect, rs *RouteSpec, at func(...any) int, fail func(int, string, ...any)) *compiledRoute {
	where := d.name + "." + rs.Name
	if rs.Name == "" {
		fail(at(), "dialect %s: a route has no name", d.name)
		where = d.name + ".?"
	}
	r := &compiledRoute{d: d, spec: rs, fullPath: d.spec.Mount + rs.Path, byTarget: map[string]*binding{}, bodyKnown: true,
		messages: map[upstream.Kind]string{}, status: rs.Response.Status, listScope: rs.Response.List,
		maxContent: int64(rs.Response.MaxContent), bodyMax: int64(rs.Body.Max), contentType: rs.Response.ContentType}
	switch rs.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		fail(at("method"), "route %s: method `%s` is not GET, POST, PUT, PATCH or DELETE", where, rs.Method)
	}
	if p, err := parsePath(rs.Path); err != nil {
		fail(at("path"), "route %s: %v", where, err)
	} else {
		r.pattern = p
	}
	// What the operation needs is checked only for a known operation: one
	// misspelt op is one problem, not one per binding it then lacks.
	op, opKnown := operationOf(rs.Op)
	if !opKnown {
		fail(at("op"), "route %s: unknown operation `%s`%s", where, rs.Op, didYouMean(string(rs.Op), opNames()))
		op = &Operation{Op: rs.Op}
	}
	r.op = op
	if rs.Scope != "read" && rs.Scope != "edit" {
		fail(at("scope"), "route %s: scope must be `read` or `edit`, not `%s`", where, rs.Scope)
	}
	switch rs.Replace {
	case "":
	case "name":
		r.replaceNames = true
	default:
		fail(at("replace"), "route %s: replace must be `name`, not `%s`", where, rs.Replace)
	}
	switch rs.Body.Kind {
	case "", "none", "json", "raw":
	case "multipart":
		if rs.Body.File == "" {
			fail(at("body"), "route %s: a multipart body needs file: the name of the file part", where)
		}
	default:
		r.bodyKnown = false
		fail(at("body", "kind"), "route %s: body kind `%s`: want none, json, raw or multipart%s", where, rs.Body.Kind, didYouMean(rs.Body.Kind, []string{"none", "json", "raw", "multipart"}))
	}
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.status < 200 || r.status > 299 {
		fail(at("response", "status"), "route %s: response status %d is not a success", where, r.status)
	}
	for k, msg := range rs.Messages {
		if !isKnownKind(k) {
			fail(at("messages", k), "route %s: unknown error kind `%s`%s", where, k, didYouMean(k, kindNames()))
		}
		r.messages[upstream.Kind(k)] = msg
	}
	checkBodyKind(r, at, fail)
	// bound says whether the route binds a canonical value, or misspells
	// it (reported as that, not also as missing).
	misspelt := map[string]bool{}
	bound := func(t string) bool { return r.byTarget[t] != nil || misspelt[t] }
	for _, target := range sortedKeys(rs.Bind) {
		b := compileBinding(r, target, rs.Bind[target], func(format string, args ...any) {
			fail(at("bind", target), "route %s: bind %s: %s", where, target, fmt.Sprintf(format, args...))
		})
		if b != nil {
			r.binds = append(r.binds, b)
			r.byTarget[target] = b
		} else if meant, ok := closest(target, sortedKeys(knownTargets)); ok {
			misspelt[meant] = true
		}
	}
	for _, t := range op.Needs {
		if !bound(t) {
			fail(at("bind"), "route %s: operation %s needs a binding for %s", where, rs.Op, t)
		}
	}
	if op.Addresses && !bound("id") && (!bound("name") || !bound("record.id")) {
		fail(at("bind"), "route %s: operation %s needs id, or record and name", where, rs.Op)
	}
	if op.Op == OpCreate && !bound("name") && !bound("title") {
		fail(at("bind"), "route %s: create needs a name or a title", where)
	}
	switch rs.Response.Content {
	case "":
	case "raw":
		r.rawContent = true
		if opKnown && !op.Answers.Content {
			fail(at("response", "content"), "route %s: content: raw is only for routes whose operation returns content", where)
		}
		if rs.Response.JSON != nil {
			fail(at("response", "json"), "route %s: a raw content response has no json", where)
		}
	default:
		fail(at("response", "content"), "route %s: content must be `raw`, not `%s`", where, rs.Response.Content)
	}
	switch rs.Response.Redirect {
	case "":
	case "presigned":
		r.redirect = true
		if !r.rawContent {
			fail(at("response", "redirect"), "route %s: redirect: presigned is only for content: raw routes", where)
		}
	default:
		fail(at("response", "redirect"), "route %s: redirect must be `presigned`, not `%s`", where, rs.Response.Redirect)
	}
	switch r.listScope {
	case "", "field", "record":
	default:
		fail(at("response", "list"), "route %s: list must be `field` or `record`, not `%s`", where, r.listScope)
	}
	if rs.Response.JSON != nil && opKnown {
		tc := &templateCompiler{shapes: d.shapes, links: d.spec.Links, allowContent: op.Answers.Content, recordShapes: d.recordShapes}
		t, err := tc.compile(&rs.Response.JSON.node)
		if err != nil {
			failErr(fail, at("response", "json"), "route "+where+": ", err)
		}
		r.respBody, r.usesContent, r.usesFiles, r.usesRecord = t, tc.usesContent, tc.usesFiles, tc.usesRecord
		r.usesIDs = tc.usesID
		if r.contentType == "" {
			r.contentType = "application/json; charset=utf-8"
		}
		if tc.usesFiles && r.listScope == "" && !op.Answers.Files {
			fail(at("response", "json"), "route %s: $files needs response.list (field or record) after %s", where, rs.Op)
		}
	}
	r.usesIDs = r.usesIDs || r.byTarget["id"] != nil
	return r
}

func compileBinding(r *compiledRoute, target string, bs *BindSpec, fail func(string, ...any)) *binding {
	if !knownTargets[target] {
		fail("unknown canonical value `%s`%s", target, didYouMean(target, sortedKeys(knownTargets)))
		return nil
	}
	if bs == nil {
		fail("empty binding")
		return nil
	}
	b := &binding{target: target, codec: bs.Codec, required: bs.Required, max: int64(bs.Max),
		maxLen: bs.MaxLen, def: bs.Default, sniff: bs.Sniff, files: bs.Files, messages: bs.Messages}
	parseSource(r, b, bs.From, target, fail)
	if bs.Fallback != "" {
		b.alt = &binding{target: target}
		parseSource(r, b.alt, bs.Fallback, target, fail)
	}
	b.without, b.links = bs.RequiredWithout, bs.Links
	if b.without != "" && !knownTargets[b.without] {
		fail("required_without: unknown canonical value `%s`%s", b.without, didYouMean(b.without, sortedKeys(knownTargets)))
	}
	if b.links && (r.d.spec.Links == nil || target != "data") {
		fail("links: only a data binding of a dialect with links can read link attributes")
	}
	if !knownCodecs[b.codec] {
		fail("unknown codec `%s`%s", b.codec, didYouMean(b.codec, sortedKeys(knownCodecs)))
	}
	if (b.codec == "base64" || b.codec == "datauri") && target != "content" {
		fail("codec %s only decodes content", b.codec)
	}
	if b.source == "new_id" && r.d.spec.RecordIDs == nil {
		fail("from: new_id needs the dialect's record_ids format")
	}
	if target == "content" && b.source == "bodyjson" && b.codec == "" {
		fail("content from a JSON body needs codec base64 or datauri")
	}
	if b.files != "" {
		// An unknown shape is reported by checkShapeRefs.
		if target != "data" {
			fail("files: only a data binding holds attachment objects")
		}
	}
	for k := range b.messages {
		if k != "missing" && k != "too_long" && k != "invalid" {
			fail("messages: unknown key `%s` (want `missing`, `too_long` or `invalid`)%s", k, didYouMean(k, []string{"missing", "too_long", "invalid"}))
		}
	}
	return b
}
