package translate

import (
	"encoding/json"
	"fmt"
	"io"

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

// CarriesFields reports whether the dialect can place a file in a field of
// its choosing: some create route binds the field. A dialect that cannot
// (TransactionLink, Media Pocket) keeps every file in its default field.
func (s *Speaker) CarriesFields() bool {
	for _, r := range s.d.routes {
		if r.op.Op == OpCreate && r.byTarget["field"] != nil {
			return true
		}
	}
	return false
}

// Credential is the header that carries token in this dialect.
func (s *Speaker) Credential(token string) (name, value string) {
	c := s.d.spec.Credential
	if c.Scheme != "" {
		return c.Header, c.Scheme + " " + token
	}
	return c.Header, token
}

// Remote is an attachment as an upstream knows it: the canonical metadata
// it reported, and its own id for it (empty for dialects that address files
// by record, field and name).
type Remote struct {
	upstream.Attachment
	NativeID string
	// Partial is set when the answer named the file without describing it
	// (a record's link attributes carry only ids and names); its other
	// metadata has to be asked for.
	Partial bool
}

// Target holds the canonical values an upstream request is rendered from.
type Target struct {
	Record      upstream.RecordRef
	Field       string
	Name        string
	Type        string
	Tags        []string
	Title       string
	Description string
	Category    string
	Status      string
	ExternalID  string
	NativeID    string
	// Content and Size: the bytes to send (Size -1 when unknown). A nil
	// Content asks for a placeholder.
	Content io.Reader
	Size    int64
	// ExpectedSize announces the size of a placeholder filled in chunks.
	ExpectedSize int64
	// Data and Fields: a record update's opaque data and file fields.
	Data   json.RawMessage
	Fields map[string][]Remote
}

// value returns the target's value of a canonical name.
func (t *Target) value(name string) (string, bool) {
	var v string
	switch name {
	case "record.collection":
		v = t.Record.Collection
	case "record.id":
		v = t.Record.ID
	case "field":
		v = t.Field
	case "name":
		v = t.Name
	case "type":
		v = t.Type
	case "title":
		v = t.Title
	case "description":
		v = t.Description
	case "category":
		v = t.Category
	case "status":
		v = t.Status
	case "external_id":
		v = t.ExternalID
	case "id":
		v = t.NativeID
	}
	return v, v != ""
}

// Route is one route of the spoken dialect, chosen for an operation.
type Route struct {
	s *Speaker
	r *compiledRoute
}

// Op is the route's canonical operation.
func (rt *Route) Op() Op { return rt.r.op.Op }

// Name is the route's name in routes.yaml.
func (rt *Route) Name() string { return rt.s.d.name + "." + rt.r.spec.Name }

// RawContent reports whether the route answers with the bytes themselves.
func (rt *Route) RawContent() bool { return rt.r.rawContent }

// Binds reports whether the route's request carries a canonical value.
func (rt *Route) Binds(target string) bool { return rt.r.byTarget[target] != nil }

// ReplacesByName reports whether a create through the route replaces a
// same-named file of the same field (Nimblex's upload does).
func (rt *Route) ReplacesByName() bool { return rt.r.replaceNames }

// RequiresRecord reports whether the route refuses a record that does not
// exist yet.
func (rt *Route) RequiresRecord() bool { return rt.r.spec.RequireRecord }

// EncodesContent reports whether the route carries content encoded inside
// a JSON body (base64 or a data URI) rather than as a raw or multipart
// stream: such content is capped and has no streaming form upstream.
func (rt *Route) EncodesContent() bool {
	bd := rt.r.byTarget["content"]
	return bd != nil && bd.source == "bodyjson"
}

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
// value it needs is there, every constant it binds matches, every value it
// requires is given, and it can carry t's content (or its absence).
func (s *Speaker) Find(op Op, t *Target) (*Route, bool) {
	for _, r := range s.d.routes {
		if r.op.Op == op && fits(r, t) {
			return &Route{s: s, r: r}, true
		}
	}
	return nil, false
}

// FindRecordCreate returns a route that makes a new record in t's
// collection under an id the upstream chooses (EspoCRM's POST /{Entity}):
// the remote store then maps the gateway's record id to the upstream's.
func (s *Speaker) FindRecordCreate(t *Target) (*Route, bool) {
	for _, r := range s.d.routes {
		if r.op.Op == OpRecordUpdate && makesRecordID(r) && fitsNew(r, t) {
			return &Route{s: s, r: r}, true
		}
	}
	return nil, false
}

func fits(r *compiledRoute, t *Target) bool {
	if paged(r) {
		// A page of a listing would show the gateway part of a record.
		return false
	}
	if makesRecordID(r) {
		// The upstream would make up the record id: a canonical record
		// has its own, so such a route cannot address it.
		return false
	}
	return fitsNew(r, t)
}

// paged reports whether the route answers a page of a listing.
func paged(r *compiledRoute) bool { return r.byTarget["limit"] != nil }

// fitsNew is fits for a route that may make the record's id itself.
func fitsNew(r *compiledRoute, t *Target) bool {
	for _, b := range r.binds {
		v, ok := t.value(b.target)
		switch {
		case b.source == "new_id":
		case b.source == "const":
			if !ok || v != b.arg {
				return false
			}
		case b.source == "path" && b.target != "field" && !ok:
			return false
		case b.target == "id" && !ok:
			return false
		case b.required && !isStructured(b.target) && !ok && !sourceFilled(r, b, t):
			return false
		}
	}
	if r.op.Op == OpCreate {
		return carriesContent(r, t)
	}
	return true
}

// isStructured names the canonical values that are not single strings,
// whose presence fits checks on its own terms.
func isStructured(target string) bool {
	switch target {
	case "content", "data", "tags", "expected_size":
		return true
	}
	return false
}

// sourceFilled reports whether another binding of the same request value
// fills it (Media Pocket's title is also where the name goes).
func sourceFilled(r *compiledRoute, b *binding, t *Target) bool {
	for _, o := range r.binds {
		if o != b && o.source == b.source && o.arg == b.arg {
			if _, ok := t.value(o.target); ok {
				return true
			}
		}
	}
	return false
}

// carriesContent reports whether a create route can carry t's content: a
// raw or multipart body is the content, so it cannot make a placeholder;
// a JSON body can leave an optional content out, or announce a size for
// chunks instead.
func carriesContent(r *compiledRoute, t *Target) bool {
	bd := r.byTarget["content"]
	if t.Content != nil {
		return bd != nil
	}
	if bd == nil {
		return true
	}
	if bd.source != "bodyjson" {
		return false
	}
	if bd.without == "expected_size" {
		return t.ExpectedSize > 0
	}
	return !bd.required && bd.without == ""
}

// NamesFiles reports whether the dialect addresses files by record, field
// and name rather than by an id of their own (Nimblex).
func (s *Speaker) NamesFiles() bool { return s.d.ids == nil }

// SendsLate reports whether the route's request carries a canonical value
// only after the content (a multipart value part rendered after the file
// part), so that it may still change while the bytes stream.
func (rt *Route) SendsLate(target string) bool {
	bd := rt.r.byTarget[target]
	return bd != nil && bd.source == "form"
}
