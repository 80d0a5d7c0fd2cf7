package translate

import (
	"fmt"
	"reflect"
	"slices"
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
	// astray records keys found below the mapping they belong to.
	astray []astray
	// stack holds the struct types being decoded, outermost first.
	stack []reflect.Type
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
	var own, merged, twice []pair
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Tag == "!!merge" {
			merged = append(merged, d.mergePairs(val, at)...)
			continue
		}
		if prev, ok := first[k.Value]; ok {
			twice = append(twice, pair{k, prev})
			continue
		}
		first[k.Value] = k
		own = append(own, pair{k, val})
	}
	switch len(twice) {
	case 0:
	case 1:
		d.fail(twice[0].key, "key `%s` appears twice %s (first at line %d)", twice[0].key.Value, at.in(), twice[0].val.Line)
	default:
		// Several keys again, one after another: two entries run together
		// (a "- " line lost), which is one mistake.
		var keys []string
		for _, p := range twice {
			keys = append(keys, p.key.Value)
		}
		d.fail(twice[0].key, "keys %s appear twice %s (again from line %d on); are two entries run together?", allOf(keys), at.in(), twice[0].key.Line)
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
	d.stack = append(d.stack, v.Type())
	defer func() { d.stack = d.stack[:len(d.stack)-1] }()
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
	var strays []pair
	for _, p := range ps {
		if _, ok := fields[p.key.Value]; !ok {
			if _, typo := closest(p.key.Value, names); !typo {
				strays = append(strays, p)
			}
		}
	}
	for _, p := range ps {
		i, ok := fields[p.key.Value]
		if !ok {
			hint := didYouMean(p.key.Value, names)
			if hint == "" && (len(strays) > 1 || d.strayHomed(strays, v.Type(), names, at)) {
				continue // reported together below, or just now
			}
			if hint == "" {
				hint = "; the keys here are " + allOf(names)
			}
			d.fail(p.key, "unknown key `%s` %s%s", p.key.Value, at.in(), hint)
			continue
		}
		d.decode(p.val, v.Field(i), at.below(p.key.Value))
	}
	if len(strays) > 1 {
		d.strays(strays, v.Type(), names, at)
	}
	// Checked after the keys below were decoded: a required key whose own
	// keys were found astray below (its line lost) is that one mistake.
	var missing []string
	for _, key := range names {
		if v.Type().Field(fields[key]).Tag.Get("required") == "true" && !present[key] && !d.foundAstray(key, n) {
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
}

// strays reports, once, several keys of a mapping that are no keys of it
// and no misspellings of one: most likely the line above them, naming the
// mapping they belong to, is lost, or they are indented too far. When the
// keys are all those of one part of the file, it is named.
func (d *strictDecoder) strays(ps []pair, t reflect.Type, names []string, at place) {
	var keys []string
	for _, p := range ps {
		keys = append(keys, p.key.Value)
	}
	home, ok := d.nearHome(keys, t, at)
	if !ok {
		home, ok = homeOf(keys, t)
	}
	if !ok {
		d.fail(ps[0].key, "keys %s are not keys %s (which are %s); is a line missing above line %d, or are they indented too far?",
			allOf(keys), at.in(), allOf(names), ps[0].key.Line)
		return
	}
	d.astray = append(d.astray, astray{home.name, ps[0].key.Line})
	d.fail(ps[0].key, "keys %s are not keys %s (which are %s) but of %s; is %s line missing above line %d, or are they indented too far?",
		allOf(keys), at.in(), allOf(names), home.name, home.line(), ps[0].key.Line)
}

// strayHomed reports a single stray key that belongs to a part of the
// file near it (whose line is then likely lost), and says whether it did.
func (d *strictDecoder) strayHomed(strays []pair, t reflect.Type, names []string, at place) bool {
	if len(strays) != 1 {
		return false
	}
	p := strays[0]
	home, ok := d.nearHome([]string{p.key.Value}, t, at)
	if !ok {
		return false
	}
	d.astray = append(d.astray, astray{home.name, p.key.Line})
	d.fail(p.key, "unknown key `%s` %s (which has %s): it is a key of %s; is %s line missing above line %d, or is it indented too far?",
		p.key.Value, at.in(), allOf(names), home.name, home.line(), p.key.Line)
	return true
}

// nearHome finds where keys found astray in a mapping of type t belong,
// looking only near it: the entries of one of t's own maps (error kinds
// under errors: are errors.status entries), or the keys of a part that t
// or a mapping around it has (body, response, errors, ...).
func (d *strictDecoder) nearHome(keys []string, t reflect.Type, at place) (keyHome, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if f.Type.Kind() != reflect.Map || name == "" {
			continue
		}
		valid := entryKeyValid(f.Type.Elem(), at.below(name))
		if valid == nil {
			continue
		}
		all := true
		for _, k := range keys {
			all = all && valid(k)
		}
		if all {
			return keyHome{"`" + name + "`", f.Type}, true
		}
	}
	for i := len(d.stack) - 1; i >= 0; i-- {
		outer := d.stack[i]
		for j := range outer.NumField() {
			f := outer.Field(j)
			name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() != reflect.Struct || ft == t || ft == templateType || name == "" {
				continue
			}
			fields := yamlFields(ft)
			all := true
			for _, k := range keys {
				_, ok := fields[k]
				all = all && ok
			}
			if all {
				return keyHome{"`" + name + "`", ft}, true
			}
		}
	}
	return keyHome{}, false
}

// homeOf finds the part of the file, other than not, that has all of keys.
func homeOf(keys []string, not reflect.Type) (keyHome, bool) {
	for _, h := range keyHomes {
		if h.t == not {
			continue
		}
		fields := yamlFields(h.t)
		all := true
		for _, k := range keys {
			if _, ok := fields[k]; !ok {
				all = false
			}
		}
		if all {
			return h, true
		}
	}
	return keyHome{}, false
}

// astray is a run of keys found below the mapping they belong to.
type astray struct {
	home string // "`errors`"
	line int
}

// foundAstray reports whether the keys of the required key were found
// astray inside n (so that its absence is not reported a second time).
func (d *strictDecoder) foundAstray(key string, n *yaml.Node) bool {
	last := lastLine(n)
	for _, a := range d.astray {
		if a.home == "`"+key+"`" && a.line >= n.Line && a.line <= last {
			return true
		}
	}
	return false
}

// lastLine is the last line a node's value reaches.
func lastLine(n *yaml.Node) int {
	last := n.Line
	for _, c := range n.Content {
		last = max(last, lastLine(c))
	}
	return last
}

// keyHome is a part of the routes file that has keys of its own.
type keyHome struct {
	name string // "`errors`", "a route"
	t    reflect.Type
}

// line says which line would open it: "the `errors:`" or "a".
func (h keyHome) line() string {
	if strings.HasPrefix(h.name, "`") {
		return "the " + strings.TrimSuffix(h.name, "`") + ":`"
	}
	return "a"
}

// keyHomes lists each part of the routes file that has keys of its own,
// in the order a reader meets them, for strays.
var keyHomes = func() []keyHome {
	var out []keyHome
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type, name string)
	walk = func(t reflect.Type, name string) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || t == templateType || seen[t] {
			return
		}
		seen[t] = true
		out = append(out, keyHome{name, t})
		for i := range t.NumField() {
			f := t.Field(i)
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if !f.IsExported() || key == "" {
				continue
			}
			switch f.Type.Kind() {
			case reflect.Slice:
				walk(f.Type, "a route")
			case reflect.Map:
				walk(f.Type, "a "+strings.TrimSuffix(key, "s"))
			default:
				walk(f.Type, "`"+key+"`")
			}
		}
	}
	walk(reflect.TypeFor[File](), "the top level")
	return out
}()

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
	ps := d.trailingAstray(d.pairs(n, at), elem, at)
	if elem.Kind() == reflect.Pointer && elem.Elem().Kind() == reflect.Struct {
		ps = d.misplaced(ps, elem.Elem(), at)
	}
	for _, p := range ps {
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

// trailingAstray finds, at the end of a map of named things, a run of
// entries that are the keys of another part of the file, and at least one
// of which cannot be an entry of this map: the line opening that part (as
// `response:`) is lost, and its keys joined the map above. The run is
// reported once and left out.
func (d *strictDecoder) trailingAstray(ps []pair, elem reflect.Type, at place) []pair {
	validKey := entryKeyValid(elem, at)
	structs := elem.Kind() == reflect.Pointer && elem.Elem().Kind() == reflect.Struct && elem.Elem() != templateType
	if validKey == nil && !structs {
		return ps // any name is an entry (shapes)
	}
	var own reflect.Type
	if structs {
		own = elem.Elem()
	}
	best, bestHome := 0, keyHome{}
	for _, h := range keyHomes {
		if h.t == own {
			continue
		}
		fields := yamlFields(h.t)
		run := 0
		for run < len(ps) {
			if _, ok := fields[ps[len(ps)-1-run].key.Value]; !ok {
				break
			}
			run++
		}
		if run > best {
			best, bestHome = run, h
		}
	}
	if best == 0 {
		return ps
	}
	run := ps[len(ps)-best:]
	badKeys, badValues := 0, 0
	for _, p := range run {
		if validKey != nil && !validKey(p.key.Value) {
			badKeys++
		}
		if structs && !isMappingOrNull(p.val) {
			badValues++
		}
	}
	// A run of valid names is left to the usual checks: they may well be
	// entries, one of them with a wrong value.
	if badKeys == 0 && (validKey != nil || badValues < 2) {
		return ps
	}
	var keys []string
	for _, p := range run {
		keys = append(keys, p.key.Value)
	}
	d.astray = append(d.astray, astray{bestHome.name, run[0].key.Line})
	d.fail(run[0].key, "%s %s of %s, but %s %s; is %s line missing above line %d?",
		allOf(keys), plural(len(keys), "is a key", "are keys"), bestHome.name, plural(len(keys), "it stands", "they stand"), at.in(), bestHome.line(), run[0].key.Line)
	return ps[:len(ps)-best]
}

func isMappingOrNull(v *yaml.Node) bool {
	for v.Kind == yaml.AliasNode {
		v = v.Alias
	}
	return v.Kind == yaml.MappingNode || v.Tag == "!!null"
}

// entryKeyValid says which names a map's entries may have, as far as the
// decoder can tell: nil when any name may be one (dialects, shapes).
func entryKeyValid(elem reflect.Type, at place) func(string) bool {
	switch {
	case elem == reflect.PointerTo(bindType):
		return func(k string) bool { return knownTargets[k] }
	case at.keys == "errors.status" || (at.keys == "messages" && strings.HasPrefix(at.where, "route ")):
		return isKnownKind
	case at.keys == "messages" && strings.HasPrefix(at.where, "binding "):
		return func(k string) bool { return slices.Contains([]string{"missing", "too_long", "invalid"}, k) }
	}
	return nil
}

// entryNouns name what the entries of a map of named things are.
var entryNouns = map[reflect.Type][2]string{
	dialectType: {"a dialect", "dialect names"},
	bindType:    {"a binding", "canonical values"},
}

// misplaced finds, in a map of named things (dialects, bindings), the
// entries that cannot be one: keys of the thing itself, written where
// names go (its name line lost, or its keys indented too little), or
// several values that are not mappings (a line lost above them). Each such
// run is one mistake, reported once; the rest is decoded as usual.
func (d *strictDecoder) misplaced(ps []pair, elem reflect.Type, at place) []pair {
	nouns, ok := entryNouns[elem]
	if !ok {
		return ps
	}
	fields := yamlFields(elem)
	var keys, values []pair
	var rest []pair
	for _, p := range ps {
		_, isKey := fields[p.key.Value]
		val := p.val
		for val.Kind == yaml.AliasNode {
			val = val.Alias
		}
		switch {
		case isKey:
			keys = append(keys, p)
		case val.Kind != yaml.MappingNode && val.Tag != "!!null":
			values = append(values, p)
		default:
			rest = append(rest, p)
		}
	}
	names := func(ps []pair) string {
		var out []string
		for _, p := range ps {
			out = append(out, p.key.Value)
		}
		return allOf(out)
	}
	if len(keys) > 0 {
		d.fail(keys[0].key, "%s %s of %s, but %s where %s go (%s); is the line naming it missing, or are these lines indented too little?",
			names(keys), plural(len(keys), "is a key", "are keys"), nouns[0], plural(len(keys), "it stands", "they stand"), nouns[1], at.in())
	}
	if len(values) > 1 {
		d.fail(values[0].key, "%s %s are not %s (each a mapping of keys); is a line missing above them, or are they indented too far?",
			names(values), at.in(), strings.TrimPrefix(strings.TrimPrefix(nouns[0], "a "), "an ")+"s")
	} else {
		rest = append(rest, values...)
	}
	return rest
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
