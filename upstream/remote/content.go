package remote

import (
	"bytes"
	"io"
	"sort"

	"github.com/dragoman-gw/dragoman/upstream"
)

// memContent is content that came whole inside a JSON answer.
type memContent struct{ *bytes.Reader }

func (memContent) Close() error { return nil }

// streamContent is an upstream download being streamed. It seeks forward
// only, by reading and dropping bytes, which is what serving a range needs
// of it; the connection goes back to the pool on Close.
type streamContent struct {
	resp *response
	pos  int64
}

func (c *streamContent) Read(p []byte) (int, error) {
	n, err := c.resp.body.Read(p)
	c.pos += int64(n)
	return n, err
}

func (c *streamContent) Seek(offset int64, whence int) (int64, error) {
	if whence != io.SeekStart || offset < c.pos {
		return c.pos, upstream.Errorf(upstream.KindUnsupported, "an upstream download can only skip forward")
	}
	n, err := io.CopyN(io.Discard, c.resp.body, offset-c.pos)
	c.pos += n
	return c.pos, err
}

func (c *streamContent) Close() error {
	c.resp.close()
	return nil
}

var (
	_ upstream.Content = memContent{}
	_ upstream.Content = (*streamContent)(nil)
)

func sortStrings(s []string) { sort.Strings(s) }
