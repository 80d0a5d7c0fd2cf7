package keys

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestRevokeAndRotateTakeEffectAtOnce: a ring opened before the change
// sees it on the next Authenticate, with no Reload.
func TestRevokeAndRotateTakeEffectAtOnce(t *testing.T) {
	dir := t.TempDir()
	keep, err := Create(dir, "keep", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := Create(dir, "gone", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	old, err := Create(dir, "turn", true, []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := r.Authenticate(old)

	if err := Revoke(dir, "gone"); err != nil {
		t.Fatal(err)
	}
	if k, ok := r.Authenticate(gone); ok {
		t.Errorf("a revoked key still authenticates as %q", k.Name)
	}
	fresh, err := Rotate(dir, "turn")
	if err != nil {
		t.Fatal(err)
	}
	checkSecretFormat(t, fresh)
	if _, ok := r.Authenticate(old); ok {
		t.Error("the secret a rotation replaced still authenticates")
	}
	k, ok := r.Authenticate(fresh)
	if !ok || k.Name != "turn" || !k.ReadOnly || !slices.Equal(k.Collections, []string{"a", "b"}) || !k.Created.Equal(before.Created) {
		t.Errorf("the rotated key is %+v, %v; want %+v with a new secret", k, ok, before)
	}
	if _, ok := r.Authenticate(keep); !ok {
		t.Error("a key nobody touched stopped working")
	}
	list, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, k := range list {
		names = append(names, k.Name)
	}
	if !slices.Equal(names, []string{"keep", "turn"}) {
		t.Errorf("keys left: %q", names)
	}
}

func TestChangeRefuses(t *testing.T) {
	withKey := func(t *testing.T) string {
		dir := t.TempDir()
		if _, err := Create(dir, "ci", false, nil); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	noStore := func(t *testing.T) string { return t.TempDir() }
	revoke := func(dir, name string) error { return Revoke(dir, name) }
	rotate := func(dir, name string) error {
		s, err := Rotate(dir, name)
		if err != nil && s != "" {
			return errors.New("Rotate returned a secret with its error")
		}
		return err
	}
	tests := []struct {
		name   string
		setup  func(*testing.T) string
		change func(dir, name string) error
		key    string
		want   error
	}{
		{"revoke an unknown name", withKey, revoke, "nobody", ErrNoSuchKey},
		{"rotate an unknown name", withKey, rotate, "nobody", ErrNoSuchKey},
		{"revoke with no key store", noStore, revoke, "ci", ErrNoStore},
		{"rotate with no key store", noStore, rotate, "ci", ErrNoStore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.setup(t)
			before := listDir(t, dir)
			if err := tt.change(dir, tt.key); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if after := listDir(t, dir); !slices.Equal(before, after) {
				t.Errorf("a refused change touched the directory: %q, then %q", before, after)
			}
		})
	}
}

// listDir names each file of dir with its content, to see that nothing changed.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e.Name()+"="+string(b))
	}
	return out
}
