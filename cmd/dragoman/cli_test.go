package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// TestEveryCommandIsStrict runs each command of the usage with -h, an
// unknown flag and stray words: a command added to commands() is held to
// the same rules without a test of its own.
func TestEveryCommandIsStrict(t *testing.T) {
	top := usage("")
	for _, c := range commands() {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(top, "  "+c.name+" ") {
				t.Errorf("the top-level usage does not list %q:\n%s", c.name, top)
			}
			words := strings.Fields(c.name)
			for _, help := range []string{"-h", "--help"} {
				var stdout, stderr bytes.Buffer
				if code := run(append(slices.Clone(words), help), &stdout, &stderr); code != 0 {
					t.Errorf("%s %s: exit %d, want 0; stderr %q", c.name, help, code, stderr.String())
				}
				if !strings.HasPrefix(stdout.String(), "usage: dragoman "+c.name) {
					t.Errorf("%s %s printed %q, want its usage line", c.name, help, stdout.String())
				}
			}
			// The unknown flag comes after a stray word, as in the report
			// that found flags silently dropped after one.
			for _, bad := range [][]string{
				{"--no-such-flag"},
				{"stray-1", "stray-2", "stray-3", "stray-4", "stray-5"},
				{"stray", "--no-such-flag"},
			} {
				var stdout, stderr bytes.Buffer
				code := run(append(slices.Clone(words), bad...), &stdout, &stderr)
				if code != 2 {
					t.Errorf("%s %v: exit %d, want 2", c.name, bad, code)
				}
				if msg := stderr.String(); !strings.HasPrefix(msg, "dragoman "+c.name+": ") || !strings.Contains(msg, "usage: dragoman "+c.name) {
					t.Errorf("%s %v: stderr %q, want the command's name, the mistake and its usage", c.name, bad, msg)
				}
				if stdout.Len() != 0 {
					t.Errorf("%s %v: printed %q on stdout", c.name, bad, stdout.String())
				}
			}
		})
	}
}

func TestStrayWordKeepsLaterFlags(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"keys", "create", "--data", dir, "--name", "ro1", "extra", "--read-only"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), `unexpected argument "extra"`) {
		t.Fatalf("exit %d, stderr %q; want 2 and the stray word named", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "keys.json")); !os.IsNotExist(err) {
		t.Fatalf("a refused command line wrote keys.json (stat: %v)", err)
	}
}

func TestParseFlags(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		want     []string // positional names asked for
		code     int
		ok       bool
		pos      []string
		data     string
		readOnly bool
		stderr   string
	}{
		{"flags then word", []string{"--data", "d", "NAME"}, []string{"NAME"}, 0, true, []string{"NAME"}, "d", false, ""},
		{"word then flags", []string{"NAME", "--data", "d", "--read-only"}, []string{"NAME"}, 0, true, []string{"NAME"}, "d", true, ""},
		{"double dash makes words of flags", []string{"--data", "d", "--", "--read-only"}, []string{"NAME"}, 0, true, []string{"--read-only"}, "d", false, ""},
		{"missing word", []string{"--data", "d"}, []string{"NAME"}, 2, false, nil, "", false, "missing NAME"},
		{"one word too many", []string{"a", "b"}, []string{"NAME"}, 2, false, nil, "", false, `unexpected argument "b"`},
		{"no words wanted", []string{"a"}, nil, 2, false, nil, "", false, `unexpected argument "a"`},
		{"bad bool", []string{"--read-only=maybe", "a"}, []string{"NAME"}, 2, false, nil, "", false, `invalid boolean value "maybe"`},
		{"flag without value", []string{"a", "--data"}, []string{"NAME"}, 2, false, nil, "", false, "flag needs an argument: -data"},
		{"help among words", []string{"a", "-h"}, []string{"NAME"}, 0, false, nil, "", false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			fs := newFlags("test cmd", "[--data DIR] [--read-only] NAME", &stdout, &stderr)
			data := fs.String("data", "", "a directory")
			readOnly := fs.Bool("read-only", false, "a switch")
			pos, code, ok := fs.parse(tc.args, tc.want...)
			if code != tc.code || ok != tc.ok {
				t.Fatalf("parse = code %d ok %v, want %d %v; stderr %q", code, ok, tc.code, tc.ok, stderr.String())
			}
			if !ok {
				if tc.stderr != "" && !strings.Contains(stderr.String(), tc.stderr) {
					t.Errorf("stderr %q does not say %q", stderr.String(), tc.stderr)
				}
				return
			}
			if !slices.Equal(pos, tc.pos) || *data != tc.data || *readOnly != tc.readOnly {
				t.Errorf("got %q data %q read-only %v, want %q %q %v", pos, *data, *readOnly, tc.pos, tc.data, tc.readOnly)
			}
		})
	}
}

func TestHelpListsFlags(t *testing.T) {
	var stdout bytes.Buffer
	if code := run([]string{"keys", "create", "--help"}, &stdout, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"usage: dragoman keys create --data DIR --name NAME", "-read-only", "-collections", `(default "./data")`} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stdout.String())
		}
	}
}

func TestGroups(t *testing.T) {
	cases := []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"keys"}, 2, "", "dragoman keys COMMAND"},
		{[]string{"keys", "-h"}, 0, "keys create", ""},
		{[]string{"keys", "frob"}, 2, "", `dragoman keys: unknown command "frob"`},
		{[]string{"routes", "--help"}, 0, "routes matrix", ""},
		{[]string{"help"}, 0, "keys list", ""},
		{nil, 2, "", "Commands:"},
	}
	for _, tc := range cases {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%q: exit %d stdout %q stderr %q; want %d, %q, %q", tc.args, code, stdout.String(), stderr.String(), tc.code, tc.stdout, tc.stderr)
		}
	}
}

func TestReadBuildVersion(t *testing.T) {
	info := &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abc"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	cases := []struct {
		name            string
		info            *debug.BuildInfo
		ok              bool
		ldVersion, ldCo string
		want            string
	}{
		{"no build info", nil, false, "", "", "dragoman (devel) commit unknown"},
		{"vcs stamp", info, true, "", "", "dragoman v1.4.0 commit 0123abc (2026-01-02T03:04:05Z) with uncommitted changes"},
		{"ldflags win", info, true, "v2.0.0", "feedbeef", "dragoman v2.0.0 commit feedbeef"},
		{"devel build", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "", "", "dragoman (devel) commit unknown"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := readBuildVersion(tc.info, tc.ok, tc.ldVersion, tc.ldCo).String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestControlPathTooLong(t *testing.T) {
	long := "/" + strings.Repeat("d", maxSocketPath)
	if _, err := controlPath(long); err == nil || !strings.Contains(err.Error(), "a symlink to the dir will do") {
		t.Errorf("a data dir too long for a socket: %v", err)
	}
	if _, err := dialControl(long); err == nil {
		t.Error("dialControl took a path no socket can have")
	}
	if p, err := controlPath("./data"); err != nil || p != "data/control.sock" {
		t.Errorf("controlPath(./data) = %q, %v", p, err)
	}
}
