package bundled

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
)

// pipelineStore is a Store with only what pipeline uses.
func pipelineStore() *Store {
	s := &Store{}
	s.bufs.New = func() any { b := make([]byte, copyBufferSize); return &b }
	return s
}

// pieces hands out r's bytes in reads of 1 to 9000 bytes, as a network
// body arrives, so that buffers fill over many reads.
type pieces struct {
	r   io.Reader
	rnd *rand.Rand
}

func (p *pieces) Read(b []byte) (int, error) {
	if n := 1 + p.rnd.IntN(9000); n < len(b) {
		b = b[:n]
	}
	return p.r.Read(b)
}

// failingAfter is a source that gives n bytes of content, then err.
type failingAfter struct {
	r   io.Reader
	err error
}

func (f failingAfter) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if errors.Is(err, io.EOF) {
		return n, f.err
	}
	return n, err
}

// limitedWriter keeps up to room bytes, then fails (or, short, stops
// short without an error).
type limitedWriter struct {
	bytes.Buffer
	room  int
	short bool
}

var errDiskFull = errors.New("disk full")

func (w *limitedWriter) Write(p []byte) (int, error) {
	if len(p) <= w.room {
		w.room -= len(p)
		return w.Buffer.Write(p)
	}
	n := w.room
	w.room = 0
	w.Buffer.Write(p[:n])
	if w.short {
		return n, nil
	}
	return n, errDiskFull
}

// countingReader counts what pipeline took from the source.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestPipelineCopiesAndHashesEveryByte(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, copyBufferSize - 1, copyBufferSize, copyBufferSize + 1, 3*pipelineDepth*copyBufferSize + 17} {
		content := make([]byte, size)
		for i := range content {
			content[i] = byte(rnd.Uint32())
		}
		var got bytes.Buffer
		sh, mh := sha256.New(), md5.New()
		n, err := pipelineStore().pipeline(&got, fullReads{&pieces{r: bytes.NewReader(content), rnd: rnd}}, sh, mh)
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if n != int64(size) || !bytes.Equal(got.Bytes(), content) {
			t.Fatalf("size %d: copied %d bytes (%d written), not the content", size, n, got.Len())
		}
		wantSHA, wantMD5 := sha256.Sum256(content), md5.Sum(content)
		if !bytes.Equal(sh.Sum(nil), wantSHA[:]) || !bytes.Equal(mh.Sum(nil), wantMD5[:]) {
			t.Fatalf("size %d: the digests are not those of the content", size)
		}
	}
}

func TestPipelineFailures(t *testing.T) {
	errReset := errors.New("connection reset")
	content := bytes.Repeat([]byte("dragoman"), 2*pipelineDepth*copyBufferSize/8)
	tests := []struct {
		name    string
		src     io.Reader
		w       *limitedWriter
		want    error
		written int
	}{
		{
			name:    "the source fails midway: what came before it is written",
			src:     failingAfter{r: bytes.NewReader(content[:copyBufferSize+100]), err: errReset},
			w:       &limitedWriter{room: len(content)},
			want:    errReset,
			written: copyBufferSize + 100,
		},
		{
			name:    "the write fails",
			src:     bytes.NewReader(content),
			w:       &limitedWriter{room: copyBufferSize + 5},
			want:    errDiskFull,
			written: copyBufferSize + 5,
		},
		{
			name:    "the write stops short",
			src:     bytes.NewReader(content),
			w:       &limitedWriter{room: 7, short: true},
			want:    io.ErrShortWrite,
			written: 7,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &countingReader{r: tt.src}
			n, err := pipelineStore().pipeline(tt.w, fullReads{src}, sha256.New(), md5.New())
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if n != int64(tt.written) || tt.w.Len() != tt.written {
				t.Fatalf("reported %d bytes, wrote %d; want %d", n, tt.w.Len(), tt.written)
			}
			if !bytes.Equal(tt.w.Bytes(), content[:tt.written]) {
				t.Fatal("the bytes written are not the content's first")
			}
			// A failed write stops the reads: no more than the buffers in
			// flight are read past it.
			if tt.want != errReset {
				if limit := tt.written + (pipelineDepth+1)*copyBufferSize; src.n > limit {
					t.Fatalf("read %d bytes of the source after the write failed at %d (limit %d)", src.n, tt.written, limit)
				}
			}
		})
	}
}

func BenchmarkPipeline64MiB(b *testing.B) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 4<<20)
	s := pipelineStore()
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.pipeline(io.Discard, fullReads{bytes.NewReader(content)}, sha256.New(), md5.New()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPipelineTakesBuffersAsNeeded: a file smaller than one buffer takes
// one from the pool, not pipelineDepth, so many small or slow uploads at
// once do not each hold pipelineDepth buffers.
func TestPipelineTakesBuffersAsNeeded(t *testing.T) {
	s := &Store{}
	made := 0
	s.bufs.New = func() any { made++; b := make([]byte, copyBufferSize); return &b }
	var got bytes.Buffer
	if _, err := s.pipeline(&got, fullReads{bytes.NewReader([]byte("a small file"))}, sha256.New(), md5.New()); err != nil {
		t.Fatal(err)
	}
	if made != 1 || got.String() != "a small file" {
		t.Fatalf("took %d buffers from an empty pool for 12 bytes (want 1), wrote %q", made, got.String())
	}
}
