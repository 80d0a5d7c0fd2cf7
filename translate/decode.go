package translate

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// strictDecoder fills the routes file's structs from YAML nodes itself,
// instead of through yaml.v3's decoder, so that every mistake is reported
// at its line in the file's own terms (`max` must be a size like 10MiB)
// rather than in Go's (cannot unmarshal !!str into translate.ByteSize), and
// so that all of them are reported at once.
type strictDecoder struct {
	problems Problems
	// dialect is the name of the dialect being decoded, for naming routes.
	dialect string
	// reported holds the nodes a problem was found at: a node reached
	// again through a YAML alias is decoded again but reported once.
	reported map[*yaml.Node]bool
}

// place says where in the file a value is: the nearest named thing
// (a dialect, a route, a binding) and the keys below it.
type place struct {
	where string // "dialect espocrm", "route espocrm.attachment.create"
	keys  string // "body.max", or "" for the named thing itself
}

func (p place) below(key string) place {
	if p.keys == "" {
		return place{where: p.where, keys: key}
	}
	return place{where: p.where, keys: p.keys + "." + key}
}

// name is how a message names the value: "`body.max` of route d.r".
func (p place) name() string {
	if p.keys == "" && p.where == "" {
		return "the top level"
	}
	if p.keys == "" {
		return p.where
	}
	if p.where == "" {
		return "`" + p.keys + "`"
	}
	return "`" + p.keys + "` of " + p.where
}

// in is how a message names the mapping a key sits in.
func (p place) in() string {
	if p.keys == "" && p.where == "" {
		return "at the top level"
	}
	return "in " + p.name()
}

var (
	byteSizeType = reflect.TypeFor[ByteSize]()
	templateType = reflect.TypeFor[Template]()
	dialectType  = reflect.TypeFor[Dialect]()
	routeType    = reflect.TypeFor[RouteSpec]()
	bindType     = reflect.TypeFor[BindSpec]()
)

func (d *strictDecoder) fail(n *yaml.Node, format string, args ...any) {
	if d.reported[n] {
		return
	}
	d.reported[n] = true
	d.problems = append(d.problems, Problem{Line: n.Line, Message: fmt.Sprintf(format, args...)})
}

// decode fills v from n; at says where n is.
func (d *strictDecoder) decode(n *yaml.Node, v reflect.Value, at place) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	t := v.Type()
	switch {
	case t == templateType:
		v.Addr().Interface().(*Template).node = *n
		return
	case n.Tag == "!!null" && t != reflect.TypeFor[string]():
		return // absent: the zero value, which the compiler checks
	case t == byteSizeType:
		if !d.scalar(n, at, "a size like 10MiB") {
			return
		}
		size, err := ParseByteSize(n.Value)
		if err != nil {
			d.fail(n, "%s must be a size like 10MiB, 64KiB or 1000000, not `%s`", at.name(), n.Value)
			return
		}
		v.SetInt(size)
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		d.decode(n, p.Elem(), at)
		v.Set(p)
	case reflect.Struct:
		d.decodeStruct(n, v, at)
	case reflect.Map:
		d.decodeMap(n, v, at)
	case reflect.Slice:
		d.decodeSlice(n, v, at)
	case reflect.String:
		if d.scalar(n, at, "text") && n.Tag != "!!null" {
			v.SetString(n.Value)
		}
	case reflect.Int, reflect.Int64:
		var i int64
		if d.scalar(n, at, "a whole number") {
			if err := n.Decode(&i); err != nil {
				d.fail(n, "%s must be a whole number, not `%s`", at.name(), n.Value)
				return
			}
			v.SetInt(i)
		}
	case reflect.Bool:
		var b bool
		if d.scalar(n, at, "true or false") {
			if err := n.Decode(&b); err != nil {
				d.fail(n, "%s must be true or false, not `%s`", at.name(), n.Value)
				return
			}
			v.SetBool(b)
		}
	default:
		// Every type of the routes file is handled above; a new field of
		// another type must be added there.
		panic(fmt.Sprintf("translate: routes file field of unhandled type %s", t))
	}
}

// scalar reports whether n is a single value, and says what was wanted
// when it is not.
func (d *strictDecoder) scalar(n *yaml.Node, at place, want string) bool {
	if n.Kind == yaml.ScalarNode {
		return true
	}
	d.fail(n, "%s must be %s, not %s", at.name(), want, describeNode(n))
	return false
}

// describeNode names what a node is, for "must be X, not Y" messages.
func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping (key: value lines)"
	case yaml.SequenceNode:
		return "a list"
	}
	return "`" + n.Value + "`"
}

// pair is one key and value of a mapping.
type pair struct{ key, val *yaml.Node }

// pairs lists a mapping's keys and values with YAML merge keys (<<: *x)
// resolved: the mapping's own keys win over merged ones, and of several
// merged mappings the first wins. A key written twice is reported.
func (d *strictDecoder) pairs(n *yaml.Node, at place) []pair {
	var own, merged []pair
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			merged = append(merged, d.mergePairs(val, at)...)
			continue
		}
		if prev, ok := first[k.Value]; ok {
			d.fail(k, "key `%s` appears twice %s (first at line %d)", k.Value, at.in(), prev.Line)
			continue
		}
		first[k.Value] = k
		own = append(own, pair{k, val})
	}
	out := own
	for _, p := range merged {
		if _, ok := first[p.key.Value]; !ok {
			first[p.key.Value] = p.key
			out = append(out, p)
		}
	}
	return out
}

