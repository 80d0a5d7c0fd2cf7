package keys

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestCreate(t *testing.T) {
	tests := []struct {
		name            string
		readOnly        bool
		collections     []string
		wantCollections []string
	}{
		{"all", false, nil, nil},
		{"reader", true, nil, nil},
		{"scoped", false, []string{" invoices ", "", "assets", "  "}, []string{"invoices", "assets"}},
		{"blank scope means all", true, []string{"", " "}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data", "nested")
			secret, err := Create(dir, tt.name, tt.readOnly, tt.collections)
			if err != nil {
				t.Fatal(err)
			}
			checkSecretFormat(t, secret)

			r, err := OpenRing(dir)
			if err != nil {
				t.Fatal(err)
			}
			k, ok := r.Authenticate(secret)
			if !ok {
				t.Fatal("Authenticate: no match for a new key")
			}
			if k.Name != tt.name || k.ReadOnly != tt.readOnly || !slices.Equal(k.Collections, tt.wantCollections) {
				t.Errorf("key = %+v, want name %q read-only %v collections %q", k, tt.name, tt.readOnly, tt.wantCollections)
			}
			if k.Created.IsZero() {
				t.Error("Created is zero")
			}

			list, err := List(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || list[0].Name != tt.name || !list[0].Created.Equal(k.Created) {
				t.Errorf("List = %+v, want the one key %q", list, tt.name)
			}
		})
	}
}

func checkSecretFormat(t *testing.T, secret string) {
	t.Helper()
	rest, ok := strings.CutPrefix(secret, "dgk_")
	if !ok {
		t.Fatalf("secret %q lacks the dgk_ prefix", secret)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(b) != 32 {
		t.Fatalf("secret %q: want 32 bytes of unpadded base64url, got %d bytes, err %v", secret, len(b), err)
	}
}

func TestCreateRejects(t *testing.T) {
	tests := []struct {
		name    string
		keyName string
		wantErr error
	}{
		{"duplicate name", "ci", ErrNameTaken},
		{"empty name", "", ErrInvalidName},
		{"long name", strings.Repeat("x", 65), ErrInvalidName},
		{"control character", "a\x1bb", ErrInvalidName},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			first, err := Create(dir, "ci", false, nil)
			if err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(filepath.Join(dir, fileName))
			if err != nil {
				t.Fatal(err)
			}
			secret, err := Create(dir, tt.keyName, true, nil)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Create(%q) = %q, %v; want %v", tt.keyName, secret, err, tt.wantErr)
			}
			if secret != "" {
				t.Errorf("Create returned secret %q with an error", secret)
			}
			after, err := os.ReadFile(filepath.Join(dir, fileName))
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != string(before) {
				t.Errorf("keys.json changed on a rejected Create:\n%s", after)
			}
			r, err := OpenRing(dir)
			if err != nil {
				t.Fatal(err)
			}
			if k, ok := r.Authenticate(first); !ok || k.ReadOnly {
				t.Errorf("the first key was disturbed: %+v, %v", k, ok)
			}
		})
	}
}

