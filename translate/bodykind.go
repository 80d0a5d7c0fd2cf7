package translate

import "strings"

// sourceBodyKind is the body kind a binding source reads from: raw for the
// body itself, json for body.PATH, multipart for the file part and form
// fields, "" for sources outside the body.
func sourceBodyKind(from string) string {
	src, _, _ := strings.Cut(from, ".")
	switch {
	case from == "body":
		return "raw"
	case src == "body":
		return "json"
	case src == "file" || src == "form":
		return "multipart"
	}
	return ""
}

// checkBodyKind refuses bindings that read a body of another kind than the
// route's: one problem per kind wanted, naming every binding that wants
// it, since a missing or wrong body line is one mistake.
func checkBodyKind(r *compiledRoute, at func(...any) int, fail func(int, string, ...any)) {
	if !r.bodyKnown {
		return // the kind itself is wrong, and reported
	}
	kind := r.spec.Body.Kind
	if kind == "" {
		kind = "none"
	}
	wanted := map[string][]string{} // kind -> "`target` (from `source`)"
	for _, target := range sortedKeys(r.spec.Bind) {
		bs := r.spec.Bind[target]
		if bs == nil {
			continue
		}
		for _, from := range []string{bs.From, bs.Fallback} {
			if k := sourceBodyKind(from); k != "" && k != kind {
				wanted[k] = append(wanted[k], "`"+target+"` (from `"+from+"`)")
			}
		}
	}
	for _, k := range sortedKeys(wanted) {
		users := wanted[k]
		hint := ""
		switch {
		case kind == "none" && k == "multipart":
			hint = "; give the route `body: {kind: multipart, file: PART}`"
		case kind == "none":
			hint = "; give the route `body: {kind: " + k + "}`"
		}
		fail(at("body", "kind"), "route %s.%s: %s %s a %s body, but the route's body kind is %s%s",
			r.d.name, r.spec.Name, plural(len(users), "binding", "bindings"), andList(users)+plural(len(users), " reads", " read"), k, kind, hint)
	}
}
