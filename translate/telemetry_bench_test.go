package translate

import (
	"context"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/dragoman-gw/dragoman/telemetry"
	"github.com/dragoman-gw/dragoman/upstream"
)

// BenchmarkHandlerMetrics runs whole requests (routing, auth, store,
// rendering) through the telemetry wrapper as the server does, with
// metrics on and off (the access log off in both), so the cost of the
// metrics shows as the difference: a list of ten files and a download.
func BenchmarkHandlerMetrics(b *testing.B) {
	for _, tc := range []struct{ name, path string }{
		{"list", "/jsonapi/records/Case/b1/attachments"},
		{"get", "/jsonapi/records/Case/b1/attachments/content/f0.txt"},
	} {
		for _, on := range []bool{false, true} {
			name := tc.name + "/metrics=off"
			if on {
				name = tc.name + "/metrics=on"
			}
			b.Run(name, func(b *testing.B) {
				store := newMemStore()
				for i := range 10 {
					_, err := store.Create(context.Background(), upstream.NewAttachment{
						Record: upstream.RecordRef{Collection: "Case", ID: "b1"}, Field: upstream.DefaultField,
						Name: "f" + string(rune('0'+i)) + ".txt", Type: "text/plain"}, strings.NewReader("some bytes of a file"))
					if err != nil {
						b.Fatal(err)
					}
				}
				tel := telemetry.New(telemetry.Options{Metrics: on})
				app := fiber.New(fiber.Config{StreamRequestBody: true, DisablePreParseMultipartForm: true, DisableStartupMessage: true})
				NewGateway(testConfig(b), Options{Store: store, Auth: testKeys, Telemetry: tel}).Mount(app)
				h := tel.Wrap(app.Handler())
				var ctx fasthttp.RequestCtx
				var req fasthttp.Request
				req.SetRequestURI("http://dragoman.test" + tc.path)
				req.Header.Set("Authorization", "Bearer tester-secret")
				ctx.Init(&req, nil, nil)
				h(&ctx)
				if ctx.Response.StatusCode() != 200 {
					b.Fatalf("%s: %d %s", tc.path, ctx.Response.StatusCode(), ctx.Response.Body())
				}
				b.ReportAllocs()
				for b.Loop() {
					ctx.Response.Reset()
					h(&ctx)
				}
			})
		}
	}
}
