package bundled

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// BenchmarkChunked8MiB stores the same 8 MiB file whole (one Create) and
// in 2, 8 and 32 chunks (a placeholder, then Appends), so that the slope
// over the chunk count is what each chunk costs beyond its bytes: a View
// of the partial, the blob's open, stat and fsync, and a bbolt commit
// (two fsyncs of meta.db). The nosync rows set bbolt's NoSync, for this
// measurement only, to split the commit's fsyncs from the blob's: they
// are not durable and not how the store runs.
func BenchmarkChunked8MiB(b *testing.B) {
	const size = 8 << 20
	content := make([]byte, size)
	for i := range content {
		content[i] = byte(i*7 + i/251)
	}
	for _, tc := range []struct {
		chunks int
		noSync bool
	}{{0, false}, {2, false}, {8, false}, {32, false}, {8, true}, {32, true}} {
		name := "create"
		if tc.chunks > 0 {
			name = fmt.Sprintf("chunks=%d", tc.chunks)
		}
		if tc.noSync {
			name += "-bbolt-nosync"
		}
		b.Run(name, func(b *testing.B) {
			ctx := b.Context()
			s := mustOpen(b, b.TempDir())
			s.db.NoSync = tc.noSync
			na := upstream.NewAttachment{Record: rec("bench"), Field: "files", Name: "f.bin"}
			b.SetBytes(size)
			b.ReportAllocs()
			for b.Loop() {
				if tc.chunks == 0 {
					if _, err := s.Create(ctx, na, bytes.NewReader(content)); err != nil {
						b.Fatal(err)
					}
					continue
				}
				p := na
				p.ExpectedSize = size
				a, err := s.Create(ctx, p, nil)
				if err != nil {
					b.Fatal(err)
				}
				step := size / tc.chunks
				for off := 0; off < size; off += step {
					if a, err = s.Append(ctx, a.ID, bytes.NewReader(content[off:off+step])); err != nil {
						b.Fatal(err)
					}
				}
				if !a.HasContent || a.Size != size {
					b.Fatalf("after %d chunks: %d bytes, complete %v", tc.chunks, a.Size, a.HasContent)
				}
			}
			if tc.chunks > 0 {
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*tc.chunks), "µs/chunk")
			}
		})
	}
}
