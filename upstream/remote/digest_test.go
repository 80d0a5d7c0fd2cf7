package remote

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
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
