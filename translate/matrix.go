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
// placeholder instead.
func uses(r *compiledRoute) []Capability {
	if r.op.Op == OpCreate && r.byTarget["content"] == nil {
		return []Capability{CapPlaceholder, CapList}
	}
	return r.op.Uses
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
	b.WriteString("\nappend (EspoCRM's chunked upload) is composed by the gateway in front of any upstream: it holds the chunks, each fsynced before it is acknowledged, and sends the whole file with the upstream's create when the last one is in. It works wherever create does.\n\n")
	b.WriteString("## Client routes that do not work in front of an upstream\n\n")
	b.WriteString("A client route works when the upstream can do every operation it needs; the others answer the client's own 'unsupported' error (501, or the dialect's nearest status) naming what the upstream lacks.\n\n")
	b.WriteString("| client \\ upstream | " + strings.Join(c.Dialects(), " | ") + " |\n")
	b.WriteString("|---" + strings.Repeat("|---", len(c.dialects)) + "|\n")
	for _, client := range c.dialects {
		row := []string{client.name}
		for _, up := range c.dialects {
			var missing []string
			for _, r := range client.routes {
				for _, need := range uses(r) {
					if !up.caps[need].OK() {
						missing = append(missing, fmt.Sprintf("%s (%s)", r.spec.Name, need))
						break
					}
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
