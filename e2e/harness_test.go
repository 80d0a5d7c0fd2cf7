// Package e2e builds the real dragoman binary, starts it on loopback ports
// and speaks each dialect to it over real HTTP. Nothing here imports the
// gateway's packages: what these tests see is what a client sees.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the dragoman binary TestMain built for this run.
var binary string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	root, err := moduleRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "dragoman-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "dragoman")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, "./cmd/dragoman")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/dragoman in %s: %v\n%s", root, err, out)
		return 1
	}
	defer backends.Stop() // scaleout_test.go's servers, if a test started them
	return m.Run()
}

// moduleRoot is the directory of the module's go.mod: `go env GOMOD`, or
// the parent of this package's directory when that says nothing.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err == nil {
		if mod := strings.TrimSpace(string(out)); mod != "" && mod != os.DevNull {
			return filepath.Dir(mod), nil
		}
	}
	abs, err := filepath.Abs("..")
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
		return "", fmt.Errorf("cannot find the module root: %w", err)
	}
	return abs, nil
}

const (
	healthTimeout = 10 * time.Second
	stopTimeout   = 10 * time.Second
	// startAttempts bounds retries when a picked free port was taken by
	// someone else between closing it and the gateway binding it.
	startAttempts = 3
)

// gateway is one running `dragoman serve` process.
type gateway struct {
	root string // test-owned directory; the process runs in it
	data string // root/data, the --data directory
	addr string // 127.0.0.1:PORT
	base string // http://127.0.0.1:PORT
	args []string

	out *syncBuffer // stdout and stderr of every run of the process

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed once the current process has exited
}

// startGateway starts `dragoman serve` on a free loopback port with a fresh
// data directory, waits until /healthz answers 200, and stops the process
// when the test ends. Its output is shown if the test fails.
func startGateway(t testing.TB, args ...string) *gateway {
	t.Helper()
	root := t.TempDir()
	gw := &gateway{root: root, data: filepath.Join(root, "data"), args: args, out: &syncBuffer{}}
	t.Cleanup(func() {
		gw.stop()
		if t.Failed() {
			t.Logf("gateway %s output:\n%s", gw.addr, gw.out.String())
		}
	})
	var err error
	for attempt := 0; attempt < startAttempts; attempt++ {
		gw.addr = freeAddr(t)
		gw.base = "http://" + gw.addr
		if err = gw.launch(); err != nil {
			break
		}
		if err = gw.waitHealthy(); err == nil {
			return gw
		}
		gw.stop()
		if !strings.Contains(gw.out.String(), "address already in use") {
			break
		}
	}
	t.Fatalf("start gateway: %v", err)
	return nil
}

// freeAddr picks a free loopback port: listen on port 0, close, reuse.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// launch starts the process; it does not wait for it to be ready.
func (gw *gateway) launch() error {
	args := append([]string{"serve", "--listen", gw.addr, "--data", gw.data}, gw.args...)
	cmd := exec.Command(binary, args...)
	cmd.Dir = gw.root
	cmd.Stdout, cmd.Stderr = gw.out, gw.out
	cmd.WaitDelay = 2 * time.Second
	fmt.Fprintf(gw.out, "--- dragoman %s\n", strings.Join(args, " "))
	return gw.run(cmd)
}

// run starts cmd as the gateway's process, and notes its exit in the
// output when it ends.
func (gw *gateway) run(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", binary, err)
	}
	done := make(chan struct{})
	go func() {
		err := cmd.Wait()
		fmt.Fprintf(gw.out, "--- exited: %v\n", err)
		close(done)
	}()
	gw.mu.Lock()
	gw.cmd, gw.done = cmd, done
	gw.mu.Unlock()
	return nil
}

// waitHealthy polls GET /healthz until it answers 200, the process exits,
// or healthTimeout passes.
func (gw *gateway) waitHealthy() error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(healthTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-gw.exited():
			return errors.New("the gateway exited before it was healthy")
		default:
		}
		resp, err := client.Get(gw.base + "/healthz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("GET /healthz did not answer 200 within %v", healthTimeout)
}

