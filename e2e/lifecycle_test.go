package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The gateway's life (issue 11): its config file, reloads, shutdown.

// slowUpload is a raw Nimblex upload of size bytes whose body the test
// feeds: half at once, the rest when finish is called.
type slowUpload struct {
	pw     *io.PipeWriter
	size   int
	answer chan slowAnswer
}

type slowAnswer struct {
	status int
	err    error
}

func startSlowUpload(t *testing.T, gw *gateway, key, record, name string, size int) *slowUpload {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPost, gw.url("/jsonapi/records/Case/"+record+"/attachments/content/"+name), pr)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(size)
	req.Header.Set("Authorization", "Bearer "+key)
	u := &slowUpload{pw: pw, size: size, answer: make(chan slowAnswer, 1)}
	go func() {
		resp, err := (&http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{}}).Do(req)
		if err != nil {
			u.answer <- slowAnswer{err: err}
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		u.answer <- slowAnswer{status: resp.StatusCode}
	}()
	if _, err := pw.Write(bytes.Repeat([]byte("h"), size/2)); err != nil {
		t.Fatalf("first half: %v", err)
	}
	t.Cleanup(func() { pw.CloseWithError(io.ErrUnexpectedEOF) })
	return u
}

func (u *slowUpload) finish(t *testing.T) slowAnswer {
	t.Helper()
	if _, err := u.pw.Write(bytes.Repeat([]byte("t"), u.size-u.size/2)); err != nil {
		t.Fatalf("second half: %v", err)
	}
	u.pw.Close()
	return u.wait(t)
}

