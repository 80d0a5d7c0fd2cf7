package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestScaleOutKeysListAndRotate runs keys list and keys rotate against
// the PostgreSQL store of two running gateways: list shows every key (and
// no secret), a rotation's new secret works through both gateways and the
// old one stops within a second, and an unknown key is refused.
func TestScaleOutKeysListAndRotate(t *testing.T) {
	b := backends.Get(t)
	for _, kv := range b.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	db := []string{"--upstream", b.DatabaseURL}
	code, _, stderr := dragoman(t, append([]string{"keys", "list"}, db...)...)
	if code != 0 || !strings.Contains(stderr, "no keys in the PostgreSQL store") {
		t.Errorf("keys list of a new database: exit %d stderr %q", code, stderr)
	}
	alice := (&gateway{data: t.TempDir()}).key(t, "alice", db...)
	bob := (&gateway{data: t.TempDir()}).key(t, "bob", append([]string{"--read-only", "--collections", "inv,hr"}, db...)...)
	args := append(db, "--blobs", b.BlobsURL, "--s3-endpoint", b.S3.Endpoint, "--rate-limit", "0")
	gws := []*gateway{startGateway(t, args...), startGateway(t, args...)}

	code, stdout, stderr := dragoman(t, append([]string{"keys", "list"}, db...)...)
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "alice\tread-write\tall collections\t") ||
		!strings.HasPrefix(lines[1], "bob\tread-only\tinv,hr\t") {
		t.Fatalf("keys list: exit %d stdout %q stderr %q", code, stdout, stderr)
	}
	if strings.Contains(stdout, alice) || strings.Contains(stdout, bob) {
		t.Fatalf("keys list shows a secret: %q", stdout)
	}

	status := func(gw *gateway, key string) int {
		st, _, _ := do(t, http.MethodGet, nx{gw, key}.attachments("inv", "1"), bearer(key), nil)
		return st
	}
	code, stdout, stderr = dragoman(t, append([]string{"keys", "rotate"}, append(db, "alice")...)...)
	if code != 0 || !regexp.MustCompile(`^dgk_[A-Za-z0-9_-]{43}\n$`).MatchString(stdout) {
		t.Fatalf("keys rotate: exit %d stdout %q stderr %q; want the new secret alone on one line", code, stdout, stderr)
	}
	rotated := strings.TrimSpace(stdout)
	for _, gw := range gws {
		deadline := time.Now().Add(3 * time.Second)
		for status(gw, alice) != http.StatusUnauthorized || status(gw, rotated) == http.StatusUnauthorized {
			if time.Now().After(deadline) {
				t.Fatalf("gateway %s: the old secret %d, the new %d, 3 s after the rotation", gw.addr, status(gw, alice), status(gw, rotated))
			}
			time.Sleep(50 * time.Millisecond)
		}
		if st := status(gw, bob); st == http.StatusUnauthorized {
			t.Errorf("gateway %s: bob's key refused after alice's rotation", gw.addr)
		}
	}
	nx{gws[0], rotated}.upload(t, "inv", "1", "", "after-rotate.txt", []byte("still read-write"), "text/plain")

	code, _, stderr = dragoman(t, append([]string{"keys", "rotate"}, append(db, "nobody")...)...)
	if code != 1 || !strings.Contains(stderr, "no such key") {
		t.Errorf("keys rotate of an unknown key: exit %d stderr %q, want 1 and 'no such key'", code, stderr)
	}
	code, stdout, _ = dragoman(t, append([]string{"keys", "list"}, db...)...)
	if code != 0 || !strings.HasPrefix(stdout, "alice\tread-write\tall collections\t") {
		t.Errorf("keys list after the rotation: %q", stdout)
	}
}
