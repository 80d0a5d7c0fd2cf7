package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestRoutesCheck(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\ndialects:\n  x:\n    mount: /x\n    nonsense: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderrRE string
	}{
		{"embedded routes are valid", []string{"routes", "check"}, 0, "ok: 5 dialects", ""},
		{"repository routes.yaml is valid", []string{"routes", "check", "--routes", "../../routes.yaml"}, 0, "ok: 5 dialects", ""},
		{"a bad file names its line", []string{"routes", "check", "--routes", bad}, 1, "", "bad\\.yaml: line 5: unknown key `nonsense` in dialect x; the keys here are "},
		{"a missing file", []string{"routes", "check", "--routes", filepath.Join(dir, "nope.yaml")}, 1, "", `no such file`},
		{"a stray word after routes check", []string{"routes", "check", "routes.yaml"}, 2, "", `unexpected argument "routes.yaml"\nusage: dragoman routes check \[--routes FILE\]`},
		{"routes check -h", []string{"routes", "check", "-h"}, 0, "-routes", ``},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"a bad heap floor", []string{"serve", "--data", filepath.Join(dir, "data"), "--heap-floor", "lots"}, 2, "", `invalid value "lots" for flag -heap-floor: bad size "lots"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tc.stdout)
			}
			if tc.stderrRE != "" && !regexp.MustCompile(tc.stderrRE).MatchString(stderr.String()) {
				t.Errorf("stderr %q does not match %s", stderr.String(), tc.stderrRE)
			}
		})
	}
}

func TestKeysCreatePrintsTheSecretAlone(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run([]string{"keys", "create", "--data", dir, "--name", "ci", "--read-only", "--collections", "a,b"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !regexp.MustCompile(`^dgk_[A-Za-z0-9_-]{43}\n$`).MatchString(stdout.String()) {
		t.Fatalf("stdout %q is not one secret alone on one line", stdout.String())
	}
	secret := strings.TrimSpace(stdout.String())
	stored, err := os.ReadFile(filepath.Join(dir, "keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, []byte(secret)) || bytes.Contains(stored, []byte(secret[4:])) {
		t.Fatal("keys.json holds the secret itself")
	}
	stdout.Reset()
	if code := run([]string{"keys", "list", "--data", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("keys list: exit %d", code)
	}
	if got := stdout.String(); !strings.Contains(got, "ci\tread-only\ta,b") || strings.Contains(got, secret) {
		t.Fatalf("keys list printed %q", got)
	}
	if code := run([]string{"keys", "create", "--data", dir, "--name", "ci"}, &stdout, &stderr); code == 0 {
		t.Fatal("a second key with the same name was created")
	}
}