func (u *slowUpload) wait(t *testing.T) slowAnswer {
	t.Helper()
	select {
	case a := <-u.answer:
		return a
	case <-time.After(30 * time.Second):
		t.Fatal("the upload was not answered")
		return slowAnswer{}
	}
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	t.Run("requests in flight finish, then exit 0", func(t *testing.T) {
		t.Parallel()
		gw := startGateway(t)
		key := gw.key(t, "drain")
		up := startSlowUpload(t, gw, key, "S1", "drained.bin", 256<<10)
		time.Sleep(200 * time.Millisecond) // the gateway is reading the body
		gw.signal(t, syscall.SIGTERM)
		// New requests are no longer served: refused with 503 (connguard
		// answers a connection while the server drains), or not accepted.
		fresh := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		deadline := time.Now().Add(5 * time.Second)
		for {
			resp, err := fresh.Get(gw.url("/healthz"))
			if err != nil {
				break
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusServiceUnavailable {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the gateway still serves new requests after SIGTERM")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if a := up.finish(t); a.err != nil || a.status != http.StatusOK {
			t.Fatalf("the upload in flight: %d %v", a.status, a.err)
		}
		if how := gw.waitExit(t, 10*time.Second); how != "<nil>" {
			t.Fatalf("exit: %s", how)
		}
		gw.restart(t)
		st, _, body := do(t, http.MethodGet, gw.url("/jsonapi/records/Case/S1/attachments/content/drained.bin"), bearer(key), nil)
		if st != http.StatusOK || len(body) != 256<<10 {
			t.Errorf("after restart: %d, %d bytes; want the whole upload", st, len(body))
		}
	})
	t.Run("an upload cut off by the deadline leaves nothing", func(t *testing.T) {
		t.Parallel()
		gw := startGateway(t, "--shutdown-timeout", "1s")
		key := gw.key(t, "cut")
		nxSeed(t, gw, key, "S2")
		up := startSlowUpload(t, gw, key, "S2", "cut.bin", 1<<20)
		time.Sleep(200 * time.Millisecond)
		start := time.Now()
		gw.signal(t, syscall.SIGTERM)
		if how := gw.waitExit(t, 10*time.Second); how != "<nil>" {
			t.Fatalf("exit: %s", how)
		}
		if took := time.Since(start); took < time.Second || took > 6*time.Second {
			t.Errorf("exited %v after SIGTERM with a 1s grace", took)
		}
		// The client is still feeding its body; it learns the upload failed
		// once it stops.
		up.pw.CloseWithError(io.ErrUnexpectedEOF)
		if a := up.wait(t); a.err == nil && a.status == http.StatusOK {
			t.Fatalf("the cut-off upload was acknowledged")
		}
		if !strings.Contains(gw.out.String(), "cutting off requests in flight") {
			t.Errorf("the log does not say requests were cut off")
		}
		for f := range listFiles(t, filepath.Join(gw.data, "store", "tmp")) {
			t.Errorf("left in tmp: %s", f)
		}
		gw.restart(t)
		st, _, body := do(t, http.MethodGet, nxList(gw, "S2"), bearer(key), nil)
		if st != http.StatusOK || bytes.Contains(body, []byte("cut.bin")) {
			t.Errorf("after restart the list is %d %s; want only seed.txt", st, snippet(body))
		}
	})
	t.Run("SIGINT too", func(t *testing.T) {
		t.Parallel()
		gw := startGateway(t)
		gw.signal(t, syscall.SIGINT)
		if how := gw.waitExit(t, 10*time.Second); how != "<nil>" {
			t.Fatalf("exit: %s", how)
		}
	})
}

// dragomanEnv runs the binary with env added to the environment.
func dragomanEnv(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run dragoman: %v", err)
	}
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeFile(t, good, "cors_origins:\n  - https://from-file.example\nrate_limit: 50\nshutdown_timeout: 5s\nlog_format: json\n")
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "listen: 127.0.0.1:0\n\nfrobnicate: yes\nrate_limit: lots\n")

	t.Run("config check", func(t *testing.T) {
		if code, out, errOut := dragomanEnv(t, nil, "config", "check", "--config", good); code != 0 || !strings.Contains(out, "ok") {
			t.Errorf("good file: exit %d, %s %s", code, out, errOut)
		}
		code, _, errOut := dragomanEnv(t, nil, "config", "check", "--config", bad)
		if code != 1 || !strings.Contains(errOut, "bad.yaml: line 3: unknown key \"frobnicate\"") || !strings.Contains(errOut, "bad.yaml: line 4: rate_limit") {
			t.Errorf("bad file: exit %d, stderr %s", code, errOut)
		}
		routes := filepath.Join(dir, "routes.yaml")
		writeFile(t, routes, "version: 1\ndialects:\n  x:\n    mount: /x\n    nonsense: true\n")
		withRoutes := filepath.Join(dir, "with-routes.yaml")
		writeFile(t, withRoutes, "routes: "+routes+"\n")
		if code, _, errOut := dragomanEnv(t, nil, "config", "check", "--config", withRoutes); code != 1 || !strings.Contains(errOut, "line 5") {
			t.Errorf("a config naming a bad routes file: exit %d, %s", code, errOut)
		}
		if code, _, errOut := dragomanEnv(t, []string{"DRAGOMAN_LOG_FORMAT=xml"}, "config", "check", "--config", good); code != 1 || !strings.Contains(errOut, "xml") {
			t.Errorf("a bad value from the environment: exit %d, %s", code, errOut)
		}
	})
	t.Run("serve refuses a bad file", func(t *testing.T) {
		code, _, errOut := dragomanEnv(t, nil, "serve", "--data", filepath.Join(dir, "data"), "--config", bad)
		if code != 2 || !strings.Contains(errOut, "line 3: unknown key") {
			t.Errorf("exit %d, %s", code, errOut)
		}
	})
	t.Run("file, then environment, then flags", func(t *testing.T) {
		origin := func(gw *gateway, key, from string) string {
			_, h, _ := do(t, http.MethodGet, nxList(gw, "K1"), bearer(key).with("Origin", from), nil)
			return h.Get("Access-Control-Allow-Origin")
		}
		gw := startGateway(t, "--config", good)
		key := gw.key(t, "cfg")
		if got := origin(gw, key, "https://from-file.example"); got != "https://from-file.example" {
			t.Errorf("the file's cors_origins: Allow-Origin %q", got)
		}
		if !strings.Contains(gw.out.String(), `"msg":"dragoman serving"`) {
			t.Errorf("the file's log_format json is not in use:\n%s", gw.out.String())
		}
		t.Setenv("DRAGOMAN_CORS_ORIGINS", "https://from-env.example")
		gw = startGateway(t, "--config", good)
		key = gw.key(t, "cfg")
		if got := origin(gw, key, "https://from-env.example"); got != "https://from-env.example" {
			t.Errorf("the environment over the file: Allow-Origin %q", got)
		}
		gw = startGateway(t, "--config", good, "--cors-origins", "https://from-flag.example")
		key = gw.key(t, "cfg")
		if got := origin(gw, key, "https://from-flag.example"); got != "https://from-flag.example" {
			t.Errorf("the flag over both: Allow-Origin %q", got)
		}
		if got := origin(gw, key, "https://from-env.example"); got != "" {
			t.Errorf("the environment's origin is still allowed under the flag: %q", got)
		}
	})
}

