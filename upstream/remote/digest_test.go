package remote

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"testing"
)

// TestDigesterSums checks the digests of content read in pieces both
// above and below parallelDigest against the standard library's.
func TestDigesterSums(t *testing.T) {
	content := make([]byte, 3<<20+17)
	for i := range content {
		content[i] = byte(i*7 + i/251)
	}
	for _, piece := range []int{1000, parallelDigest, copyBuffer} {
		d := newDigester(bytes.NewReader(content), 0, true)
		n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{d}, make([]byte, piece))
		if err != nil || n != int64(len(content)) || d.n != n {
			t.Fatalf("piece %d: read %d (counted %d), %v", piece, n, d.n, err)
		}
		sha, md := d.sums()
		wantSHA, wantMD := sha256.Sum256(content), md5.Sum(content)
		if sha != hex.EncodeToString(wantSHA[:]) || md != hex.EncodeToString(wantMD[:]) {
			t.Errorf("piece %d: sums %s %s, want %x %x", piece, sha, md, wantSHA, wantMD)
		}
	}
}

// TestDigesterWithoutMD5 checks that a digester told to leave the MD5 out
// gives the same sha256 and no MD5.
func TestDigesterWithoutMD5(t *testing.T) {
	content := make([]byte, 1<<20+3)
	for i := range content {
		content[i] = byte(i*13 + i/257)
	}
	for _, piece := range []int{1000, parallelDigest, copyBuffer} {
		d := newDigester(bytes.NewReader(content), 0, false)
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{d}, make([]byte, piece)); err != nil {
			t.Fatal(err)
		}
		sha, md := d.sums()
		want := sha256.Sum256(content)
		if sha != hex.EncodeToString(want[:]) || md != "" || d.n != int64(len(content)) {
			t.Errorf("piece %d: sums %q %q after %d bytes; want %x and no MD5", piece, sha, md, d.n, want)
		}
	}
}

// selfHashing is content that hashes itself, the way a migration's copy
// does (upstream.SHA256Reader).
type selfHashing struct {
	r     io.Reader
	h     hash.Hash
	calls int
}

func (s *selfHashing) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.h.Write(p[:n])
	return n, err
}

func (s *selfHashing) SHA256() []byte { s.calls++; return s.h.Sum(nil) }

// TestDigesterTakesTheContentsOwnSHA256 checks that content hashing
// itself, passed on through the context's reader, gives the digester its
// sha256 (asked once, at the end) while the MD5 is still computed here.
func TestDigesterTakesTheContentsOwnSHA256(t *testing.T) {
	content := make([]byte, 1<<20+5)
	for i := range content {
		content[i] = byte(i*11 + i/253)
	}
	for _, withMD5 := range []bool{true, false} {
		own := &selfHashing{r: bytes.NewReader(content), h: sha256.New()}
		d := newDigester(withContext(context.Background(), own), 0, withMD5)
		if d.own == nil || d.sha != nil {
			t.Fatalf("md5 %v: the digester hashes the sha256 itself, beside content that hashes itself", withMD5)
		}
		if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{d}, make([]byte, parallelDigest)); err != nil {
			t.Fatal(err)
		}
		sha, md := d.sums()
		wantSHA, wantMD := sha256.Sum256(content), md5.Sum(content)
		if sha != hex.EncodeToString(wantSHA[:]) || own.calls != 1 {
			t.Errorf("md5 %v: sha256 %s after %d calls of the content's own, want %x from one", withMD5, sha, own.calls, wantSHA)
		}
		if withMD5 && md != hex.EncodeToString(wantMD[:]) || !withMD5 && md != "" {
			t.Errorf("md5 %v: md5 %q, want %x", withMD5, md, wantMD)
		}
	}
}

// BenchmarkDigester64MiB hashes an upload relayed through the remote
// store, in the relay's pieces: what the front spends per relayed upload
// byte beyond the copies, with the MD5 and without it (a migration's ends).
func BenchmarkDigester64MiB(b *testing.B) {
	content := make([]byte, 64<<20)
	for i := range content {
		content[i] = byte(i*7 + i/251)
	}
	buf := make([]byte, copyBuffer)
	r := bytes.NewReader(content)
	for _, withMD5 := range []bool{true, false} {
		b.Run(map[bool]string{true: "sha256+md5", false: "sha256"}[withMD5], func(b *testing.B) {
			b.SetBytes(int64(len(content)))
			b.ReportAllocs()
			for b.Loop() {
				r.Reset(content)
				d := newDigester(r, 0, withMD5)
				if _, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{d}, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
