package connguard

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

func TestClassify(t *testing.T) {
	timeout := &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}
	for _, tc := range []struct {
		err  error
		want int
	}{
		{&fasthttp.ErrSmallBuffer{}, 431},
		{fmt.Errorf("reading: %w", timeout), 408},
		{fasthttp.ErrBodyTooLarge, 413},
		{errors.New(`cannot parse content-length: buffer="Authorization: Bearer X"`), 400},
	} {
		f := Classify(tc.err)
		if f.Status != tc.want {
			t.Errorf("Classify(%v) = %d, want %d", tc.err, f.Status, tc.want)
		}
		if strings.Contains(f.Text, "Bearer") {
			t.Errorf("Classify(%v) text %q echoes the error", tc.err, f.Text)
		}
	}
}

func TestCheckFraming(t *testing.T) {
	for _, tc := range []struct {
		name, header string
		refuse       bool
	}{
		{"length", "Content-Length: 5\r\n", false},
		{"chunked", "Transfer-Encoding: chunked\r\n", false},
		{"both", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", true},
		{"both, other order and case", "transfer-encoding: chunked\r\ncontent-length: 5\r\n", true},
		{"neither", "X-Content-Length: 5\r\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h fasthttp.RequestHeader
			raw := "POST /x HTTP/1.1\r\nHost: h\r\n" + tc.header + "\r\n"
			if err := h.Read(bufio.NewReader(strings.NewReader(raw))); err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := CheckFraming(&h) != nil; got != tc.refuse {
				t.Errorf("refused=%v, want %v", got, tc.refuse)
			}
		})
	}
}

func TestAppendTarget(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"GET /api/x?q=1 HTTP/1.1\r\n", "/api/x"},
		{"POST /jsonapi/records HTTP/1.1\r\nHost: x", "/jsonapi/records"},
		{"GET /half", ""},
		{"GET", ""},
		{"GET /" + strings.Repeat("a", 300) + " HTTP/1.1", ""},
	} {
		if got := string(appendTarget(nil, []byte(tc.in))); got != tc.want {
			t.Errorf("appendTarget(%.30q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRetryable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.EMFILE)}, true},
		{&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.ENFILE)}, true},
		{&net.OpError{Op: "accept", Err: os.NewSyscallError("accept4", syscall.ECONNABORTED)}, true},
		{net.ErrClosed, false},
		{errors.New("something else"), false},
	} {
		if got := retryable(tc.err); got != tc.want {
			t.Errorf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// listen starts a Listener on loopback whose accepted connections are
// handed to serve.
func listen(t *testing.T, limits Limits, serve func(net.Conn)) *Listener {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(inner, limits, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return l
}

// echoLines answers each line read with the same line.
func echoLines(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if _, err := io.WriteString(c, line); err != nil {
			return
		}
	}
}

func dial(t *testing.T, l *Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// answer reads what the server sends until it closes or 2 s pass.
func answer(c net.Conn) string {
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

func TestCaps(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits Limits
		want   string
	}{
		{"overall", Limits{MaxConns: 2}, "HTTP/1.1 503 "},
		{"per address", Limits{MaxConns: 10, MaxConnsPerIP: 2}, "HTTP/1.1 429 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := listen(t, tc.limits, echoLines)
			a, b := dial(t, l), dial(t, l)
			for _, c := range []net.Conn{a, b} { // both served
				fmt.Fprintln(c, "hi")
				if got, _ := bufio.NewReader(c).ReadString('\n'); got != "hi\n" {
					t.Fatalf("served connection read %q", got)
				}
			}
			if got := answer(dial(t, l)); !strings.HasPrefix(got, tc.want) || !strings.Contains(got, "Connection: close") {
				t.Fatalf("third connection got %q, want %q...", got, tc.want)
			}
			a.Close()
			deadline := time.Now().Add(2 * time.Second)
			for l.Open() > 1 && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			c := dial(t, l)
			fmt.Fprintln(c, "again")
			if got, _ := bufio.NewReader(c).ReadString('\n'); got != "again\n" {
				t.Fatalf("a freed slot is not served: read %q", got)
			}
		})
	}
}

func TestBodyPhaseIdleTimeout(t *testing.T) {
	got := make(chan error, 1)
	l := listen(t, Limits{BodyIdle: 200 * time.Millisecond}, func(c net.Conn) {
		defer c.Close()
		// The server's header deadline: long gone by the time the body is done.
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_ = c.SetReadDeadline(time.Now().Add(BodyPhase))
		buf := make([]byte, 1)
		for {
			if _, err := c.Read(buf); err != nil {
				got <- err
				return
			}
		}
	})
	c := dial(t, l)
	start := time.Now()
	for i := 0; i < 6; i++ { // 600 ms of a moving body: past the header deadline
		time.Sleep(100 * time.Millisecond)
		c.Write([]byte("x"))
	}
	select {
	case err := <-got:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read failed with %v, want a timeout", err)
		}
		if el := time.Since(start); el < 700*time.Millisecond {
			t.Fatalf("a moving body was cut off after %v", el)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a stalled body was never timed out")
	}
}

func TestDrainClosesConnectionsOutsideRequests(t *testing.T) {
	inRequest := make(chan struct{})
	release := make(chan struct{})
	l := listen(t, Limits{}, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 16)
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if string(buf[:n]) == "request" {
			_ = c.SetReadDeadline(time.Now().Add(BodyPhase))
			close(inRequest)
			<-release
			c.Write([]byte("done"))
			return
		}
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	idle := dial(t, l)
	idle.Write([]byte("idle"))
	busy := dial(t, l)
	busy.Write([]byte("request"))
	<-inRequest
	drained := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		drained <- l.Drain(ctx)
	}()
	if got := answer(idle); got != "" {
		t.Fatalf("idle connection got %q", got)
	}
	select {
	case err := <-drained:
		t.Fatalf("drain returned %v with a request in progress", err)
	case <-time.After(100 * time.Millisecond):
	}
	if got := answer(dial(t, l)); !strings.HasPrefix(got, "HTTP/1.1 503 ") {
		t.Fatalf("a new connection while draining got %q, want 503", got)
	}
	close(release)
	if got := answer(busy); got != "done" {
		t.Fatalf("request in progress answered %q", got)
	}
	if err := <-drained; err != nil {
		t.Fatalf("drain: %v", err)
	}
}

// TestReadFromKeepsALimit: ReadFrom of a LimitedReader (what fasthttp's
// fixed-length body writer hands it) unwraps it, so a socket source can
// still be spliced, and copies exactly its limit, counting it down.
func TestReadFromKeepsALimit(t *testing.T) {
	const size, limit = 10 << 20, 9<<20 + 7
	got := make(chan int, 1)
	l := listen(t, Limits{}, func(c net.Conn) {
		defer c.Close()
		src := bytes.NewReader(make([]byte, size))
		lr := &io.LimitedReader{R: src, N: limit}
		n, err := c.(io.ReaderFrom).ReadFrom(lr)
		if err != nil || lr.N != 0 || src.Len() != size-limit {
			t.Errorf("ReadFrom: %d, %v; limit left %d, source left %d", n, err, lr.N, src.Len())
		}
		got <- int(n)
	})
	c := dial(t, l)
	if n := len(answer(c)); n != limit {
		t.Fatalf("the client got %d bytes, want %d", n, limit)
	}
	if n := <-got; n != limit {
		t.Fatalf("ReadFrom said %d bytes, want %d", n, limit)
	}
}
