package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestApplySettings(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(file, []byte("listen: 127.0.0.1:9000\nrate_limit: 5\ncors_origins: [https://a.example, https://b.example]\nshutdown_timeout: 3s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(sc serveConfig) bool
	}{
		{"the file sets what no flag gives", nil, nil, func(sc serveConfig) bool {
			return sc.listen == "127.0.0.1:9000" && sc.rateLimit == 5 && sc.corsOrigins == "https://a.example,https://b.example" && sc.shutdownTimeout == 3*time.Second
		}},
		{"the environment overrides the file", nil, map[string]string{"DRAGOMAN_LISTEN": "127.0.0.1:9001", "DRAGOMAN_LOG_FORMAT": "json"}, func(sc serveConfig) bool {
			return sc.listen == "127.0.0.1:9001" && sc.logFormat == "json" && sc.rateLimit == 5
		}},
		{"a flag wins over both", []string{"--listen", "127.0.0.1:9002"}, map[string]string{"DRAGOMAN_LISTEN": "127.0.0.1:9001"}, func(sc serveConfig) bool {
			return sc.listen == "127.0.0.1:9002"
		}},
		{"defaults stay for the rest", nil, nil, func(sc serveConfig) bool {
			return sc.data == "./data" && sc.upstream == "bundled" && sc.accessLog && sc.metrics
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var sc serveConfig
			fs := serveFlags("serve", &sc, io.Discard, io.Discard)
			if _, code, ok := fs.parse(append(tc.args, "--config", file)); !ok {
				t.Fatalf("parse: exit %d", code)
			}
			env := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			if err := applySettings(fs.FlagSet, sc.config, env); err != nil {
				t.Fatal(err)
			}
			if !tc.check(sc) {
				t.Errorf("settings %+v", sc)
			}
		})
	}
}

func TestApplySettingsErrors(t *testing.T) {
	cases := []struct{ name, text, want string }{
		{"unknown key", "listen: x\nnope: 1\n", "line 2: unknown key \"nope\""},
		{"bad value", "rate_limit: many\n", "line 1: rate_limit: invalid value"},
		{"a key twice", "listen: a\nlisten: b\n", "line 2: \"listen\" is already set on line 1"},
		{"config inside config", "config: other.yaml\n", "line 1: unknown key \"config\""},
		{"not a mapping", "- a\n- b\n", "line 1: want a mapping"},
		{"a nested value", "listen: {a: 1}\n", "line 1: listen: want a value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "c.yaml")
			if err := os.WriteFile(file, []byte(tc.text), 0o600); err != nil {
				t.Fatal(err)
			}
			var sc serveConfig
			fs := serveFlags("serve", &sc, io.Discard, io.Discard)
			err := applySettings(fs.FlagSet, file, func(string) (string, bool) { return "", false })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
