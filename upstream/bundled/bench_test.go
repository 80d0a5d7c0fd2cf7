package bundled

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// BenchmarkCreate1MiB measures a durable 1 MiB upload: stream, hash, two
// fsyncs of the blob and its directory, one bbolt commit.
func BenchmarkCreate1MiB(b *testing.B) {
	ctx := b.Context()
	s := mustOpen(b, b.TempDir())
	content := make([]byte, 1<<20)
	for i := range content {
		content[i] = byte(i)
	}
	r := bytes.NewReader(content)
	na := upstream.NewAttachment{Record: rec("bench"), Field: "files", Name: "f.bin"}
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(content)
		if _, err := s.Create(ctx, na, r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreate64MiB measures a durable 64 MiB upload, large enough
// that its writeback starts while it streams (writebackEvery).
func BenchmarkCreate64MiB(b *testing.B) {
	ctx := b.Context()
	s := mustOpen(b, b.TempDir())
	content := make([]byte, 64<<20)
	for i := range content {
		content[i] = byte(i*7 + i/251)
	}
	r := bytes.NewReader(content)
	na := upstream.NewAttachment{Record: rec("bench"), Field: "files", Name: "f.bin"}
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(content)
		a, err := s.Create(ctx, na, r)
		if err != nil || a.Size != int64(len(content)) {
			b.Fatalf("Create: %d bytes, %v", a.Size, err)
		}
	}
}

// BenchmarkList10 measures listing a record of ten files.
func BenchmarkList10(b *testing.B) {
	ctx := b.Context()
	s := mustOpen(b, b.TempDir())
	for i := range 10 {
		mustCreate(b, s, rec("bench"), fmt.Sprintf("f%d", i), []byte("content"))
	}
	b.ReportAllocs()
	for b.Loop() {
		atts, err := s.List(ctx, rec("bench"))
		if err != nil || len(atts) != 10 {
			b.Fatalf("List: %d, %v", len(atts), err)
		}
	}
}
