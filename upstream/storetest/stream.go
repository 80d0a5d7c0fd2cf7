package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// largeSize is big enough that a store holding content in memory shows.
const largeSize = 64 << 20

// genReader yields n deterministic pseudo-random bytes (xorshift64), so a
// large stream can be produced twice without being held in memory.
type genReader struct {
	n, off int64
	state  uint64
	word   [8]byte
}

func newGenReader(n int64) *genReader { return &genReader{n: n, state: 0x9e3779b97f4a7c15} }

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.n-g.off)]
	for i := range p {
		if (g.off+int64(i))%8 == 0 {
			g.state ^= g.state << 13
			g.state ^= g.state >> 7
			g.state ^= g.state << 17
			for j := range g.word {
				g.word[j] = byte(g.state >> (8 * j))
			}
		}
		p[i] = g.word[(g.off+int64(i))%8]
	}
	g.off += int64(len(p))
	return len(p), nil
}

func testLargeStream(t *testing.T, s upstream.Store, o Options) {
	if testing.Short() {
		t.Skip("64 MiB stream skipped in -short mode")
	}
	h := sha256.New()
	if _, err := io.Copy(h, newGenReader(largeSize)); err != nil {
		t.Fatal(err)
	}
	want := hex.EncodeToString(h.Sum(nil))

	ctx := context.Background()
	na := upstream.NewAttachment{Record: o.ref("large"), Field: "files", Name: "large.bin"}
	a, err := s.Create(ctx, na, newGenReader(largeSize))
	skipUnsupported(t, err, "Create")
	if upstream.IsKind(err, upstream.KindTooLarge) {
		// No MaxSize was given: the store caps files itself (a remote
		// store whose dialect carries files as base64 inside JSON).
		t.Skipf("store caps files below %d bytes: %v", int64(largeSize), err)
	}
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if a.Size != largeSize || a.SHA256 != want {
		t.Fatalf("Create: size %d sha256 %s; want %d %s", a.Size, a.SHA256, int64(largeSize), want)
	}

	_, c, err := s.Open(ctx, a.ID)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer c.Close()
	h.Reset()
	n, err := io.Copy(h, c)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); n != largeSize || got != want {
		t.Fatalf("read back %d bytes, sha256 %s; want %d, %s", n, got, int64(largeSize), want)
	}
}
