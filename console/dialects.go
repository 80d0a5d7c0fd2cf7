package console

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/dragoman-gw/dragoman/translate"
)

// dialectsAnswer is GET /api/dialects.
type dialectsAnswer struct {
	Upstream upstreamView  `json:"upstream"`
	Dialects []dialectView `json:"dialects"`
}

type upstreamView struct {
	// Name is what --upstream says; Dialect the dialect spoken to it
	// ("" for the bundled store, which does everything).
	Name    string `json:"name"`
	Dialect string `json:"dialect"`
	// Capabilities are how the upstream dialect does each capability, in
	// the matrix's order; empty for the bundled store.
	Capabilities []capabilityView `json:"capabilities"`
}

type capabilityView struct {
	Capability string `json:"capability"`
	Means      string `json:"means"`
	OK         bool   `json:"ok"`
}

type dialectView struct {
	Name   string `json:"name"`
	Title  string `json:"title"`
	Mount  string `json:"mount"`
	Header string `json:"credential_header"`
	Scheme string `json:"credential_scheme"`
	// Routes, in routes.yaml order.
	Routes []routeView `json:"routes"`
	// Gaps are the routes that do not work, or work in part, in front of
	// the upstream in use: its column of the matrix.
	Gaps []gapView `json:"gaps"`
}

type gapView struct {
	Route  string   `json:"route"`
	Partly bool     `json:"partly"`
	Lacks  []string `json:"lacks"`
}

type routeView struct {
	Name   string `json:"name"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Op     string `json:"op"`
	Scope  string `json:"scope"`
}

func (c *Console) dialects(f *fiber.Ctx) error {
	cfg := c.o.Routes()
	ans := dialectsAnswer{Upstream: upstreamView{Name: c.o.Upstream, Capabilities: []capabilityView{}}}
	var gaps map[string][]translate.RouteGap
	if dialect, _, ok := strings.Cut(c.o.Upstream, "+"); ok {
		ans.Upstream.Dialect = dialect
		// A dialect the routes in use no longer have (a reload dropped it)
		// has no column: the upstream's description read at start serves.
		gaps, _ = cfg.UpstreamGaps(dialect)
		if sp, err := cfg.Speaker(dialect); err == nil {
			for _, m := range sp.UpstreamCapabilities() {
				ans.Upstream.Capabilities = append(ans.Upstream.Capabilities,
					capabilityView{Capability: string(m.Cap), Means: m.String(), OK: m.OK()})
			}
		}
	}
	for _, d := range cfg.Describe() {
		dv := dialectView{Name: d.Name, Title: d.Title, Mount: d.Mount, Header: d.Credential.Header,
			Scheme: d.Credential.Scheme, Routes: []routeView{}, Gaps: []gapView{}}
		for _, g := range gaps[d.Name] {
			dv.Gaps = append(dv.Gaps, gapView{Route: g.Route, Partly: g.Partly, Lacks: g.Lacks})
		}
		for _, r := range d.Routes {
			dv.Routes = append(dv.Routes, routeView{Name: r.Name, Method: r.Method, Path: r.Path, Op: r.Op, Scope: r.Scope})
		}
		ans.Dialects = append(ans.Dialects, dv)
	}
	return f.JSON(ans)
}
