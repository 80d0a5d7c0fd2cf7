package migrate

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"hash"
	"io"
	"net"
	"testing"
	"testing/iotest"
)

// cutShort gives its bytes, then io.ErrUnexpectedEOF: a body whose
// connection closed before its end.
type cutShort struct{ r io.Reader }

func (c cutShort) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func TestHashWhileReading(t *testing.T) {
	content := make([]byte, 3*copyBufferSize+123)
	for i := range content {
		content[i] = byte(i * 31)
	}
	for _, size := range []int{0, 1, copyBufferSize, copyBufferSize + 1, len(content)} {
		for name, r := range map[string]io.Reader{
			"whole":       bytes.NewReader(content[:size]),
			"half reads":  iotest.HalfReader(bytes.NewReader(content[:size])),
			"data at EOF": iotest.DataErrReader(bytes.NewReader(content[:size])),
		} {
			h := sha256.New()
			if err := hashWhileReading(h, r); err != nil {
				t.Fatalf("%d bytes, %s: %v", size, name, err)
			}
			if want := sha256.Sum256(content[:size]); !bytes.Equal(h.Sum(nil), want[:]) {
				t.Fatalf("%d bytes, %s: not the content's sha256", size, name)
			}
		}
	}
	// A body cut short is a failed read, never a short file's sum.
	errFail := errors.New("connection reset")
	for name, r := range map[string]io.Reader{
		"cut short": cutShort{bytes.NewReader(content)},
		"failing":   io.MultiReader(bytes.NewReader(content[:1000]), iotest.ErrReader(errFail)),
	} {
		if err := hashWhileReading(sha256.New(), r); err == nil {
			t.Fatalf("%s: no error", name)
		}
	}
}

// BenchmarkReadBack: a read-back's hashing of 64 MiB from a loopback TCP
// connection, in series (io.CopyBuffer, what sumOf did) and with the read
// beside the hash (hashWhileReading).
func BenchmarkReadBack(b *testing.B) {
	const size = 64 << 20
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		chunk := bytes.Repeat([]byte("dragoman"), copyBufferSize/8)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for sent := 0; sent < size; sent += len(chunk) {
					if _, err := c.Write(chunk); err != nil {
						return
					}
				}
			}()
		}
	}()
	for _, tc := range []struct {
		name string
		hash func(h hash.Hash, r io.Reader) error
	}{
		{"serial", func(h hash.Hash, r io.Reader) error {
			_, err := io.CopyBuffer(h, struct{ io.Reader }{r}, make([]byte, copyBufferSize))
			return err
		}},
		{"pipelined", hashWhileReading},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(size)
			for b.Loop() {
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				if err := tc.hash(sha256.New(), c); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}
