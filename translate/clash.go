package translate

import (
	"slices"
	"strings"
)

// Routes that collide are refused at start, because fiber resolves a
// collision silently: it gives a request to the first registered route that
// matches it, and the gateway registers dialects in name order and each
// dialect's routes in file order.
//
//   - Within a dialect a route name is used once.
//   - Routes of different dialects never match the same request, and no
//     route matches a request under another dialect's longer mount (whose
//     clients would get the wrong dialect's answers) or the gateway's own
//     presigned-link path.
//   - Within a dialect, two routes of one method may overlap only when the
//     earlier one in the file is strictly more specific (every request it
//     matches, the later one matches too) and the later one says so with
//     yields_to: [earlier]. POST /Attachment before POST /:entity is such
//     a pair: the record route serves every entity type but Attachment.
//     Any other overlap is refused, naming a request both would match.

// routeMethods are the methods a route may have (compileRoute checks).
var routeMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// routeAt is a compiled route with where it is written, for the checks.
type routeAt struct {
	r    *compiledRoute
	line int
	full *pathPattern // nil when the path or the mount is unusable
}

func (ra routeAt) name() string { return ra.r.d.name + "." + ra.r.spec.Name }

// checkRouteNames refuses a route name used twice in one dialect.
func checkRouteNames(f *File, d *compiledDialect, fail func(int, string, ...any)) {
	first := map[string]int{}
	for i, r := range d.routes {
		line := f.line("dialects", d.name, "routes", i, "name")
		if r.spec.Name == "" {
			continue
		}
		if prev, ok := first[r.spec.Name]; ok {
			fail(line, "route name `%s` is used twice in dialect %s (first at line %d); route names must be unique within a dialect", r.spec.Name, d.name, prev)
			continue
		}
		first[r.spec.Name] = line
	}
}

// checkOverlaps refuses routes that match the same request, but for the
// declared yields_to pairs described above.
func checkOverlaps(f *File, ds []*compiledDialect, fail func(int, string, ...any)) {
	var all []routeAt
	for _, d := range ds {
		for i, r := range d.routes {
			ra := routeAt{r: r, line: f.line("dialects", d.name, "routes", i)}
			if r.pattern != nil && d.mount != nil && slices.Contains(routeMethods, r.spec.Method) {
				ra.full = r.pattern.under(d.mount)
			}
			all = append(all, ra)
		}
	}
	linkRoute, _ := parsePath(LinkPath + ":token")
	for _, ra := range all {
		if ra.full == nil {
			continue
		}
		if both, ok := overlap(ra.full, linkRoute); ok && ra.r.spec.Method == "GET" {
			fail(ra.line, "route %s matches the gateway's own presigned-link path %s (such as GET %s); give it another path", ra.name(), linkRoute, both)
			continue
		}
		for _, other := range ds {
			own := ra.r.d.mount
			if other == ra.r.d || other.mount == nil || own == nil || len(other.mount.segs) <= len(own.segs) ||
				!within(other.mount, &pathPattern{segs: own.segs, wild: true}) {
				continue
			}
			space := &pathPattern{segs: other.mount.segs, wild: true}
			if both, ok := overlap(ra.full, space); ok {
				fail(ra.line, "route %s matches requests under dialect %s's mount %s (such as %s %s), whose clients would get dialect %s's answers; give it a path outside %s",
					ra.name(), other.name, other.spec.Mount, ra.r.spec.Method, both, ra.r.d.name, other.spec.Mount)
				break
			}
		}
	}
	// Routes of two dialects can only meet when the mounts are equal
	// (checkMounts) or one lies under the other (reported above), so the
	// pairs left to judge are those within one dialect.
	used := map[[2]*compiledRoute]bool{}
	for j, late := range all {
		for _, early := range all[:j] {
			if early.r.d != late.r.d || early.full == nil || late.full == nil || early.r.spec.Method != late.r.spec.Method {
				continue
			}
			both, ok := overlap(early.full, late.full)
			if !ok {
				continue
			}
			used[[2]*compiledRoute{late.r, early.r}] = true
			checkPair(early, late, both, fail)
		}
	}
	byRoute := map[*compiledRoute]routeAt{}
	for _, ra := range all {
		byRoute[ra.r] = ra
	}
	for _, ra := range all {
		checkYieldsTo(ra, byRoute, used, fail)
	}
}

