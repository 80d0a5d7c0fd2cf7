package telemetry

import (
	"testing"

	"github.com/valyala/fasthttp"
)

// BenchmarkWrapParallel is a request through Wrap with a handler that
// only names its route and answers 200, from many goroutines at once as
// 64 connections would, with metrics on and off (the access log off):
// the difference is what the metrics cost a request, contention on their
// shared counters included.
func BenchmarkWrapParallel(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "metrics=off"
		if on {
			name = "metrics=on"
		}
		b.Run(name, func(b *testing.B) {
			tel := New(Options{Metrics: on})
			rt := tel.Route("nimblex", "attachments.list", "list", []int{200, 404})
			h := tel.Wrap(func(c *fasthttp.RequestCtx) {
				FromContext(c).SetRoute(rt)
				c.SetStatusCode(200)
				c.SetBodyString("[]")
			})
			b.SetParallelism(32) // 64 goroutines on two cores
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				var ctx fasthttp.RequestCtx
				ctx.Request.SetRequestURI("/jsonapi/records/bench/small/attachments")
				for pb.Next() {
					ctx.Response.Reset()
					h(&ctx)
				}
			})
		})
	}
}
