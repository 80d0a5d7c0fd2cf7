package telemetry

import (
	"io"
	"log/slog"
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkAccessLogLine is one request through Wrap with the access log
// on (to io.Discard) and metrics off: the cost of writing its line.
func BenchmarkAccessLogLine(b *testing.B) {
	tel := New(Options{AccessLog: slog.New(slog.NewTextHandler(io.Discard, nil))})
	rt := tel.Route("d", "r.one", "create", []int{201})
	h := tel.Wrap(func(c *fasthttp.RequestCtx) {
		r := FromContext(c)
		r.SetRoute(rt)
		r.SetKey("alice")
		c.SetStatusCode(201)
	})
	var ctx fasthttp.RequestCtx
	ctx.Request.SetRequestURI("/x/y")
	b.ReportAllocs()
	for b.Loop() {
		ctx.Response.Reset()
		h(&ctx)
	}
}
