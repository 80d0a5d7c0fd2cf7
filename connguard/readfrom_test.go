package connguard

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestReadFromMovesAFileWhole: a guarded connection hands a file to the
// socket's own ReadFrom (sendfile) in pieces, and every byte arrives, also
// across a piece boundary and with a body idle timeout set.
func TestReadFromMovesAFileWhole(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		s, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer s.Close()
		b, _ := io.ReadAll(s)
		got <- b
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Repeat([]byte("0123456789abcdef"), (readFromPiece*2+12345)/16)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, want, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &conn{Conn: raw, bodyIdle: 5 * time.Second}
	var w io.Writer = c
	if _, ok := w.(io.ReaderFrom); !ok {
		t.Fatal("a guarded connection hides the socket's ReadFrom")
	}
	n, err := c.ReadFrom(f)
	if err != nil || n != int64(len(want)) {
		t.Fatalf("ReadFrom: %d bytes, %v; want %d", n, err, len(want))
	}
	raw.Close()
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the peer got %d bytes, not the %d sent", len(b), len(want))
	}
}
