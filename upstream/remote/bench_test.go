package remote_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman"
	"github.com/dragoman-gw/dragoman/translate"
	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/remote"
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

// BenchmarkList10Distant is BenchmarkList10 with the upstream 1 ms away
// (a delaying proxy in front of the loopback gateway), as a legacy
// system on another host would be: what counts there is how many round
// trips a listing waits for one after another.
func BenchmarkList10Distant(b *testing.B) {
	cfg, err := translate.Load(dragoman.DefaultRoutes())
	if err != nil {
		b.Fatal(err)
	}
	for _, dialect := range []string{"espocrm", "nimblex"} {
		b.Run(dialect, func(b *testing.B) {
			g := loopbackWith(b, cfg, dialect, b.TempDir())
			target, err := url.Parse(g.url)
			if err != nil {
				b.Fatal(err)
			}
			rp := httputil.NewSingleHostReverseProxy(target)
			far := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(time.Millisecond)
				rp.ServeHTTP(w, r)
			}))
			defer far.Close()
			sp, err := cfg.Speaker(dialect)
			if err != nil {
				b.Fatal(err)
			}
			s, err := remote.New(remote.Options{Speaker: sp, URL: far.URL, Token: upstreamToken, DataDir: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			rec := upstream.RecordRef{Collection: "bench", ID: "1"}
			for i := range 10 {
				_, err := g.s.Create(ctx, upstream.NewAttachment{Record: rec, Name: fmt.Sprintf("f%d.txt", i), Type: "text/plain"}, strings.NewReader("hello"))
				if err != nil {
					b.Skipf("create through %s: %v", dialect, err)
				}
			}
			b.ResetTimer()
			for b.Loop() {
				atts, err := s.List(ctx, rec)
				if err != nil || len(atts) != 10 {
					b.Fatalf("list: %d files, %v", len(atts), err)
				}
			}
		})
	}
}
