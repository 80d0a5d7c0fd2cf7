package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"time"
)

// chunk is the size of one write of the generated upload body and of one
// read of a download.
const chunk = 1 << 20

// bigFlags are the flags upload and download share.
type bigFlags struct {
	url     *string
	key     *string
	pid     *int
	timeout *time.Duration
}

func addBigFlags(fs *flag.FlagSet) bigFlags {
	return bigFlags{
		url:     fs.String("url", "", "full URL of the attachment content"),
		key:     fs.String("key", "", "API key (Authorization: Bearer)"),
		pid:     fs.Int("pid", 0, "server pid, to report its CPU use"),
		timeout: fs.Duration("timeout", 10*time.Minute, "give up after this long"),
	}
}

// dialRaw opens one connection for a hand-written HTTP/1.1 exchange, with
// a deadline for the whole exchange.
func dialRaw(u *url.URL, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// generator yields size pseudo-random bytes as 1 MiB chunks of one buffer,
// each chunk stamped with its index so that no two are alike. Nothing
// larger than one chunk is ever in memory.
type generator struct {
	buf  []byte
	left int64
	n    uint64
}

func newGenerator(size int64) *generator {
	g := &generator{buf: make([]byte, chunk), left: size}
	r := rand.NewChaCha8([32]byte{'d', 'r', 'a', 'g', 'o', 'm', 'a', 'n'})
	_, _ = r.Read(g.buf)
	return g
}

// next returns the next chunk, or nil at the end.
func (g *generator) next() []byte {
	if g.left <= 0 {
		return nil
	}
	binary.LittleEndian.PutUint64(g.buf, g.n)
	g.n++
	b := g.buf[:min(int64(len(g.buf)), g.left)]
	g.left -= int64(len(b))
	return b
}

func runUpload(args []string) error {
	fs := newFlags("upload")
	bf := addBigFlags(fs)
	sizeFlag := fs.String("size", "1GiB", "bytes to upload")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := target(*bf.url)
	if err != nil {
		return err
	}
	size, err := parseSize(*sizeFlag)
	if err != nil {
		return err
	}
	conn, err := dialRaw(u, *bf.timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/octet-stream\r\nContent-Length: %d\r\nUser-Agent: dragoman-bench/load\r\n\r\n",
		u.RequestURI(), u.Host, *bf.key, size)

	cpu := startCPU(*bf.pid)
	start := time.Now()
	_, werr := io.WriteString(conn, head)
	gen := newGenerator(size)
	for b := gen.next(); b != nil && werr == nil; b = gen.next() {
		_, werr = conn.Write(b)
	}
	// Read the answer even after a failed write: the server may have
	// refused the body early, and its status says why.
	resp, rerr := http.ReadResponse(bufio.NewReader(conn), nil)
	if rerr != nil {
		return fmt.Errorf("no response (write error: %v): %w", werr, rerr)
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	secs := time.Since(start).Seconds()
	use := cpu.stop()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s: %q", resp.Status, msg)
	}
	if werr != nil {
		return fmt.Errorf("write body: %w", werr)
	}
	report("upload", fmt.Sprintf("bytes=%d secs=%.3f mbps=%.1f %s", size, secs, float64(size)/secs/1e6, cpuFields(use, secs)))
	return nil
}

func runDownload(args []string) error {
	fs := newFlags("download")
	bf := addBigFlags(fs)
	sizeFlag := fs.String("size", "", "expected bytes (optional)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	u, err := target(*bf.url)
	if err != nil {
		return err
	}
	want := int64(-1)
	if *sizeFlag != "" {
		if want, err = parseSize(*sizeFlag); err != nil {
			return err
		}
	}
	conn, err := dialRaw(u, *bf.timeout)
	if err != nil {
		return err
	}
	defer conn.Close()
	head := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nUser-Agent: dragoman-bench/load\r\n\r\n",
		u.RequestURI(), u.Host, *bf.key)

	cpu := startCPU(*bf.pid)
	start := time.Now()
	if _, err := io.WriteString(conn, head); err != nil {
		return err
	}
	// Reads of a full chunk bypass bufio's buffer and land straight in buf.
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 64<<10), nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", resp.Status)
	}
	var n int64
	buf := make([]byte, chunk)
	for {
		m, err := resp.Body.Read(buf)
		n += int64(m)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("after %d bytes: %w", n, err)
		}
	}
	secs := time.Since(start).Seconds()
	use := cpu.stop()
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fmt.Errorf("read %d bytes, Content-Length said %d", n, resp.ContentLength)
	}
	if want >= 0 && n != want {
		return fmt.Errorf("read %d bytes, want %d", n, want)
	}
	report("download", fmt.Sprintf("bytes=%d secs=%.3f mbps=%.1f %s", n, secs, float64(n)/secs/1e6, cpuFields(use, secs)))
	return nil
}