func TestCreateConcurrent(t *testing.T) {
	const n = 8
	dir := t.TempDir()
	secrets := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			secrets[i], errs[i] = Create(dir, "key-"+string(rune('a'+i)), i%2 == 0, nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Create %d: %v", i, err)
		}
	}

	list, err := List(dir)
	if err != nil {
		t.Fatalf("List after concurrent Create: %v", err)
	}
	if len(list) != n {
		t.Fatalf("List has %d keys, want %d: %+v", len(list), n, list)
	}
	r, err := OpenRing(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range secrets {
		k, ok := r.Authenticate(s)
		if want := "key-" + string(rune('a'+i)); !ok || k.Name != want {
			t.Errorf("secret %d: got %q, %v; want %q", i, k.Name, ok, want)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != fileName && e.Name() != lockName {
			t.Errorf("left behind in the key dir: %s", e.Name())
		}
	}
}

func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	if _, err := Create(dir, "a", false, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(dir, "b", false, nil); err != nil { // the rewrite keeps the mode
		t.Fatal(err)
	}
	for _, tt := range []struct {
		path string
		want os.FileMode
	}{
		{dir, 0o700 | os.ModeDir},
		{filepath.Join(dir, fileName), 0o600},
		{filepath.Join(dir, lockName), 0o600},
	} {
		fi, err := os.Stat(tt.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != tt.want {
			t.Errorf("%s: mode %v, want %v", tt.path, fi.Mode(), tt.want)
		}
	}
}

func TestSecretNotStored(t *testing.T) {
	dir := t.TempDir()
	var secrets []string
	for _, name := range []string{"a", "b", "c"} {
		s, err := Create(dir, name, false, []string{"x"})
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s)
	}
	data, err := os.ReadFile(filepath.Join(dir, fileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secrets {
		body := strings.TrimPrefix(s, "dgk_")
		raw, _ := base64.RawURLEncoding.DecodeString(body)
		for _, leak := range []string{s, body, base64.StdEncoding.EncodeToString(raw)} {
			if strings.Contains(string(data), leak) {
				t.Errorf("keys.json holds the secret (%q):\n%s", leak, data)
			}
		}
	}
}

func TestCorruptFile(t *testing.T) {
	const good = `{"name":"a","read_only":false,"created":"2025-01-01T00:00:00Z","secret_sha256":"` +
		"0000000000000000000000000000000000000000000000000000000000000000" + `"}`
	tests := []struct {
		name    string
		content string
		want    string // also in the error
	}{
		{"not JSON", "hello", "line 1"},
		{"broken on line 3", "[\n" + good + ",\n{\"name\": }\n]", "line 3"},
		{"empty file", "", "empty"},
		{"object, not array", `{"name":"a"}`, "cannot unmarshal"},
		{"null", "null", "not a JSON array"},
		{"trailing data", "[]\n[]", "after the array"},
		{"unknown field", `[{"name":"a","secret":"dgk_x"}]`, "unknown field"},
		{"short hash", `[{"name":"a","secret_sha256":"abcd"}]`, "secret_sha256"},
		{"bad hash", `[{"name":"a","secret_sha256":"` + strings.Repeat("zz", 32) + `"}]`, "secret_sha256"},
		{"empty name", `[{"name":"","secret_sha256":"` + strings.Repeat("00", 32) + `"}]`, "key name"},
		{"duplicate names", "[" + good + "," + good + "]", "already exists"},
		{"blank collection", `[{"name":"a","collections":[" "],"secret_sha256":"` + strings.Repeat("00", 32) + `"}]`, "collection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, fileName)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, openErr := OpenRing(dir)
			_, listErr := List(dir)
			secret, createErr := Create(dir, "new", false, nil)
			for what, err := range map[string]error{"OpenRing": openErr, "List": listErr, "Create": createErr} {
				if err == nil {
					t.Errorf("%s: no error", what)
					continue
				}
				if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("%s: error %q, want it to name %s and say %q", what, err, path, tt.want)
				}
			}
			if secret != "" {
				t.Error("Create returned a secret")
			}
			if data, _ := os.ReadFile(path); string(data) != tt.content {
				t.Error("Create overwrote a corrupt keys.json")
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	dir := t.TempDir()
	list, err := List(filepath.Join(dir, "absent"))
	if !errors.Is(err, ErrNoStore) || len(list) != 0 {
		t.Errorf("List of a missing dir = %v, %v; want ErrNoStore", list, err)
	}
	r, err := OpenRing(filepath.Join(dir, "absent"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Authenticate("dgk_anything"); ok {
		t.Error("an empty ring authenticated a secret")
	}
}

// TestStatStampMatchesTheFileRead: the stamp each authentication takes
// must equal the one of the version read, or every request would reread
// keys.json (or, worse, none would).
func TestStatStampMatchesTheFileRead(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(dir, "a", false, nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fileName)
	_, read, err := readFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := statFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != read || !got.exists || got.ino == 0 || got.mtime == 0 {
		t.Fatalf("stat gave %+v, the read %+v", got, read)
	}
	if missing, err := statFile(filepath.Join(dir, "none.json")); err != nil || missing != (stamp{}) {
		t.Fatalf("a missing file: %+v, %v; want the zero stamp", missing, err)
	}
}

// BenchmarkLookup authenticates one key of ten as every request does:
// the stat of keys.json, the hash and the compare, and no garbage.
func BenchmarkLookup(b *testing.B) {
	dir := b.TempDir()
	var secret string
	for i := range 10 {
		s, err := Create(dir, fmt.Sprintf("k%d", i), false, []string{"c"})
		if err != nil {
			b.Fatal(err)
		}
		secret = s
	}
	r, err := OpenRing(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := r.Lookup(secret); !ok {
			b.Fatal("the key is not found")
		}
	}
}
