package remote_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dragoman-gw/dragoman"
	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
)

// BenchmarkList10 lists a record of ten files through each dialect: the
// remote store's part of a hop (render, round trip, parse, id map), with
// the in-process gateway behind it.
func BenchmarkList10(b *testing.B) {
	cfg, err := translate.Load(dragoman.DefaultRoutes())
	if err != nil {
		b.Fatal(err)
	}
	for _, dialect := range cfg.Dialects() {
		b.Run(dialect, func(b *testing.B) {
			g := loopbackWith(b, cfg, dialect, b.TempDir())
			ctx := context.Background()
			rec := upstream.RecordRef{Collection: "bench", ID: "1"}
			for i := range 10 {
				_, err := g.s.Create(ctx, upstream.NewAttachment{Record: rec, Field: "",
					Name: fmt.Sprintf("f%d.txt", i), Type: "text/plain"}, strings.NewReader("hello"))
				if err != nil {
					b.Skipf("create through %s: %v", dialect, err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				atts, err := g.s.List(ctx, rec)
				if err != nil || len(atts) != 10 {
					b.Fatalf("list: %d files, %v", len(atts), err)
				}
			}
		})
	}
}
