// Package translate turns routes.yaml, the description of every dialect
// dragoman speaks, into fiber handlers that decode a dialect's requests into
// canonical store operations and encode the results back into the dialect's
// shapes.
//
// Only generic mechanisms live here: body kinds, codecs, id formats,
// expression templates and error mapping. Which dialect uses which is data.
package translate

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// File is the decoded routes.yaml.
type File struct {
	Version  int                 `yaml:"version" required:"true"`
	Dialects map[string]*Dialect `yaml:"dialects" required:"true"`

	// root keeps the document's nodes so that checks can name line numbers.
	root *yaml.Node
}

// Dialect describes one vendor API.
type Dialect struct {
	Title        string        `yaml:"title"`
	Mount        string        `yaml:"mount" required:"true"`
	Credential   Credential    `yaml:"credential" required:"true"`
	IDFormat     *IDFormatSpec `yaml:"id_format"`
	DefaultField string        `yaml:"default_field"`
	// RecordIDs is the format of record ids the gateway makes for record
	// creates (from: new_id).
	RecordIDs *IDFormatSpec `yaml:"record_ids"`
	// Links, when set, names link attributes of records.
	Links  *LinkSuffixes        `yaml:"links"`
	Errors ErrorSpec            `yaml:"errors" required:"true"`
	Shapes map[string]*Template `yaml:"shapes"`
	Routes []*RouteSpec         `yaml:"routes" required:"true"`
}

// Credential says where a dialect's clients put their key.
type Credential struct {
	Header string `yaml:"header" required:"true"`
	// Scheme is a prefix such as "Bearer" that precedes the token.
	Scheme string `yaml:"scheme"`
	// SchemeOptional accepts the bare token too.
	SchemeOptional bool `yaml:"scheme_optional"`
	// HMAC, when set, is a second form: a request signed with the key's
	// secret (see signed.go).
	HMAC *HMACCredential `yaml:"hmac"`
}

// HMACCredential is a signed credential: Header carries
// base64(<key name> ":" HMAC-SHA256(<key secret>, <message>)), the message
// being Message with {method} and {path} (the request path below the
// mount, without the query, as sent) filled in.
type HMACCredential struct {
	Header  string `yaml:"header"`
	Message string `yaml:"message"`
}

// IDFormatSpec says how canonical ids look in a dialect.
type IDFormatSpec struct {
	// Alphabet is hex, urlsafe or uuid.
	Alphabet string `yaml:"alphabet" required:"true"`
	// Length is the number of symbols (ignored for uuid).
	Length int `yaml:"length"`
	// Template wraps the encoded id, e.g. "/uploads/{id}-{name}".
	Template string `yaml:"template"`
}

// ErrorSpec maps canonical error kinds to a dialect's error responses.
type ErrorSpec struct {
	// Status maps every canonical kind to an HTTP status.
	Status map[string]int `yaml:"status" required:"true"`
	// JSON is the body template; absent means an empty body.
	JSON *Template `yaml:"json"`
	// Header, when set, carries the message in that response header.
	Header string `yaml:"header"`
}

// RouteSpec is one route of a dialect.
type RouteSpec struct {
	Name   string `yaml:"name" required:"true"`
	Method string `yaml:"method" required:"true"`
	Path   string `yaml:"path" required:"true"`
	Op     Op     `yaml:"op" required:"true"`
	// Scope is read or edit: the permission a key needs.
	Scope string `yaml:"scope" required:"true"`
	// Replace, when "name", makes a create replace a same-named attachment.
	Replace string `yaml:"replace"`
	// RequireRecord makes a create fail with not_found unless the record
	// already exists (APIs whose records are made elsewhere).
	RequireRecord bool `yaml:"require_record"`
	// YieldsTo names earlier, more specific routes of the dialect that
	// match some of this route's requests and take them (see clash.go).
	YieldsTo []string             `yaml:"yields_to"`
	Body     BodySpec             `yaml:"body"`
	Bind     map[string]*BindSpec `yaml:"bind"`
	Messages map[string]string    `yaml:"messages"`
	Response ResponseSpec         `yaml:"response"`
}

// BodySpec says what a route's request body is.
type BodySpec struct {
	// Kind is none, json, raw or multipart.
	Kind string `yaml:"kind"`
	// File names the multipart part that carries the file.
	File string `yaml:"file"`
	// Max caps the body in bytes; larger bodies are too_large.
	Max ByteSize `yaml:"max"`
}

