package translate

import (
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// shapeRefRE finds the shape named in $files[shape], $attachment[shape]
// and $record.fields[shape].
var shapeRefRE = regexp.MustCompile(`\$[A-Za-z_.]+\[([^\]]*)\]`)

// checkShapeRefs reports shapes that are not mappings, and shapes that
// routes name (in templates and in files: bindings) but the dialect does
// not define, each once, naming the routes that use it. Either becomes an
// empty placeholder in d.shapes, so that compiling the routes does not
// report the same shape again for each; the file is refused, so no
// placeholder is ever rendered.
func checkShapeRefs(d *compiledDialect, at func(...any) int, fail func(int, string, ...any)) {
	var flat []string
	for _, name := range sortedKeys(d.spec.Shapes) {
		if n := d.spec.Shapes[name]; n == nil || n.node.Kind != yaml.MappingNode {
			flat = append(flat, name)
		}
	}
	switch len(flat) {
	case 0:
	case 1:
		fail(at("shapes", flat[0]), "dialect %s: shape %s must be a mapping of keys, as in {id: $id, name: $name}", d.name, flat[0])
	default:
		// Several at once: most likely the line naming one shape is lost
		// and its keys read as shapes.
		fail(at("shapes", flat[0]), "dialect %s: shapes %s must each be a mapping of keys; is the line naming a shape missing above them?", d.name, allOf(flat))
	}
	type use struct {
		route string
		line  int
	}
	uses := map[string][]use{}
	note := func(route, shape string, line int) {
		if _, ok := d.spec.Shapes[shape]; !ok {
			uses[shape] = append(uses[shape], use{route, line})
		}
	}
	for i, rs := range d.spec.Routes {
		if rs.Response.JSON != nil {
			walkScalars(&rs.Response.JSON.node, func(n *yaml.Node) {
				for _, m := range shapeRefRE.FindAllStringSubmatch(n.Value, -1) {
					note(rs.Name, m[1], n.Line)
				}
			})
		}
		for _, target := range sortedKeys(rs.Bind) {
			if b := rs.Bind[target]; b != nil && b.Files != "" {
				note(rs.Name, b.Files, at("routes", i, "bind", target))
			}
		}
	}
	for _, shape := range sortedKeys(uses) {
		d.shapes[shape] = &tObject{}
		if len(flat) > 1 {
			continue // the lost line naming a shape, reported above
		}
		var routes []string
		seen := map[string]bool{}
		for _, u := range uses[shape] {
			if !seen[u.route] {
				seen[u.route] = true
				routes = append(routes, u.route)
			}
		}
		hint := didYouMean(shape, sortedKeys(d.spec.Shapes))
		if len(routes) == 1 {
			fail(uses[shape][0].line, "route %s.%s uses the shape `%s`, which dialect %s does not define%s", d.name, routes[0], shape, d.name, hint)
			continue
		}
		fail(uses[shape][0].line, "routes %s use the shape `%s`, which dialect %s does not define%s", allOf(routes), shape, d.name, hint)
	}
}

// walkScalars calls fn on every scalar below n, aliases followed.
func walkScalars(n *yaml.Node, fn func(*yaml.Node)) {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode {
		fn(n)
	}
	for _, c := range n.Content {
		walkScalars(c, fn)
	}
}

// checkLinkUsers reports, once, routes that read or show link attributes
// (links: true, $record.links) in a dialect without links suffixes. It
// then gives the dialect empty suffixes, so that compiling those routes
// does not report the same again for each; the file is refused, so they
// are never used.
func checkLinkUsers(d *compiledDialect, at func(...any) int, fail func(int, string, ...any)) {
	if d.spec.Links != nil {
		return
	}
	var users []string
	for _, rs := range d.spec.Routes {
		uses := false
		if b := rs.Bind["data"]; b != nil && b.Links {
			uses = true // on other values links: is wrong anyway, and says so
		}
		if rs.Response.JSON != nil {
			walkScalars(&rs.Response.JSON.node, func(n *yaml.Node) {
				uses = uses || strings.Contains(n.Value, "$record.links")
			})
		}
		if uses {
			users = append(users, rs.Name)
		}
	}
	if len(users) == 0 {
		return
	}
	fail(at(), "dialect %s has no links suffixes, but %s %s link attributes (links: true or $record.links); add `links: {id: Id, ids: Ids, name: Name, names: Names}` with the dialect's own suffixes",
		d.name, plural(len(users), "route", "routes")+" "+allOf(users), plural(len(users), "reads", "read"))
	d.spec.Links = &LinkSuffixes{}
}
