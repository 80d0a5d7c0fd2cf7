package translate

import (
	"fmt"
	"regexp"
	"strings"
)

// A route path is the subset of fiber's path syntax whose matching a reader
// can predict: literal segments, whole-segment parameters (/:id) and one
// whole trailing wildcard (/*). Fiber also reads a parameter inside a
// segment (/file:id matches /file123), several in one (/:a-:b splits at
// the '-'), optional and greedy parameters (:id?, +) and constraints
// (:id<int>); routes.yaml refuses them all, so that the overlap checks in
// clash.go model exactly what fiber does. Fiber, as the gateway configures
// it, ignores the case of literal segments and a trailing slash, and tries
// routes in the order they were registered (see Gateway.Mount).

// segment is one '/'-separated part of a route path.
type segment struct {
	lit   string // a literal segment, or "" for a parameter
	param string // a parameter's name
}

// pathPattern is a parsed route path, or a mount and a route path joined.
type pathPattern struct {
	segs []segment
	// wild is a trailing /*: any rest of the path, including none.
	wild bool
}

var paramNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parsePath parses a route's path (below the mount).
func parsePath(path string) (*pathPattern, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("path `%s` must start with `/`", path)
	}
	p := &pathPattern{}
	if path == "/" {
		return p, nil // the mount itself
	}
	if strings.HasSuffix(path, "/") {
		return nil, fmt.Errorf("path `%s` ends with `/`, which fiber ignores: write `%s`", path, strings.TrimRight(path, "/"))
	}
	parts := strings.Split(path[1:], "/")
	names := map[string]bool{}
	for i, s := range parts {
		last := i == len(parts)-1
		switch {
		case s == "":
			return nil, fmt.Errorf("path `%s` has an empty segment (`//`)", path)
		case s == "*":
			if !last {
				return nil, fmt.Errorf("path `%s`: the wildcard `*` must be the last segment", path)
			}
			p.wild = true
		case strings.HasPrefix(s, ":"):
			name := s[1:]
			if !paramNameRE.MatchString(name) {
				return nil, badParam(path, s)
			}
			if names[name] {
				return nil, fmt.Errorf("path `%s` names the parameter `%s` twice", path, name)
			}
			names[name] = true
			p.segs = append(p.segs, segment{param: name})
		case strings.Contains(s, ":"):
			at := strings.Index(s, ":")
			return nil, fmt.Errorf("path `%s`: the parameter `%s` is only part of the segment `%s`, so fiber would match `%sx` and read `x` as the parameter; a parameter must be a whole segment, as in `/%s/%s`", path, s[at:], s, s[:at], s[:at], s[at:])
		case strings.Contains(s, "*"):
			return nil, fmt.Errorf("path `%s`: the wildcard `*` is only part of the segment `%s`, so fiber would match any text there; a wildcard must be a whole last segment, as in `/%s/*`", path, s, strings.ReplaceAll(s, "*", ""))
		case strings.ContainsAny(s, `+?\`):
			return nil, fmt.Errorf("path `%s`: the segment `%s` holds `+`, `?` or `\\`, which fiber reads as parameter syntax; routes use only `:name` parameters and a last `*`", path, s)
		default:
			p.segs = append(p.segs, segment{lit: s})
		}
	}
	return p, nil
}

// parseMount parses a dialect's mount: a fixed path of literal segments.
func parseMount(mount string) (*pathPattern, error) {
	if mount == "" {
		return nil, fmt.Errorf("no mount: the path all its routes sit under, as in `/api`")
	}
	if mount == "/" || strings.HasSuffix(mount, "/") {
		return nil, fmt.Errorf("mount `%s` must start with `/` and not end with one, as in `/api`", mount)
	}
	p, err := parsePath(mount)
	if err != nil {
		return nil, fmt.Errorf("mount: %w", err)
	}
	if p.wild || len(p.params()) > 0 {
		return nil, fmt.Errorf("mount `%s` must be a fixed path, without parameters or wildcards", mount)
	}
	return p, nil
}

// params lists the pattern's parameter names.
func (p *pathPattern) params() []string {
	var out []string
	for _, s := range p.segs {
		if s.param != "" {
			out = append(out, s.param)
		}
	}
	return out
}

// hasParam reports whether the path binds name ("*" for the wildcard).
func (p *pathPattern) hasParam(name string) bool {
	if name == "*" {
		return p.wild
	}
	for _, s := range p.segs {
		if s.param == name {
			return true
		}
	}
	return false
}

// under joins a mount and a route path into the path fiber registers.
func (p *pathPattern) under(mount *pathPattern) *pathPattern {
	segs := append(append([]segment(nil), mount.segs...), p.segs...)
	return &pathPattern{segs: segs, wild: p.wild}
}

func (p *pathPattern) String() string {
	var b strings.Builder
	for _, s := range p.segs {
		b.WriteByte('/')
		if s.param != "" {
			b.WriteString(":" + s.param)
		} else {
			b.WriteString(s.lit)
		}
	}
	if p.wild {
		b.WriteString("/*")
	}
	if b.Len() == 0 {
		return "/"
	}
	return b.String()
}

// overlap reports whether some request path matches both patterns, and
// returns the pattern of those paths, to show in a message.
func overlap(a, b *pathPattern) (*pathPattern, bool) {
	both := &pathPattern{}
	n := min(len(a.segs), len(b.segs))
	for i := range n {
		x, y := a.segs[i], b.segs[i]
		switch {
		case x.param == "" && y.param == "" && !strings.EqualFold(x.lit, y.lit):
			return nil, false
		case x.param != "" && y.param == "":
			both.segs = append(both.segs, y) // the literal is the narrower
		default:
			both.segs = append(both.segs, x)
		}
	}
	switch {
	case len(a.segs) == len(b.segs):
		both.wild = a.wild && b.wild
	case len(a.segs) < len(b.segs) && a.wild:
		both.segs, both.wild = append(both.segs, b.segs[n:]...), b.wild
	case len(b.segs) < len(a.segs) && b.wild:
		both.segs, both.wild = append(both.segs, a.segs[n:]...), a.wild
	default:
		return nil, false
	}
	return both, true
}

// within reports whether every request path a matches also matches b.
func within(a, b *pathPattern) bool {
	if b.wild {
		if len(a.segs) < len(b.segs) {
			return false
		}
	} else if a.wild || len(a.segs) != len(b.segs) {
		return false
	}
	for i, y := range b.segs {
		x := a.segs[i]
		if y.param == "" && (x.param != "" || !strings.EqualFold(x.lit, y.lit)) {
			return false
		}
	}
	return true
}

// badParam explains a segment that starts as a parameter but is more than
// one: fiber ends a parameter's name at the first character that cannot be
// in one, and reads the rest as more syntax.
func badParam(path, seg string) error {
	end := 1
	for end < len(seg) && paramNameRE.MatchString(seg[1:end+1]) {
		end++
	}
	switch {
	case end == 1:
		return fmt.Errorf("path `%s`: the parameter in `%s` has no name; write `:` and a name of letters, digits and `_`, as in `/:id`", path, seg)
	case seg[end] == '?':
		return fmt.Errorf("path `%s`: optional parameters (`%s`) are not supported; write one route with the parameter and one without", path, seg)
	case seg[end] == '<':
		return fmt.Errorf("path `%s`: parameter constraints (`%s`) are not supported; a parameter matches any one segment", path, seg)
	}
	return fmt.Errorf("path `%s`: the segment `%s` is more than one parameter: fiber would end `%s` at the `%c` and match the rest of the segment separately; a parameter must be a whole segment, as in `/%s`",
		path, seg, seg[:end], seg[end], seg[:end])
}