func (d *strictDecoder) mergePairs(val *yaml.Node, at place) []pair {
	for val.Kind == yaml.AliasNode {
		val = val.Alias
	}
	switch val.Kind {
	case yaml.MappingNode:
		return d.pairs(val, at)
	case yaml.SequenceNode:
		var out []pair
		for _, m := range val.Content {
			out = append(out, d.mergePairs(m, at)...)
		}
		return out
	}
	d.fail(val, "`<<` %s must merge a mapping, not %s", at.in(), describeNode(val))
	return nil
}

func (d *strictDecoder) decodeStruct(n *yaml.Node, v reflect.Value, at place) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, "%s must be a mapping (key: value lines), not %s", at.name(), describeNode(n))
		return
	}
	fields := yamlFields(v.Type())
	if v.Type() == routeType {
		at = place{where: "route " + d.dialect + "." + routeName(n)}
	}
	ps := d.pairs(n, at)
	// A required key is missing unless it is there, or a misspelling of it
	// is (which is reported as that, once).
	present := map[string]bool{}
	names := sortedKeys(fields)
	for _, p := range ps {
		present[p.key.Value] = true
		if _, ok := fields[p.key.Value]; !ok {
			if best, ok := closest(p.key.Value, names); ok {
				present[best] = true
			}
		}
	}
	var missing []string
	for _, key := range names {
		if v.Type().Field(fields[key]).Tag.Get("required") == "true" && !present[key] {
			missing = append(missing, key)
		}
	}
	switch len(missing) {
	case 0:
	case 1:
		d.fail(n, "%s has no `%s`, which is required", at.name(), missing[0])
	default:
		d.fail(n, "%s has no %s, which are required", at.name(), allOf(missing))
	}
	for _, p := range ps {
		i, ok := fields[p.key.Value]
		if !ok {
			hint := didYouMean(p.key.Value, names)
			if hint == "" {
				hint = "; the keys here are " + allOf(names)
			}
			d.fail(p.key, "unknown key `%s` %s%s", p.key.Value, at.in(), hint)
			continue
		}
		d.decode(p.val, v.Field(i), at.below(p.key.Value))
	}
}

// routeName is a route's name as written, or "?" before it has one.
func routeName(n *yaml.Node) string {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" {
			return v.Value
		}
	}
	return "?"
}

func (d *strictDecoder) decodeMap(n *yaml.Node, v reflect.Value, at place) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, "%s must be a mapping (key: value lines), not %s", at.name(), describeNode(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	elem := v.Type().Elem()
	for _, p := range d.pairs(n, at) {
		e := reflect.New(elem).Elem()
		below := at.below(p.key.Value)
		switch {
		case elem.Kind() == reflect.Pointer && elem.Elem() == dialectType:
			d.dialect = p.key.Value
			below = place{where: "dialect " + p.key.Value}
		case elem.Kind() == reflect.Pointer && elem.Elem() == bindType:
			below = place{where: "binding `" + p.key.Value + "` of " + at.where}
		}
		d.decode(p.val, e, below)
		v.SetMapIndex(reflect.ValueOf(p.key.Value), e)
	}
}

func (d *strictDecoder) decodeSlice(n *yaml.Node, v reflect.Value, at place) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, "%s must be a list (lines starting with -), not %s", at.name(), describeNode(n))
		return
	}
	elem := v.Type().Elem()
	for _, c := range n.Content {
		if c.Tag == "!!null" {
			d.fail(c, "%s has an empty entry", at.name())
			continue
		}
		e := reflect.New(elem).Elem()
		d.decode(c, e, at)
		v.Set(reflect.Append(v, e))
	}
}

// yamlFields maps a struct's YAML keys to its field indexes.
func yamlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.IsExported() && name != "" && name != "-" {
			out[name] = i
		}
	}
	return out
}

// maxExpandedNodes bounds the YAML nodes a routes file may have with its
// aliases expanded: routes.yaml has a few thousand, and a file whose
// aliases nest into millions (the "billion laughs") is refused before
// anything walks it.
const maxExpandedNodes = 1 << 20

// checkAliases refuses an alias inside the node it names, which would make
// every walk of the tree endless, and aliases that expand too far.
func checkAliases(root *yaml.Node) Problems {
	open := map[*yaml.Node]bool{}
	count := 0
	var problem *Problem
	var walk func(n *yaml.Node) bool
	walk = func(n *yaml.Node) bool {
		if count++; count > maxExpandedNodes {
			problem = &Problem{Line: n.Line, Message: fmt.Sprintf("the file's aliases expand to more than %d values; write it with fewer nested aliases", maxExpandedNodes)}
			return false
		}
		if n.Kind == yaml.AliasNode {
			if n.Alias == nil {
				return true
			}
			if open[n.Alias] {
				problem = &Problem{Line: n.Line, Message: fmt.Sprintf("the alias `*%s` is inside the value it names (the anchor `&%s` at line %d), so it would never end", n.Value, n.Value, n.Alias.Line)}
				return false
			}
			n = n.Alias
		}
		open[n] = true
		defer delete(open, n)
		for _, c := range n.Content {
			if !walk(c) {
				return false
			}
		}
		return true
	}
	if walk(root); problem != nil {
		return Problems{*problem}
	}
	return nil
}
