package keys

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestAuthenticateWrongSecret(t *testing.T) {
	dir := t.TempDir()
	secret, err := Create(dir, "ci", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	list, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	flip := []byte(secret)
	flip[len(flip)-1] ^= 1
	tests := []struct {
		name   string
		secret string
	}{
		{"empty", ""},
		{"prefix only", "dgk_"},
		{"last character changed", string(flip)},
		{"extra character", secret + "A"},
		{"truncated", secret[:len(secret)-1]},
		{"without prefix", strings.TrimPrefix(secret, "dgk_")},
		{"the stored hash", list[0].SecretSHA256},
		{"with spaces", " " + secret + " "},
	}
	r, err := OpenRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if k, ok := r.Authenticate(tt.secret); ok {
				t.Errorf("Authenticate(%q) matched %q", tt.secret, k.Name)
			}
		})
	}
	if _, ok := r.Authenticate(secret); !ok {
		t.Error("the right secret no longer matches")
	}
}

func TestAuthenticateManyKeys(t *testing.T) {
	dir := t.TempDir()
	secrets := map[string]string{}
	for i := range 5 {
		name := fmt.Sprintf("k%d", i)
		s, err := Create(dir, name, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		secrets[name] = s
	}
	r, err := OpenRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range secrets {
		if k, ok := r.Authenticate(s); !ok || k.Name != name {
			t.Errorf("secret of %s: got %q, %v", name, k.Name, ok)
		}
	}
}

func TestAuthenticateReturnsCopy(t *testing.T) {
	dir := t.TempDir()
	s, err := Create(dir, "k", false, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := r.Authenticate(s)
	k.Collections[0] = "b"
	if k, _ := r.Authenticate(s); k.Collections[0] != "a" {
		t.Errorf("changing a returned key changed the ring: %q", k.Collections)
	}
}

// TestReloadOnFirstUse: a key created after OpenRing works on its first use,
// whether the ring began with no file, an empty file, or other keys.
func TestReloadOnFirstUse(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string)
	}{
		{"no file", func(*testing.T, string) {}},
		{"other keys", func(t *testing.T, dir string) {
			if _, err := Create(dir, "old", false, nil); err != nil {
				t.Fatal(err)
			}
		}},
		{"after a miss", func(t *testing.T, dir string) {
			if _, err := Create(dir, "old", false, nil); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			r, err := OpenRing(dir)
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == "after a miss" {
				if _, ok := r.Authenticate("dgk_wrong"); ok {
					t.Fatal("a wrong secret matched")
				}
			}
			secret, err := Create(dir, "new", true, nil)
			if err != nil {
				t.Fatal(err)
			}
			k, ok := r.Authenticate(secret)
			if !ok || k.Name != "new" || !k.ReadOnly {
				t.Errorf("first use of a new key: %+v, %v", k, ok)
			}
		})
	}
}

// TestKeyCreatedRightAfterAReloadWorks: every authentication checks the
// file, so keys made one right after another work on their first use.
func TestKeyCreatedRightAfterAReloadWorks(t *testing.T) {
	dir := t.TempDir()
	r, err := OpenRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Authenticate("dgk_bad"); ok { // stats the file
		t.Fatal("a bad secret matched")
	}
	for _, name := range []string{"new", "newer", "newest"} {
		secret, err := Create(dir, name, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if k, ok := r.Authenticate(secret); !ok || k.Name != name {
			t.Errorf("first use of %s, made right after the last reload: %q, %v", name, k.Name, ok)
		}
	}
}

func TestReloadKeepsKeysOnBadFile(t *testing.T) {
	dir := t.TempDir()
	secret, err := Create(dir, "ci", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fileName)
	if err := os.WriteFile(path, []byte("[{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Authenticate("dgk_miss"); ok { // reloads and fails
		t.Fatal("a bad secret matched")
	}
	if err := r.Reload(); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Reload of a corrupt file: %v, want an error naming %s", err, path)
	}
	if _, ok := r.Authenticate(secret); !ok {
		t.Error("a corrupt file on reload dropped the keys already loaded")
	}
}

func TestReloadDropsRemovedKey(t *testing.T) {
	dir := t.TempDir()
	secret, err := Create(dir, "ci", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, fileName), []byte("[]"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Authenticate(secret); ok {
		t.Error("a removed key still matches after Reload")
	}
}

// TestAuthenticateConcurrent runs Authenticate from many goroutines, hits and
// misses, while keys are created and revoked; run it with -race. Each new
// key must work on its first use.
func TestAuthenticateConcurrent(t *testing.T) {
	dir := t.TempDir()
	base, err := Create(dir, "base", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for i := range 8 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, ok := r.Authenticate(base); !ok {
					t.Error("the base key stopped matching")
					return
				}
				if _, ok := r.Authenticate(fmt.Sprintf("dgk_bad%d", i)); ok {
					t.Error("a bad secret matched")
					return
				}
			}
		})
	}
	var writers sync.WaitGroup
	for i := range 4 {
		writers.Go(func() {
			for j := range 5 {
				name := fmt.Sprintf("w%d-%d", i, j)
				s, err := Create(dir, name, false, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if k, ok := r.Authenticate(s); !ok || k.Name != name {
					t.Errorf("first use of %s: %q, %v", name, k.Name, ok)
				}
				if j%2 == 1 {
					if err := Revoke(dir, name); err != nil {
						t.Error(err)
						return
					}
					if _, ok := r.Authenticate(s); ok {
						t.Errorf("%s still works once revoked", name)
					}
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
}

func BenchmarkAuthenticate(b *testing.B) {
	dir := b.TempDir()
	var secrets []string
	for i := range 10 {
		s, err := Create(dir, fmt.Sprintf("k%d", i), i%2 == 0, nil)
		if err != nil {
			b.Fatal(err)
		}
		secrets = append(secrets, s)
	}
	r, err := OpenRing(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("hit", func(b *testing.B) {
		for b.Loop() {
			if _, ok := r.Authenticate(secrets[7]); !ok {
				b.Fatal("no match")
			}
		}
	})
	b.Run("miss", func(b *testing.B) {
		for b.Loop() {
			if _, ok := r.Authenticate("dgk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); ok {
				b.Fatal("match")
			}
		}
	})
	// The freshness check alone: what each authentication pays to see a
	// revocation at once.
	b.Run("stat", func(b *testing.B) {
		for b.Loop() {
			r.reloadIfChanged()
		}
	})
	b.Run("hit-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, ok := r.Authenticate(secrets[3]); !ok {
					b.Error("no match")
					return
				}
			}
		})
	})
}
