package translate

import (
	"fmt"
	"strings"
)

// UpstreamCapabilities reports, for one dialect used as the upstream, how
// it does each capability, in the matrix's order. The remote store reads
// the same answers (Speaker.Can).
func (s *Speaker) UpstreamCapabilities() []Means {
	caps := Capabilities()
	out := make([]Means, len(caps))
	for i, c := range caps {
		out[i] = s.Can(c)
	}
	return out
}

// uses is what a client route relies on an upstream for: its operation's
// capabilities, with a create that carries no content making a
// placeholder instead, and a record update that always makes its record
// needing that.
func uses(r *compiledRoute) []Capability {
	switch {
	case r.op.Op == OpCreate && r.byTarget["content"] == nil:
		return []Capability{CapPlaceholder, CapList}
	case r.op.Op == OpRecordUpdate && makesRecordID(r):
		return append([]Capability{CapRecordCreate}, r.op.Uses...)
	}
	return r.op.Uses
}

// usesSometimes is what a client route relies on an upstream for in some
// requests only: a record update that leaves a file out of a field
// deletes it, and one that names a record not there yet makes it.
func usesSometimes(r *compiledRoute) []Capability {
	if r.op.Op != OpRecordUpdate {
		return nil
	}
	var out []Capability
	if carriesFiles(r) {
		out = append(out, CapDelete)
	}
	if !r.spec.RequireRecord && !makesRecordID(r) {
		out = append(out, CapRecordCreate)
	}
	return out
}

// UpstreamMatrix renders, as Markdown, which client routes work in front
// of which upstream dialect. docs/upstream-matrix.md is this output; a test
// keeps it from going stale.
func (c *Config) UpstreamMatrix() string {
	var b strings.Builder
	caps := Capabilities()
	names := make([]string, len(caps))
	for i, cp := range caps {
		names[i] = string(cp)
	}
	b.WriteString("# Client dialect x upstream dialect\n\n")
	b.WriteString("Generated from routes.yaml by `dragoman routes matrix`; a test fails when it is stale.\n\n")
	b.WriteString("## What each upstream dialect can do for the gateway\n\n")
	b.WriteString("| upstream | " + strings.Join(names, " | ") + " |\n")
	b.WriteString("|---" + strings.Repeat("|---", len(caps)) + "|\n")
	for _, d := range c.dialects {
		row := []string{d.name}
		for _, cp := range caps {
			row = append(row, d.caps[cp].String())
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	b.WriteString("\n\"gateway\": the upstream dialect has no way to hold it, so the gateway keeps it in its own data dir and joins it with the upstream's answers on every read: placeholders (files without content) as metadata, and record data with the order of each field's files, where the dialect has no record update. record.list, which no upstream dialect offers the gateway, lists the records the gateway knows: every record a request through it has made, changed, read or listed, and every record of a file it has shown; each record of a page is read from the upstream, so its data and files are the upstream's own, and a record made upstream by another client is listed from the first request through the gateway that names it.\n\n")
	b.WriteString("append (EspoCRM's chunked upload) is composed by the gateway in front of any upstream: it holds the chunks, each fsynced before it is acknowledged, and sends the whole file with the upstream's create when the last one is in. It works wherever create does. Likewise an upload linked to no record (EspoCRM's first step) is held, fsynced, where the upstream's upload names its record, and sent when a record update links it.\n\n")
	b.WriteString("## Client routes that do not work in front of an upstream\n\n")
	b.WriteString("A client route works when the upstream can do every operation it needs; the others answer the client's own 'unsupported' error (501, or the dialect's nearest status) naming what the upstream lacks. \"partly\" marks a route that works but for the requests that need what is named: a record update that leaves a file out of a field (delete), or that names a record the upstream does not have yet (record.create).\n\n")
	b.WriteString("| client \\ upstream | " + strings.Join(c.Dialects(), " | ") + " |\n")
	b.WriteString("|---" + strings.Repeat("|---", len(c.dialects)) + "|\n")
	for _, client := range c.dialects {
		row := []string{client.name}
		for _, up := range c.dialects {
			var missing []string
			for _, g := range routeGaps(client, up) {
				if g.Partly {
					missing = append(missing, fmt.Sprintf("%s (partly: %s)", g.Route, strings.Join(g.Lacks, " and ")))
				} else {
					missing = append(missing, fmt.Sprintf("%s (%s)", g.Route, g.Lacks[0]))
				}
			}
			cell := "all work"
			if len(missing) > 0 {
				cell = strings.Join(missing, ", ")
			}
			row = append(row, cell)
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	return b.String()
}

// RouteGap is a client route that does not work, or works only in part,
// in front of an upstream dialect, and what that upstream lacks for it.
type RouteGap struct {
	Route string
	// Partly is set when the route works but for the requests that need
	// what Lacks names; otherwise Lacks is the one capability it always
	// needs and the upstream cannot do.
	Partly bool
	Lacks  []string
}

// UpstreamGaps returns, for each client dialect in the order of Dialects,
// its routes that do not fully work in front of the upstream dialect
// named: the matrix's column for that upstream. It is false when no
// dialect has that name.
func (c *Config) UpstreamGaps(upstreamDialect string) (map[string][]RouteGap, bool) {
	for _, up := range c.dialects {
		if up.name == upstreamDialect {
			out := map[string][]RouteGap{}
			for _, client := range c.dialects {
				out[client.name] = routeGaps(client, up)
			}
			return out, true
		}
	}
	return nil, false
}

// routeGaps is one cell of the matrix: client's routes that need what up
// cannot do, in route order.
func routeGaps(client, up *compiledDialect) []RouteGap {
	var out []RouteGap
	for _, r := range client.routes {
		full := false
		for _, need := range uses(r) {
			if !up.caps[need].OK() {
				out = append(out, RouteGap{Route: r.spec.Name, Lacks: []string{string(need)}})
				full = true
				break
			}
		}
		if full {
			continue
		}
		var partly []string
		for _, need := range usesSometimes(r) {
			if !up.caps[need].OK() {
				partly = append(partly, string(need))
			}
		}
		if len(partly) > 0 {
			out = append(out, RouteGap{Route: r.spec.Name, Partly: true, Lacks: partly})
		}
	}
	return out
}
