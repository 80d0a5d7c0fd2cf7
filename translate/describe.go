package translate

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
)

// DialectDescription is a read-only account of one compiled dialect, for
// documents generated from routes.yaml (OpenAPI) and the console.
type DialectDescription struct {
	Name, Title, Mount string
	Credential         Credential
	// ErrorStatus maps each canonical error kind to the status it answers.
	ErrorStatus map[string]int
	// ErrorHeader, when set, carries the error message.
	ErrorHeader string
	// ErrorExample is an error body as the dialect renders it; nil when
	// its errors have an empty body.
	ErrorExample []byte
	Routes       []RouteDescription
}

// RouteDescription is one compiled route.
type RouteDescription struct {
	Name, Method, Op, Scope string
	// Path is the full path in fiber syntax (":param", a trailing "*").
	Path       string
	PathParams []string
	// Wildcard is set when the path ends in "*" (the rest of the path).
	Wildcard bool
	Query    []Param
	Headers  []Param
	// BodyKind is none, json, raw or multipart; BodyMax its cap (0: none).
	BodyKind string
	BodyMax  int64
	// FilePart is the multipart part that carries the file.
	FilePart string
	// BodyFields are the JSON body's paths (json) or form fields
	// (multipart) the route reads.
	BodyFields []Param
	Status     int
	// ContentType of a JSON answer; RawContent answers the file's bytes.
	ContentType string
	RawContent  bool
	// Redirect: a download may be answered 307 to a presigned URL
	// (response.redirect: presigned, with serve --blobs-presign).
	Redirect bool
	// ResponseExample is a success answer rendered from the route's
	// template for an example attachment; nil without a JSON body.
	ResponseExample []byte
}

// Param is one value a route reads from its request.
type Param struct {
	Name     string
	Required bool
	// Target is the canonical value it binds (name, record.id, ...).
	Target string
}

// Describe returns every compiled dialect, in the order of Dialects.
func (c *Config) Describe() []DialectDescription {
	out := make([]DialectDescription, 0, len(c.dialects))
	for _, d := range c.dialects {
		dd := DialectDescription{Name: d.name, Title: d.spec.Title, Mount: d.spec.Mount, Credential: d.spec.Credential,
			ErrorStatus: map[string]int{}, ErrorHeader: d.spec.Errors.Header}
		for k, s := range d.errStatus {
			dd.ErrorStatus[string(k)] = s
		}
		if d.errBody != nil {
			e := &env{d: d, errKind: upstream.KindNotFound, errMessage: "no such attachment",
				errStatus: d.errStatus[upstream.KindNotFound], bound: &bound{}, requestID: "0123456789ab-1"}
			dd.ErrorExample = d.errBody.appendJSON(nil, e)
		}
		for _, r := range d.routes {
			dd.Routes = append(dd.Routes, describeRoute(r))
		}
		out = append(out, dd)
	}
	return out
}

func describeRoute(r *compiledRoute) RouteDescription {
	rd := RouteDescription{Name: r.spec.Name, Method: r.spec.Method, Op: string(r.spec.Op), Scope: r.spec.Scope, Path: r.fullPath,
		Wildcard: strings.HasSuffix(r.fullPath, "*"), BodyKind: r.spec.Body.Kind, BodyMax: r.bodyMax,
		FilePart: r.spec.Body.File, Status: r.status, ContentType: r.contentType, RawContent: r.rawContent,
		Redirect: r.redirect}
	if rd.BodyKind == "" {
		rd.BodyKind = "none"
	}
	for _, seg := range strings.Split(r.fullPath, "/") {
		if name, ok := strings.CutPrefix(seg, ":"); ok {
			rd.PathParams = append(rd.PathParams, strings.TrimRight(name, "?+"))
		}
	}
	seen := map[string]bool{}
	add := func(list *[]Param, b *binding, required bool) {
		key := b.source + "." + b.arg
		if seen[key] {
			return
		}
		seen[key] = true
		*list = append(*list, Param{Name: b.arg, Required: required, Target: b.target})
	}
	for _, b := range r.binds {
		// A value with a fallback, or required only without another, is
		// required of no single source.
		required := b.required && b.alt == nil && b.without == ""
		for x := b; x != nil; x = x.alt {
			switch x.source {
			case "query":
				add(&rd.Query, x, required)
			case "header":
				add(&rd.Headers, x, required)
			case "bodyjson", "form":
				add(&rd.BodyFields, x, required)
			}
		}
	}
	if r.respBody != nil {
		rd.ResponseExample = exampleAnswer(r)
	}
	return rd
}

// exampleAnswer renders the route's success template for one example
// attachment, as respond would; a template that cannot render without a
// real request gives nil.
func exampleAnswer(r *compiledRoute) (out []byte) {
	defer func() {
		if recover() != nil || !json.Valid(out) {
			out = nil
		}
	}()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := upstream.RecordRef{Collection: "collection", ID: "record"}
	att := upstream.Attachment{ID: "0123456789abcdef", Record: rec, Field: r.d.defaultField, Name: "report.pdf",
		Type: "application/pdf", Size: 1024, SHA256: strings.Repeat("ab", 32), MD5: strings.Repeat("cd", 16),
		Tags: []string{"tag"}, Owner: "key-name", Created: at, Modified: at, HasContent: true}
	e := &env{d: r.d, att: &att, files: []upstream.Attachment{att}, origin: "https://gateway.example", contentAt: -1,
		link:  "https://gateway.example" + LinkPath + "token",
		bound: &bound{strs: makeStrs("record.collection", rec.Collection, "record.id", rec.ID)}}
	if r.usesRecord {
		e.att = nil
		e.rec = &upstream.Record{Ref: rec, Data: json.RawMessage(`{}`), Created: at, Modified: at}
	}
	return r.respBody.appendJSON(nil, e)
}
