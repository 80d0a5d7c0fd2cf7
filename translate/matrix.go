package translate

import (
	"fmt"
	"strings"
)

// Capability says how an upstream dialect does one canonical operation:
// with a route of its own, composed from other routes, or not at all.
type Capability struct {
	Op string
	// How is "" when the dialect cannot do it, "direct" for its own route,
	// or "via <op>" when the remote store composes it.
	How string
}

// canonicalOps are the store operations a remote upstream must provide,
// in the order the matrix lists them.
var canonicalOps = []string{"create", "placeholder", "list", "stat", "download", "delete", "record.get", "record.update"}

// UpstreamCapabilities reports, for one dialect used as the upstream, how
// each canonical operation is done. The remote store follows the same
// rules (upstream/remote).
func (s *Speaker) UpstreamCapabilities() []Capability {
	has := s.Has
	hasContent := false
	for _, r := range s.d.routes {
		if r.spec.Op == opCreate && r.byTarget["content"] != nil {
			hasContent = true
		}
	}
	createsPlaceholders := s.MakesPlaceholders()
	how := func(ok bool, h string) string {
		if ok {
			return h
		}
		return ""
	}
	list := how(has(opList), "direct")
	if list == "" {
		list = how(has(opRecordGet), "via record.get")
	}
	caps := map[string]string{
		"create":        how(hasContent, "direct"),
		"placeholder":   how(createsPlaceholders, "direct"),
		"list":          list,
		"stat":          how(has(opStat), "direct"),
		"download":      how(has(opDownload), "direct"),
		"delete":        how(has(opDelete), "direct"),
		"record.get":    how(has(opRecordGet), "direct"),
		"record.update": how(has(opRecordUpdate), "direct"),
	}
	if caps["stat"] == "" && list != "" {
		caps["stat"] = "via list"
	}
	if caps["download"] == "" && has(opLink) {
		caps["download"] = "via link"
	}
	if caps["delete"] == "" && has(opRecordUpdate) && s.d.spec.Links != nil {
		caps["delete"] = "via record.update"
	}
	if caps["record.get"] == "" && list != "" {
		caps["record.get"] = "via list"
	}
	out := make([]Capability, len(canonicalOps))
	for i, op := range canonicalOps {
		out[i] = Capability{Op: op, How: caps[op]}
	}
	return out
}

// needs maps a client route's operation to the upstream capabilities it
// uses.
func needs(r *compiledRoute) []string {
	switch r.spec.Op {
	case opCreate:
		if r.byTarget["content"] == nil {
			return []string{"placeholder", "list"}
		}
		return []string{"create", "list"}
	case opList:
		return []string{"list"}
	case opStat:
		return []string{"stat"}
	case opDownload, opLink:
		return []string{"stat", "download"}
	case opDelete:
		return []string{"stat", "delete"}
	case opRecordGet:
		return []string{"record.get", "list"}
	case opRecordUpdate:
		return []string{"record.update"}
	case opAppend:
		// The gateway holds the chunks and sends the whole file with the
		// upstream's create (upstream/remote's held uploads).
		return []string{"create"}
	}
	return nil
}

// UpstreamMatrix renders, as Markdown, which client routes work in front
// of which upstream dialect. docs/upstream-matrix.md is this output; a test
// keeps it from going stale.
func (c *Config) UpstreamMatrix() string {
	var b strings.Builder
	b.WriteString("# Client dialect x upstream dialect\n\n")
	b.WriteString("Generated from routes.yaml by `dragoman routes matrix`; a test fails when it is stale.\n\n")
	b.WriteString("## What each upstream dialect can do for the gateway\n\n")
	b.WriteString("| upstream | " + strings.Join(canonicalOps, " | ") + " |\n")
	b.WriteString("|---" + strings.Repeat("|---", len(canonicalOps)) + "|\n")
	caps := map[string]map[string]string{}
	for _, d := range c.dialects {
		sp := &Speaker{d: d}
		caps[d.name] = map[string]string{}
		row := []string{d.name}
		for _, cp := range sp.UpstreamCapabilities() {
			caps[d.name][cp.Op] = cp.How
			cell := cp.How
			if cell == "" {
				cell = "no"
			}
			row = append(row, cell)
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
				for _, need := range needs(r) {
					if caps[up.name][need] == "" {
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
