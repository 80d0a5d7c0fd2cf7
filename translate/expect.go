package translate

import (
	"net/url"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/dragoman-gw/dragoman/telemetry"
	"github.com/dragoman-gw/dragoman/upstream"
)

// A request that asks for 100 Continue is first run through the gateway
// with no body: each route checks all it can decide from the headers (the
// route, the credential, the key's scope, the declared size) and either
// answers its final error there, so the body is never asked for, or
// accepts, and the request is run again, whole, once its body comes.

// precheck is the verdict of the header-only run.
type precheck struct{ refused, accepted bool }

type precheckKey struct{}

func precheckOf(c *fiber.Ctx) *precheck {
	pc, _ := c.Context().UserValue(precheckKey{}).(*precheck)
	return pc
}

// ExpectContinue is a fasthttp ExpectHandler: it runs h (the whole
// server's handler) on the headers of a request that sent Expect:
// 100-continue. It returns 100 when the body should be read, or the final
// status of the refusal h has written into ctx.Response; fasthttp then
// sends that answer without reading the body and closes the connection.
func ExpectContinue(h fasthttp.RequestHandler) func(ctx *fasthttp.RequestCtx) int {
	return func(ctx *fasthttp.RequestCtx) int {
		pc := &precheck{}
		ctx.SetUserValue(precheckKey{}, pc)
		h(ctx)
		ctx.RemoveUserValue(precheckKey{})
		if pc.refused {
			return ctx.Response.StatusCode()
		}
		// Accepted, or not a gateway route: the real run answers.
		ctx.Response.Reset()
		return fasthttp.StatusContinue
	}
}

// refuse records a header-only refusal and writes its answer.
func (g *Gateway) refuse(c *fiber.Ctx, pc *precheck, d *compiledDialect, r *compiledRoute, err error) error {
	pc.refused = true
	return g.writeError(c, d, r, err)
}

// accept lets the body come; the header-only run leaves no trace in the
// metrics or the log, since the real run will.
func accept(c *fiber.Ctx, pc *precheck) error {
	pc.accepted = true
	telemetry.FromContext(c.Context()).Discard()
	return nil
}

// checkHeaders is what a route can refuse before its body: the declared
// size over its cap, and the key's scope, on the collection the path names
// or, for an edit, on a key that may edit nothing at all.
func (r *compiledRoute) checkHeaders(c *fiber.Ctx, caller Caller) error {
	if n := c.Request().Header.ContentLength(); r.bodyMax > 0 && int64(n) > r.bodyMax {
		return tooLarge(r.bodyMax)
	}
	if b := r.byTarget["record.collection"]; b != nil && b.source == "path" && b.arg != "*" && b.codec == "" {
		if v, err := url.PathUnescape(c.Params(b.arg)); err == nil && v != "" {
			return checkScope(r, &bound{strs: makeStrs("record.collection", v)}, caller)
		}
	}
	// A key unlimited by collection that may not edit is read-only; a key
	// limited to some collections waits for the body to name one.
	if r.spec.Scope == "edit" && caller.CanRead("") && !caller.CanEdit("") {
		return upstream.Errorf(upstream.KindForbidden, "this key is read-only")
	}
	return nil
}