// BindSpec binds one canonical value to a source in the request.
type BindSpec struct {
	From string `yaml:"from" required:"true"`
	// Fallback is read when From is absent.
	Fallback string   `yaml:"fallback"`
	Codec    string   `yaml:"codec"`
	Required bool     `yaml:"required"`
	Max      ByteSize `yaml:"max"`
	MaxLen   int      `yaml:"max_len"`
	Default  string   `yaml:"default"`
	// Sniff fills an empty or generic MIME type from the content.
	Sniff bool `yaml:"sniff"`
	// Files names the shape whose objects, inside this JSON value, are
	// attachments (a record update's file fields).
	Files string `yaml:"files"`
	// RequiredWithout makes the value required unless the named canonical
	// value is bound.
	RequiredWithout string `yaml:"required_without"`
	// Links reads a record's file fields from link attributes named
	// <field><suffix> (see Dialect.Links).
	Links bool `yaml:"links"`
	// Messages override the client message per failure (missing, too_long, invalid).
	Messages map[string]string `yaml:"messages"`
}

// LinkSuffixes name the attributes through which a record refers to its
// attachments, as <field><suffix>: EspoCRM's fileId / attachmentsIds.
type LinkSuffixes struct {
	ID    string `yaml:"id" required:"true"`
	IDs   string `yaml:"ids" required:"true"`
	Name  string `yaml:"name" required:"true"`
	Names string `yaml:"names" required:"true"`
}

// ResponseSpec says how a route answers on success.
type ResponseSpec struct {
	Status      int    `yaml:"status"`
	ContentType string `yaml:"content_type"`
	// List, when "field" or "record", lists that scope after the operation
	// so the template can render $files.
	List string `yaml:"list"`
	// Content, when "raw", streams the attachment's bytes as the body.
	Content string `yaml:"content"`
	// MaxContent caps what may be read back through this route.
	MaxContent ByteSize `yaml:"max_content"`
	// Redirect, when "presigned" on a content: raw route, lets the
	// gateway answer a download with a redirect to the store's own URL of
	// the bytes (Options.PresignTTL), for dialects whose clients follow
	// one.
	Redirect string    `yaml:"redirect"`
	JSON     *Template `yaml:"json"`
}

// Template is a JSON response template, kept as YAML nodes until it is
// compiled (see template.go for its syntax).
type Template struct{ node yaml.Node }

// UnmarshalYAML keeps the node as it is.
func (t *Template) UnmarshalYAML(n *yaml.Node) error {
	t.node = *n
	return nil
}

// ByteSize is a size in bytes written as 10MiB, 64KiB, 1GB or a plain number.
type ByteSize int64

// UnmarshalYAML reads a size with an optional unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = ByteSize(v)
	return nil
}

// ParseByteSize parses "10MiB", "512KB", "1GiB" or "12345".
func ParseByteSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000}, {"B", 1}}
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q: want a whole number with an optional unit (KiB, MiB, GiB, KB, MB, GB)", s)
	}
	return n * mult, nil
}

// Parse decodes routes.yaml strictly: an unknown key, a key written twice
// or a value of the wrong type is a Problem that names its line, and all of
// them are reported together (as Problems). It does not check the content;
// Compile does.
func Parse(data []byte) (*File, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, Problems{syntaxProblem(err)}
	}
	if len(root.Content) == 0 {
		return nil, Problems{{Line: 1, Message: "the file is empty; it needs version: 1 and dialects"}}
	}
	if problems := checkAliases(&root); problems != nil {
		return nil, problems
	}
	var f File
	d := &strictDecoder{reported: map[*yaml.Node]bool{}}
	d.decode(root.Content[0], reflect.ValueOf(&f).Elem(), place{})
	if len(d.problems) > 0 {
		return nil, d.problems.sorted()
	}
	f.root = &root
	return &f, nil
}

// DialectNames returns the dialect names in a stable order.
func (f *File) DialectNames() []string {
	names := make([]string, 0, len(f.Dialects))
	for n := range f.Dialects {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// line finds the line of the node at a path of mapping keys and sequence
// indexes below the document root, or of the deepest node that exists.
func (f *File) line(path ...any) int {
	if f.root == nil || len(f.root.Content) == 0 {
		return 0
	}
	n := f.root.Content[0]
	line := n.Line
	for _, p := range path {
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if key, val := findKey(n, k); key != nil {
				line, next = key.Line, val
			}
		case int:
			if n.Kind == yaml.SequenceNode && k < len(n.Content) {
				next = n.Content[k]
				line = next.Line
			}
		}
		if next == nil {
			return line
		}
		n = next
	}
	return line
}

// findKey finds a key of a mapping, in its own keys or, as YAML merges
// them, in the mappings it merges (<<: *x), so that a problem in a merged
// value is reported where it is written.
func findKey(n *yaml.Node, k string) (key, val *yaml.Node) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.SequenceNode: // <<: [*a, *b]
		for _, c := range n.Content {
			if key, val := findKey(c, k); key != nil {
				return key, val
			}
		}
		return nil, nil
	case yaml.MappingNode:
	default:
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == k && n.Content[i].Tag != "!!merge" {
			return n.Content[i], n.Content[i+1]
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Tag == "!!merge" {
			if key, val := findKey(n.Content[i+1], k); key != nil {
				return key, val
			}
		}
	}
	return nil, nil
}
