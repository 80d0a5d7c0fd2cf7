package remote_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/upstream/remote"
)

// pattern is size bytes that differ from one offset to the next, so a
// relay that drops, repeats or reorders a piece is caught.
func pattern(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

// tcpSink is a loopback TCP connection whose far end hashes what arrives:
// the writer a download is relayed to, as fasthttp's server's would be.
func tcpSink(tb testing.TB) (*net.TCPConn, <-chan [32]byte) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	sum := make(chan [32]byte, 1)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	w, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	r, ok := <-accepted
	if !ok {
		tb.Fatal("no connection accepted")
	}
	go func() {
		defer r.Close()
		h := sha256.New()
		io.Copy(h, r) //nolint:errcheck // the sum says what arrived
		sum <- [32]byte(h.Sum(nil))
	}()
	return w.(*net.TCPConn), sum
}

// servingFile answers record c/r's listing with one file of content, and
// its download in pieces of piece bytes, pause apart (0: all at once).
func servingFile(content []byte, piece int, pause time.Duration) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == listPath {
			nimblexFile(w, len(content))
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(content)))
		if piece <= 0 {
			w.Write(content) //nolint:errcheck // the client checks what arrived
			return
		}
		for off := 0; off < len(content); off += piece {
			w.Write(content[off:min(off+piece, len(content))]) //nolint:errcheck // as above
			w.(http.Flusher).Flush()
			time.Sleep(pause)
		}
	}
}

// TestRelayDownload checks a download relayed by the content's WriteTo to
// a TCP connection (where the remote store splices it once the upstream
// proves fast) and to a buffer: every byte arrives, in order, whether the
// upstream is fast, or slow but moving (paced so that a spliced piece
// would outlast the idle timeout if the pace were not measured first).
func TestRelayDownload(t *testing.T) {
	cases := []struct {
		name  string
		size  int
		piece int
		pause time.Duration
	}{
		{"fast, 9 MiB", 9<<20 + 123, 0, 0},
		{"fast, under the pace sample", 300 << 10, 0, 0},
		{"slow but moving", 96 << 10, 8 << 10, quick.Idle / 3},
	}
	for _, tc := range cases {
		for _, sink := range []string{"tcp", "buffer"} {
			t.Run(tc.name+" to "+sink, func(t *testing.T) {
				content := pattern(tc.size)
				s, _ := fake(t, "nimblex", quick, servingFile(content, tc.piece, tc.pause))
				_, c, err := s.Open(context.Background(), fileID(t, s))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				wt := c.(io.WriterTo)
				want := sha256.Sum256(content)
				if sink == "buffer" {
					var buf bytes.Buffer
					n, err := wt.WriteTo(&buf)
					if err != nil || n != int64(tc.size) || sha256.Sum256(buf.Bytes()) != want {
						t.Fatalf("relayed %d of %d bytes, %v; content intact: %v", n, tc.size, err, sha256.Sum256(buf.Bytes()) == want)
					}
					return
				}
				w, sum := tcpSink(t)
				n, err := wt.WriteTo(w)
				w.Close()
				if err != nil || n != int64(tc.size) {
					t.Fatalf("relayed %d of %d bytes: %v", n, tc.size, err)
				}
				if got := <-sum; got != want {
					t.Fatal("the relayed bytes differ from the upstream's")
				}
			})
		}
	}
}

// TestRelayStalledAfterSplicing checks the idle timeout on the spliced
// path: an upstream that sends fast, then stops, fails the relay about
// one idle timeout after it stopped.
func TestRelayStalledAfterSplicing(t *testing.T) {
	const size = 32 << 20
	s, _ := fake(t, "nimblex", quick, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == listPath {
			nimblexFile(w, size)
			return
		}
		w.Header().Set("Content-Length", fmt.Sprint(size))
		w.Write(make([]byte, 8<<20)) //nolint:errcheck // the client reads what arrives
		w.(http.Flusher).Flush()
		stall(r)
	})
	_, c, err := s.Open(context.Background(), fileID(t, s))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w, _ := tcpSink(t)
	defer w.Close()
	start := time.Now()
	n, err := c.(io.WriterTo).WriteTo(w)
	if err == nil || n >= size {
		t.Fatalf("a stalled download relayed %d bytes, %v", n, err)
	}
	if d := time.Since(start); d > quick.Idle+2*time.Second {
		t.Fatalf("gave up after %v", d)
	}
}

// BenchmarkRelayDownload relays a 64 MiB download from a fake upstream to
// a loopback TCP connection through the content's WriteTo, the hop's
// download path in the front gateway: its allocations per op, and its
// CPU per byte when measured on a quiet machine (bench/run.sh).
func BenchmarkRelayDownload(b *testing.B) {
	const size = 64 << 20
	content := pattern(size)
	s, _ := fake(b, "nimblex", remote.DefaultTimeouts, servingFile(content, 0, 0))
	id := fileID(b, s)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		_, c, err := s.Open(context.Background(), id)
		if err != nil {
			b.Fatal(err)
		}
		w, sum := tcpSink(b)
		n, err := c.(io.WriterTo).WriteTo(w)
		c.Close()
		w.Close()
		<-sum
		if err != nil || n != size {
			b.Fatalf("relayed %d bytes: %v", n, err)
		}
	}
}