// routesWith is the repository's routes.yaml with old replaced by new.
func routesWith(t *testing.T, old, new string) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "routes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("routes.yaml has no %q", old)
	}
	return strings.Replace(string(b), old, new, 1)
}

func TestReload(t *testing.T) {
	t.Parallel()
	const oldPath, newPath = "path: /records/:collection/:record/attachments\n", "path: /records/:collection/:record/files\n"
	routes := filepath.Join(t.TempDir(), "routes.yaml")
	writeFile(t, routes, routesWith(t, oldPath, oldPath))
	admin := freeAddr(t)
	gw := startGateway(t, "--routes", routes, "--admin", admin)
	key := gw.key(t, "reloader")
	nxSeed(t, gw, key, "R1")
	listAt := func(suffix string) int {
		st, _, _ := do(t, http.MethodGet, gw.url("/jsonapi/records/Case/R1/"+suffix), bearer(key), nil)
		return st
	}
	if listAt("attachments") != http.StatusOK || listAt("files") != http.StatusNotFound {
		t.Fatalf("before: attachments %d, files %d", listAt("attachments"), listAt("files"))
	}
	// An upload in flight across the reload finishes.
	up := startSlowUpload(t, gw, key, "R1", "across.bin", 64<<10)

	writeFile(t, routes, routesWith(t, oldPath, newPath))
	gw.signal(t, syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for listAt("files") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("SIGHUP did not swap the routes in:\n%s", gw.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := listAt("attachments"); st != http.StatusNotFound {
		t.Errorf("the old path after the reload: %d", st)
	}
	if a := up.finish(t); a.err != nil || a.status != http.StatusOK {
		t.Errorf("the upload across the reload: %d %v", a.status, a.err)
	}

	t.Run("a bad file is refused and the old routes keep serving", func(t *testing.T) {
		writeFile(t, routes, routesWith(t, "version: 1\n", "version: 1\nnonsense: true\n"))
		gw.signal(t, syscall.SIGHUP)
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(gw.out.String(), "reload refused") {
			if time.Now().After(deadline) {
				t.Fatalf("no refusal in the log:\n%s", gw.out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(gw.out.String(), "line ") {
			t.Errorf("the refusal names no line:\n%s", gw.out.String())
		}
		if st := listAt("files"); st != http.StatusOK {
			t.Errorf("after a refused reload: %d", st)
		}
		st, _, body := do(t, http.MethodPost, "http://"+admin+"/reload", nil, nil)
		if st != http.StatusBadRequest || !strings.Contains(string(body), "line ") {
			t.Errorf("POST /reload of a bad file: %d %s", st, snippet(body))
		}
	})
	t.Run("POST /reload", func(t *testing.T) {
		writeFile(t, routes, routesWith(t, oldPath, oldPath))
		st, _, body := do(t, http.MethodPost, "http://"+admin+"/reload", nil, nil)
		if st != http.StatusOK {
			t.Fatalf("POST /reload: %d %s", st, snippet(body))
		}
		if listAt("attachments") != http.StatusOK || listAt("files") != http.StatusNotFound {
			t.Errorf("after POST /reload: attachments %d, files %d", listAt("attachments"), listAt("files"))
		}
		text := metricsText(t, "http://"+admin+"/metrics")
		for series, want := range map[string]string{`dragoman_config_reloads_total{result="ok"}`: "2", `dragoman_config_reloads_total{result="error"}`: "2"} {
			if got, _ := sample(text, series); got != want {
				t.Errorf("%s = %q, want %s", series, got, want)
			}
		}
	})
}
