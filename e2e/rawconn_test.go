package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Helpers for tests that speak raw bytes to the gateway, as a hostile or
// broken client does, and for starting it under a descriptor limit.

// rawExchange writes payload on a fresh connection and reads until the
// gateway closes it or wait passes. closed says whether the gateway ended
// the connection (EOF or reset) before wait.
func rawExchange(t testing.TB, addr string, payload []byte, wait time.Duration) (got []byte, closed bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	if len(payload) > 0 {
		if _, err := c.Write(payload); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	return readUntilClosed(c, wait)
}

// readUntilClosed reads c until it ends or wait passes.
func readUntilClosed(c net.Conn, wait time.Duration) ([]byte, bool) {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	var out bytes.Buffer
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return out.Bytes(), false
		}
		return out.Bytes(), true // EOF, or a reset after the answer
	}
}

// statusOf is the status code of a raw HTTP/1.1 answer, or 0.
func statusOf(answer []byte) int {
	var code int
	if _, err := fmt.Sscanf(string(answer), "HTTP/1.1 %d ", &code); err != nil {
		return 0
	}
	return code
}

// bodyOf is what follows the header of a raw answer.
func bodyOf(answer []byte) []byte {
	_, body, _ := bytes.Cut(answer, []byte("\r\n\r\n"))
	return body
}

// startGatewayNofile is startGateway with the process's descriptor limit
// (soft and hard) set to nofile by the shell that execs it, so a few
// hundred connections exhaust it.
func startGatewayNofile(t testing.TB, nofile int, args ...string) *gateway {
	t.Helper()
	return startGatewayCustom(t, nofile, nil, args...)
}

// startGatewayCustom is startGateway with, when nofile > 0, a descriptor
// limit, and with prepare run on the fresh data directory before the
// process starts (to mount a file system on it, say).
func startGatewayCustom(t testing.TB, nofile int, prepare func(data string), args ...string) *gateway {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil && nofile > 0 {
		t.Fatalf("this test needs sh to set a descriptor limit: %v", err)
	}
	root := t.TempDir()
	gw := &gateway{root: root, data: filepath.Join(root, "data"), args: args, out: &syncBuffer{}}
	if prepare != nil {
		if err := os.MkdirAll(gw.data, 0o700); err != nil {
			t.Fatal(err)
		}
		prepare(gw.data)
	}
	t.Cleanup(func() {
		gw.stop()
		if t.Failed() {
			t.Logf("gateway %s output:\n%s", gw.addr, gw.out.String())
		}
	})
	gw.addr = freeAddr(t)
	gw.base = "http://" + gw.addr
	full := append([]string{"serve", "--listen", gw.addr, "--data", gw.data}, args...)
	cmd := exec.Command(binary, full...)
	if nofile > 0 {
		script := fmt.Sprintf(`ulimit -n %d && exec "$0" "$@"`, nofile)
		cmd = exec.Command("sh", append([]string{"-c", script, binary}, full...)...)
	}
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = gw.out, gw.out
	cmd.WaitDelay = 2 * time.Second
	fmt.Fprintf(gw.out, "--- (nofile %d) dragoman %s\n", nofile, strings.Join(full, " "))
	if err := gw.run(cmd); err != nil {
		t.Fatal(err)
	}
	if err := gw.waitHealthy(); err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	return gw
}

// alive fails the test if the gateway process has exited.
func (gw *gateway) alive(t testing.TB) {
	t.Helper()
	select {
	case <-gw.exited():
		t.Fatalf("the gateway exited; its output:\n%s", gw.out.String())
	default:
	}
}

// signalAndWait sends sig and waits up to limit for the process to exit,
// returning its exit code and how long it took.
func (gw *gateway) signalAndWait(t testing.TB, sig syscall.Signal, limit time.Duration) (int, time.Duration) {
	t.Helper()
	gw.mu.Lock()
	cmd, done := gw.cmd, gw.done
	gw.mu.Unlock()
	start := time.Now()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal gateway: %v", err)
	}
	select {
	case <-done:
	case <-time.After(limit):
		t.Fatalf("the gateway did not exit within %v of %v", limit, sig)
	}
	return cmd.ProcessState.ExitCode(), time.Since(start)
}

// tmpFiles lists the bundled store's uploads in flight.
func tmpFiles(t testing.TB, gw *gateway) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(gw.data, "store", "tmp"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatalf("read tmp dir: %v", err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// dialHeld opens n connections and keeps them open until the test ends.
func dialHeld(t testing.TB, addr string, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial connection %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return conns
}

// runBinary runs dragoman with args to its end (at most 20 s) and returns
// its combined output and exit code.
func runBinary(t testing.TB, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	default:
		t.Fatalf("run dragoman %v: %v", args, err)
		return "", -1
	}
}
