package connguard

import (
	"io"
	"net"
	"testing"
	"time"
)

// BenchmarkBodyRead reads a stream through an admitted connection in the
// body phase, where every read sets a fresh idle deadline.
func BenchmarkBodyRead(b *testing.B) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	l := New(inner, Limits{BodyIdle: time.Minute}, nil)
	defer l.Close()
	const chunk = 32 << 10
	go func() {
		c, err := net.Dial("tcp", inner.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, chunk)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	c, err := l.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(BodyPhase))
	buf := make([]byte, chunk)
	b.SetBytes(chunk)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}
