package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// dragoman runs the binary with args and returns its exit code and output.
func dragoman(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return dragomanAt(t, binary, args...)
}

func dragomanAt(t testing.TB, bin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	cmd.Dir = t.TempDir()
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	}
	if err != nil {
		t.Fatalf("dragoman %s: %v", strings.Join(args, " "), err)
	}
	return 0, out.String(), errOut.String()
}

// TestCLIRefusesWhatItDoesNotUnderstand: the command lines of the report
// that found flags silently dropped, and the help every command gives.
func TestCLIRefusesWhatItDoesNotUnderstand(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	cases := []struct {
		name     string
		args     []string
		code     int
		stdoutRE string
		stderrRE string
	}{
		{"a stray word before a flag", []string{"keys", "create", "--data", data, "--name", "ro1", "extra", "--read-only"}, 2, `^$`, `unexpected argument "extra"`},
		{"a stray word in serve", []string{"serve", "extra", "--listen", "127.0.0.1:1"}, 2, `^$`, `dragoman serve: unexpected argument "extra"`},
		{"an unknown flag", []string{"keys", "list", "--data", data, "--verbose"}, 2, `^$`, `flag provided but not defined: -verbose`},
		{"a missing argument", []string{"keys", "revoke", "--data", data}, 2, `^$`, `missing NAME`},
		{"an unknown command", []string{"frobnicate"}, 2, `^$`, `unknown command "frobnicate"`},
		{"an unknown subcommand", []string{"keys", "frobnicate"}, 2, `^$`, `dragoman keys: unknown command "frobnicate"`},
		{"serve -h", []string{"serve", "-h"}, 0, `(?s)usage: dragoman serve .*-listen string.*default "127.0.0.1:8080"`, `^$`},
		{"keys create --help", []string{"keys", "create", "--help"}, 0, `(?s)usage: dragoman keys create .*-read-only`, `^$`},
		{"top-level help", []string{"--help"}, 0, `(?s)serve .*keys create .*keys list .*keys revoke .*keys rotate .*routes check .*verify .*backup .*restore .*version `, `^$`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := dragoman(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tc.code, stderr)
			}
			if !regexp.MustCompile(tc.stdoutRE).MatchString(stdout) {
				t.Errorf("stdout %q does not match %s", stdout, tc.stdoutRE)
			}
			if !regexp.MustCompile(tc.stderrRE).MatchString(stderr) {
				t.Errorf("stderr %q does not match %s", stderr, tc.stderrRE)
			}
		})
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("refused command lines created %s (stat: %v)", data, err)
	}
}

// TestVersion: the vcs stamp, or "unknown" in a build without one (the
// -ldflags override is TestStaticBuildRunsAsTheImageDoes's).
func TestVersion(t *testing.T) {
	code, stdout, stderr := dragoman(t, "version")
	if code != 0 || !regexp.MustCompile(`^dragoman \S+ commit ([0-9a-f]{40}|unknown)( \(\S+\))?( with uncommitted changes)?\n$`).MatchString(stdout) {
		t.Fatalf("version: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
}

// TestKeysRevokeAndRotateOnARunningServer: the server honours both from
// the very next request, with no restart and no signal.
func TestKeysRevokeAndRotateOnARunningServer(t *testing.T) {
	gw := startGateway(t)
	alice := nx{gw: gw, key: gw.key(t, "alice")}
	bob := nx{gw: gw, key: gw.key(t, "bob", "--read-only")}
	alice.upload(t, "inv", "1", "", "a.txt", []byte("hello"), "text/plain")
	if got := len(bob.list(t, "inv", "1")); got != 1 {
		t.Fatalf("bob lists %d files, want 1", got)
	}
	refused := func(c nx, what string) {
		t.Helper()
		status, _, body := do(t, http.MethodGet, c.attachments("inv", "1"), bearer(c.key), nil)
		if status != http.StatusUnauthorized {
			t.Errorf("%s: status %d %s, want 401", what, status, snippet(body))
		}
	}

	if code, _, stderr := dragoman(t, "keys", "revoke", "--data", gw.data, "bob"); code != 0 {
		t.Fatalf("keys revoke: exit %d: %s", code, stderr)
	}
	refused(bob, "the revoked key")
	alice.list(t, "inv", "1") // the other key still works

	code, stdout, stderr := dragoman(t, "keys", "rotate", "--data", gw.data, "alice")
	if code != 0 || !regexp.MustCompile(`^dgk_[A-Za-z0-9_-]{43}\n$`).MatchString(stdout) {
		t.Fatalf("keys rotate: exit %d stdout %q stderr %q; want the new secret alone on one line", code, stdout, stderr)
	}
	refused(alice, "the secret a rotation replaced")
	rotated := nx{gw: gw, key: strings.TrimSpace(stdout)}
	if got := rotated.list(t, "inv", "1"); len(got) != 1 {
		t.Errorf("the rotated key lists %d files, want 1", len(got))
	}
	rotated.upload(t, "inv", "1", "", "b.txt", []byte("still read-write"), "text/plain")

	_, stdout, _ = dragoman(t, "keys", "list", "--data", gw.data)
	if !strings.HasPrefix(stdout, "alice\tread-write\tall collections\t") || strings.Contains(stdout, "bob") {
		t.Errorf("keys list after revoke and rotate: %q", stdout)
	}
	for _, args := range [][]string{{"revoke", "bob"}, {"rotate", "nobody"}} {
		code, _, stderr := dragoman(t, append([]string{"keys", args[0], "--data", gw.data}, args[1:]...)...)
		if code != 1 || !strings.Contains(stderr, "no such key") {
			t.Errorf("keys %s of an unknown key: exit %d stderr %q, want 1 and 'no such key'", args[0], code, stderr)
		}
	}
}

func TestKeysListSaysWhenThereIsNoKeyStore(t *testing.T) {
	empty := t.TempDir()
	code, stdout, stderr := dragoman(t, "keys", "list", "--data", empty)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "no key store in "+empty) {
		t.Errorf("keys list on a dir with no keys.json: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(empty, "keys.lock")); !os.IsNotExist(err) {
		t.Errorf("keys list left a lock file behind (stat: %v)", err)
	}
	if _, err := exec.Command(binary, "keys", "create", "--data", empty, "--name", "only").Output(); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := dragoman(t, "keys", "revoke", "--data", empty, "only"); code != 0 {
		t.Fatalf("keys revoke: exit %d: %s", code, stderr)
	}
	code, stdout, stderr = dragoman(t, "keys", "list", "--data", empty)
	if code != 0 || stdout != "" || !strings.Contains(stderr, "no keys in "+empty) {
		t.Errorf("keys list with every key revoked: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
}