func (gw *gateway) exited() <-chan struct{} {
	gw.mu.Lock()
	defer gw.mu.Unlock()
	return gw.done
}

// stop sends SIGTERM and waits; after stopTimeout it kills the process.
func (gw *gateway) stop() {
	gw.mu.Lock()
	cmd, done := gw.cmd, gw.done
	gw.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		return
	case <-time.After(stopTimeout):
	}
	_ = cmd.Process.Kill()
	select {
	case <-done:
	case <-time.After(stopTimeout):
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (gw *gateway) kill(t testing.TB) {
	t.Helper()
	gw.mu.Lock()
	cmd, done := gw.cmd, gw.done
	gw.mu.Unlock()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill gateway: %v", err)
	}
	select {
	case <-done:
	case <-time.After(stopTimeout):
		t.Fatalf("gateway did not exit within %v of SIGKILL", stopTimeout)
	}
}

// restart starts the gateway again on the same port and data directory.
func (gw *gateway) restart(t testing.TB) {
	t.Helper()
	gw.stop()
	if err := gw.launch(); err != nil {
		t.Fatalf("restart gateway: %v", err)
	}
	if err := gw.waitHealthy(); err != nil {
		t.Fatalf("restart gateway: %v", err)
	}
}

// key creates an API key with `dragoman keys create` and returns its secret.
func (gw *gateway) key(t testing.TB, name string, flags ...string) string {
	t.Helper()
	args := append([]string{"keys", "create", "--data", gw.data, "--name", name}, flags...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dragoman %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	secret := strings.TrimSuffix(string(out), "\n")
	if secret == "" || strings.ContainsAny(secret, " \n\r\t") {
		t.Fatalf("dragoman keys create printed %q, want one secret alone on one line", out)
	}
	return secret
}

// url is the gateway's base URL followed by path (already escaped).
func (gw *gateway) url(path string) string { return gw.base + path }

// syncBuffer is a bytes.Buffer safe for the process's writers and the
// test's readers at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// hdr is a set of request headers.
type hdr map[string]string

// bearer is the Authorization header both tested dialects use.
func bearer(secret string) hdr { return hdr{"Authorization": "Bearer " + secret} }

// with returns h plus the given key and value.
func (h hdr) with(k, v string) hdr {
	out := hdr{k: v}
	for hk, hv := range h {
		if hk != k {
			out[hk] = hv
		}
	}
	return out
}

// client is for ordinary requests; every request it makes is bounded.
var client = &http.Client{
	Timeout: 60 * time.Second,
	Transport: &http.Transport{
		DisableCompression:    true,
		MaxIdleConnsPerHost:   8,
		ResponseHeaderTimeout: 60 * time.Second,
	},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// do makes one request with a byte body (nil: none) and returns the status,
// headers and whole body. A transport error fails the test.
func do(t testing.TB, method, url string, headers hdr, body []byte) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, url, err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return doReq(t, req)
}

// doRaw is do with the request target sent exactly as written: no
// parsing, escaping or cleaning of rawPath by the client.
func doRaw(t testing.TB, gw *gateway, method, rawPath string, headers hdr, body []byte) (int, http.Header, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, gw.base+"/", r)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.URL.Opaque = rawPath
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return doReq(t, req)
}

// doReq sends a prepared request; see do.
func doReq(t testing.TB, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, resp.Header, got
}

// listFiles walks dir and returns every regular file's path relative to
// dir, with its size.
func listFiles(t testing.TB, dir string) map[string]int64 {
	t.Helper()
	files := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while we walked
		}
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[rel] = info.Size()
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return files
}

// snippet shortens a body for a failure message.
func snippet(b []byte) string {
	const max = 300
	if len(b) > max {
		return fmt.Sprintf("%q... (%d bytes)", b[:max], len(b))
	}
	return fmt.Sprintf("%q", b)
}
