package s3blobs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/internal/testbackends"
	"github.com/dragoman-gw/dragoman/upstream/s3blobs"
)

// servers is the S3 server of this test binary, stopped by TestMain.
var servers testbackends.Servers

func TestMain(m *testing.M) {
	code := m.Run()
	servers.Stop()
	os.Exit(code)
}

func newBucket(t *testing.T) *s3blobs.Bucket {
	t.Helper()
	b, err := s3blobs.New(servers.Get(t).S3)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i/251)
	}
	return p
}

func TestPutOpen(t *testing.T) {
	b := newBucket(t)
	ctx := context.Background()
	for _, n := range []int{0, 1, 5 << 20, 5<<20 + 1, 11<<20 + 3} {
		content := pattern(n)
		var started string
		got, err := b.Put(ctx, "obj", bytes.NewReader(content), func(id string) error { started = id; return nil })
		if err != nil || got != int64(n) {
			t.Fatalf("Put %d bytes: %d, %v", n, got, err)
		}
		if (n >= 5<<20) != (started != "") { // a full first part starts a multipart upload
			t.Errorf("Put %d bytes: multipart upload id %q", n, started)
		}
		r := b.Open(ctx, []s3blobs.Segment{{Name: "obj", Size: int64(n)}})
		all, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(all, content) {
			t.Fatalf("read back %d of %d bytes: %v", len(all), n, err)
		}
		if n > 10 {
			if _, err := r.Seek(int64(n-10), io.SeekStart); err != nil {
				t.Fatal(err)
			}
			tail, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(tail, content[n-10:]) {
				t.Fatalf("tail after Seek: %q %v", tail, err)
			}
		}
		r.Close()
	}
	if up, err := b.Uploads(ctx, time.Now().Add(time.Hour)); err != nil || len(up) != 0 {
		t.Fatalf("uploads left after complete Puts: %v %v", up, err)
	}
}

func TestSegments(t *testing.T) {
	b := newBucket(t)
	ctx := context.Background()
	parts := [][]byte{[]byte("abc"), []byte("defgh"), []byte("ij")}
	var segs []s3blobs.Segment
	for i, p := range parts {
		name := string(rune('a' + i))
		if _, err := b.Put(ctx, name, bytes.NewReader(p), nil); err != nil {
			t.Fatal(err)
		}
		segs = append(segs, s3blobs.Segment{Name: name, Size: int64(len(p))})
	}
	r := b.Open(ctx, segs)
	defer r.Close()
	for _, tt := range []struct {
		off  int64
		want string
	}{{0, "abcdefghij"}, {2, "cdefghij"}, {3, "defghij"}, {9, "j"}, {10, ""}} {
		if _, err := r.Seek(tt.off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil || string(got) != tt.want {
			t.Errorf("from %d: %q %v, want %q", tt.off, got, err, tt.want)
		}
	}
}

// failAfter yields n bytes, then fails.
type failAfter struct {
	n   int
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n == 0 {
		return 0, f.err
	}
	k := min(len(p), f.n)
	f.n -= k
	return k, nil
}

func TestPutFailingReaderAborts(t *testing.T) {
	b := newBucket(t)
	ctx := context.Background()
	boom := errors.New("client went away")
	var id string
	_, err := b.Put(ctx, "broken", &failAfter{n: 7 << 20, err: boom}, func(u string) error { id = u; return nil })
	if !errors.Is(err, boom) || id == "" {
		t.Fatalf("Put: %v (upload %q), want the reader's error after a multipart start", err, id)
	}
	if up, err := b.Uploads(ctx, time.Now().Add(time.Hour)); err != nil || len(up) != 0 {
		t.Fatalf("failed Put left uploads %v %v", up, err)
	}
	n := 0
	if err := b.Objects(ctx, func(o s3blobs.Object) bool { n++; return true }); err != nil || n != 0 {
		t.Fatalf("failed Put left %d objects (%v)", n, err)
	}
}

func TestParseURL(t *testing.T) {
	for _, tt := range []struct{ in, bucket, prefix string }{
		{"s3://b", "b", ""}, {"s3://b/", "b", ""}, {"s3://b/p", "b", "p/"}, {"s3://b/p/q/", "b", "p/q/"},
		{"http://b", "", ""}, {"s3:///p", "", ""}, {"s3://u@b", "", ""}, {"s3://b?x=1", "", ""},
	} {
		b, p, err := s3blobs.ParseURL(tt.in)
		if tt.bucket == "" {
			if err == nil {
				t.Errorf("%q: no error", tt.in)
			}
			continue
		}
		if err != nil || b != tt.bucket || p != tt.prefix {
			t.Errorf("%q: %q %q %v", tt.in, b, p, err)
		}
	}
}
