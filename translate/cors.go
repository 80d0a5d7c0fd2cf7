package translate

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// corsMaxAge is how long a browser may cache a preflight's answer.
const corsMaxAge = 600

// corsExposed are the answer headers a browser's script may read.
const corsExposed = "X-Request-Id, X-Status-Reason, Content-Disposition, ETag, Content-Length"

// CORS lets browsers on the listed origins call the dialect routes.
type CORS struct {
	any     bool
	origins []string
}

// ParseCORSOrigins reads --cors-origins: "*", or a comma-separated list of
// origins (scheme://host[:port]). Empty means CORS is off (nil).
func ParseCORSOrigins(list string) (*CORS, error) {
	list = strings.TrimSpace(list)
	if list == "" {
		return nil, nil
	}
	if list == "*" {
		return &CORS{any: true}, nil
	}
	c := &CORS{}
	for _, o := range strings.Split(list, ",") {
		o = strings.TrimSpace(o)
		scheme, host, ok := strings.Cut(o, "://")
		if !ok || (scheme != "http" && scheme != "https") || host == "" || strings.ContainsAny(host, "/?#* ") {
			return nil, fmt.Errorf("cors origin %q: want scheme://host[:port], or * alone", o)
		}
		c.origins = append(c.origins, strings.ToLower(o))
	}
	return c, nil
}

// allowed returns the Access-Control-Allow-Origin value for a request's
// Origin, or "" when that origin may not call.
func (c *CORS) allowed(origin string) string {
	switch {
	case origin == "":
		return ""
	case c.any:
		return "*"
	case slices.Contains(c.origins, strings.ToLower(origin)):
		return origin
	}
	return ""
}

// mark gives every answer to an allowed origin its CORS headers, after the
// handler, so that a pass-through answer's own headers do not drop them.
func (c *CORS) mark(ctx *fiber.Ctx) error {
	err := ctx.Next()
	if allow := c.allowed(ctx.Get(fiber.HeaderOrigin)); allow != "" {
		ctx.Set(fiber.HeaderAccessControlAllowOrigin, allow)
		ctx.Set(fiber.HeaderAccessControlExposeHeaders, corsExposed)
		if !c.any {
			ctx.Vary(fiber.HeaderOrigin)
		}
	}
	return err
}

// mountPreflights answers OPTIONS on every path a dialect route has, with
// the methods routed there and the headers the dialect's clients send.
func (g *Gateway) mountPreflights(app fiber.Router) {
	type path struct {
		methods []string
		headers []string
	}
	paths := map[string]*path{}
	var order []string
	for _, d := range g.cfg.dialects {
		for _, r := range d.routes {
			p := paths[r.fullPath]
			if p == nil {
				p = &path{}
				paths[r.fullPath] = p
				order = append(order, r.fullPath)
			}
			if !slices.Contains(p.methods, r.spec.Method) {
				p.methods = append(p.methods, r.spec.Method)
			}
			for _, h := range []string{d.spec.Credential.Header, fiber.HeaderContentType, "X-Request-Id", fiber.HeaderRange, fiber.HeaderIfNoneMatch} {
				if !slices.Contains(p.headers, h) {
					p.headers = append(p.headers, h)
				}
			}
		}
	}
	cors := g.opts.CORS
	for _, fp := range order {
		p := paths[fp]
		sort.Strings(p.methods)
		methods := strings.Join(append(p.methods, fiber.MethodOptions), ", ")
		headers := strings.Join(p.headers, ", ")
		app.Options(fp, func(c *fiber.Ctx) error {
			discardBody(c)
			if allow := cors.allowed(c.Get(fiber.HeaderOrigin)); allow != "" {
				c.Set(fiber.HeaderAccessControlAllowOrigin, allow)
				c.Set(fiber.HeaderAccessControlAllowMethods, methods)
				c.Set(fiber.HeaderAccessControlAllowHeaders, headers)
				c.Set(fiber.HeaderAccessControlMaxAge, strconv.Itoa(corsMaxAge))
				if !cors.any {
					c.Vary(fiber.HeaderOrigin)
				}
			}
			return c.SendStatus(fiber.StatusNoContent)
		})
	}
}
