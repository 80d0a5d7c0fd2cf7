package translate

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// watchedStoreContext is the context a request's store work runs in. Its
// values are the request's (the telemetry record, the request id), and it
// ends when Options.Stop closes: fasthttp ends its own request contexts as
// soon as a graceful shutdown begins, which would cut off every upload the
// shutdown means to let finish. With Options.WatchClients, a request
// without a body also ends when its client goes away (shutdown's cut-off
// closes the connection, which ends it too); stop must be called before
// the handler returns. The context is built in *rc, which the caller
// allocates with the request's other state: made here, it was one more
// allocation per request.
func (g *Gateway) watchedStoreContext(c *fiber.Ctx, rc *requestContext) (context.Context, func()) {
	*rc = requestContext{c: c.Context(), stop: g.opts.Stop}
	// fasthttp says -2 for a request with neither Content-Length nor a
	// chunked body, -1 for chunked.
	if n := c.Request().Header.ContentLength(); !g.opts.WatchClients || (n != 0 && n != -2) {
		return rc, func() {}
	}
	return watchPeer(*rc, c)
}

type requestContext struct {
	c    *fasthttp.RequestCtx
	stop <-chan struct{}
}

func (r requestContext) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done is nil, never closing, without a Stop.
func (r requestContext) Done() <-chan struct{} { return r.stop }

func (r requestContext) Err() error {
	if r.stop == nil {
		return nil
	}
	select {
	case <-r.stop:
		return context.Canceled
	default:
		return nil
	}
}

func (r requestContext) Value(key any) any { return r.c.UserValue(key) }
