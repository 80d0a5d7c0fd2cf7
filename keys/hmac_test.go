package keys

import (
	"crypto/hmac"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sign is what a client holding the secret computes.
func sign(secret, message string) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(message))
	return h.Sum(nil)
}

func TestAuthenticateHMAC(t *testing.T) {
	dir := t.TempDir()
	signer, err := Create(dir, "crm", true, []string{"Document"}, WithHMAC())
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Create(dir, "plain", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(signer) <= sha256.BlockSize || !strings.HasPrefix(signer, secretPrefix) {
		t.Fatalf("HMAC key secret %q: want dgk_ and more than %d bytes", signer, sha256.BlockSize)
	}
	r, err := OpenRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	const msg = "GET /Document/abc"
	tests := []struct {
		what, name, message string
		mac                 []byte
		want                bool
	}{
		{"signed with the secret", "crm", msg, sign(signer, msg), true},
		{"another message", "crm", "GET /Document/abd", sign(signer, msg), false},
		{"another key's secret", "crm", msg, sign(plain, msg), false},
		{"a key not made for HMAC", "plain", msg, sign(plain, msg), false},
		{"an unknown name", "nobody", msg, sign(signer, msg), false},
		{"a truncated MAC", "crm", msg, sign(signer, msg)[:31], false},
		{"no MAC", "crm", msg, nil, false},
	}
	for _, tc := range tests {
		k, ok := r.AuthenticateHMAC(tc.name, []byte(tc.message), tc.mac)
		if ok != tc.want {
			t.Errorf("%s: ok = %v, want %v", tc.what, ok, tc.want)
		}
		if ok && (k.Name != "crm" || !k.ReadOnly || !k.HMAC || len(k.Collections) != 1) {
			t.Errorf("%s: key %+v, want crm, read-only, limited to Document", tc.what, k)
		}
	}
	// The same key still works as a plain secret.
	if k, ok := r.Authenticate(signer); !ok || k.Name != "crm" {
		t.Errorf("Authenticate(HMAC key's secret) = %+v, %v", k, ok)
	}
	// keys.json holds the flag and the hash, never the secret.
	data, err := os.ReadFile(filepath.Join(dir, fileName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), signer) || !strings.Contains(string(data), `"hmac": true`) {
		t.Errorf("keys.json = %s, want the hmac flag and no secret", data)
	}
}

func TestAuthenticateHMACSeesNewKeys(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := Create(dir, "late", false, nil, WithHMAC())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.AuthenticateHMAC("late", []byte("POST /Attachment"), sign(secret, "POST /Attachment")); !ok {
		t.Fatal("a key created after the ring opened was not found")
	}
}

func TestRotateKeepsAKeyThatSigns(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(dir, "crm", false, nil, WithHMAC()); err != nil {
		t.Fatal(err)
	}
	secret, err := Rotate(dir, "crm")
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) <= 64 {
		t.Fatalf("rotated secret of a signing key is %d characters; HMAC needs more than 64", len(secret))
	}
	r, err := OpenRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("GET /Account"))
	if _, ok := r.AuthenticateHMAC("crm", []byte("GET /Account"), mac.Sum(nil)); !ok {
		t.Fatal("a request signed with the rotated secret is refused")
	}
}
