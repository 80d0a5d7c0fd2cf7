package bundled

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

func rec(id string) upstream.RecordRef { return upstream.RecordRef{Collection: "tables", ID: id} }

// mustOpen opens the store in dir and closes it when the test ends (a test
// may close it earlier; a second Close is harmless).
func mustOpen(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustCreate(t testing.TB, s *Store, r upstream.RecordRef, name string, content []byte) upstream.Attachment {
	t.Helper()
	na := upstream.NewAttachment{Record: r, Field: "files", Name: name}
	var src io.Reader // a nil *bytes.Reader would not be a nil io.Reader
	if content != nil {
		src = bytes.NewReader(content)
	}
	a, err := s.Create(t.Context(), na, src)
	if err != nil {
		t.Fatalf("Create %q: %v", name, err)
	}
	return a
}

// files lists the regular files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return out
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