// checkPair judges two overlapping routes of one dialect, early first in
// the file, which is the one fiber gives their common requests to.
func checkPair(early, late routeAt, both *pathPattern, fail func(int, string, ...any)) {
	req := late.r.spec.Method + " " + both.String()
	earlyIn, lateIn := within(early.full, late.full), within(late.full, early.full)
	declared := yieldsTo(late.r, early.r.spec.Name)
	switch {
	case slices.Contains(early.r.spec.YieldsTo, late.r.spec.Name):
		// Declared the wrong way round: checkYieldsTo says so.
	case lateIn && earlyIn:
		fail(late.line, "route %s never gets a request: route %s (line %d), earlier in the file, matches the same requests (%s)",
			late.name(), early.name(), early.line, req)
	case lateIn:
		fail(late.line, "route %s never gets a request: route %s (line %d), earlier in the file, matches every request it does, such as %s; to give %s those requests, put it above %s and add `yields_to: [%s]` to %s",
			late.name(), early.name(), early.line, req, late.name(), early.name(), late.r.spec.Name, early.name())
	case !earlyIn:
		fail(late.line, "routes %s (line %d) and %s both match %s, and neither is more specific than the other; make their paths distinct",
			early.name(), early.line, late.name(), req)
	case !declared:
		fail(late.line, "routes %s (line %d) and %s both match %s; fiber gives such requests to %s, the first in the file. If that is meant, add `yields_to: [%s]` to route %s",
			early.name(), early.line, late.name(), req, early.name(), early.r.spec.Name, late.name())
	}
}

// checkYieldsTo refuses a yields_to entry that names no route of the
// dialect, or a route that never competes with this one for a request.
func checkYieldsTo(ra routeAt, byRoute map[*compiledRoute]routeAt, used map[[2]*compiledRoute]bool, fail func(int, string, ...any)) {
	d := ra.r.d
	var names []string
	for _, r := range d.routes {
		names = append(names, r.spec.Name)
	}
	for _, y := range ra.r.spec.YieldsTo {
		idx := slices.IndexFunc(d.routes, func(r *compiledRoute) bool { return r.spec.Name == y })
		switch {
		case y == ra.r.spec.Name:
			fail(ra.line, "route %s: yields_to names the route itself", ra.name())
		case idx < 0:
			fail(ra.line, "route %s: yields_to names `%s`, which is no route of dialect %s%s", ra.name(), y, d.name, didYouMean(y, names))
		case ra.full == nil || byRoute[d.routes[idx]].full == nil:
			// A path, mount or method is wrong and has been reported;
			// nothing to compare.
		case used[[2]*compiledRoute{ra.r, d.routes[idx]}]:
		case used[[2]*compiledRoute{d.routes[idx], ra.r}] && within(ra.full, d.routes[idx].pattern.under(d.mount)):
			fail(ra.line, "route %s yields to %s, which is less specific and comes later in the file; yields_to goes on the less specific route, naming the more specific one above it: remove it here and add `yields_to: [%s]` to %s",
				ra.name(), d.name+"."+y, ra.r.spec.Name, d.name+"."+y)
		case used[[2]*compiledRoute{d.routes[idx], ra.r}]:
			fail(ra.line, "route %s yields to %s, which comes later in the file; fiber tries routes in file order, so put %s above %s", ra.name(), d.name+"."+y, d.name+"."+y, ra.name())
		default:
			fail(ra.line, "route %s yields to %s, but they never match the same request; remove it from yields_to", ra.name(), d.name+"."+y)
		}
	}
}

// checkMounts refuses two dialects on one mount: the second one's catch-all
// would never answer, so its clients would get the first one's errors.
func checkMounts(ds []*compiledDialect, fail func(int, string, ...any), line func(dialect string) int) {
	for j, d := range ds {
		for _, e := range ds[:j] {
			if sameMount(d, e) {
				fail(line(d.name), "dialects %s and %s share the mount %s; each dialect needs its own", e.name, d.name, d.spec.Mount)
			}
		}
	}
}

func sameMount(d, e *compiledDialect) bool {
	return d.mount != nil && e.mount != nil && strings.EqualFold(d.mount.String(), e.mount.String())
}

// yieldsTo reports whether r's yields_to names the route called name, or
// names no route but is a likely typo of name (reported by checkYieldsTo,
// so the overlap is not reported as undeclared too).
func yieldsTo(r *compiledRoute, name string) bool {
	for _, y := range r.spec.YieldsTo {
		if y == name {
			return true
		}
		exists := slices.ContainsFunc(r.d.routes, func(o *compiledRoute) bool { return o.spec.Name == y })
		if best, ok := closest(y, []string{name}); !exists && ok && best == name {
			return true
		}
	}
	return false
}

// checkIDUsers refuses routes that bind or render attachment ids in a
// dialect with no id_format: one problem for the dialect, naming them.
func checkIDUsers(f *File, d *compiledDialect, fail func(int, string, ...any)) {
	if d.spec.IDFormat != nil {
		return // there is one, even if it is wrong (and reported)
	}
	var users []string
	for _, r := range d.routes {
		if r.usesIDs {
			users = append(users, r.spec.Name)
		}
	}
	switch len(users) {
	case 0:
	case 1:
		fail(f.line("dialects", d.name), "dialect %s has no id_format, but route `%s` uses attachment ids (binds id or shows $id); add an id_format", d.name, users[0])
	default:
		fail(f.line("dialects", d.name), "dialect %s has no id_format, but routes %s use attachment ids (bind id or show $id); add an id_format", d.name, allOf(users))
	}
}
