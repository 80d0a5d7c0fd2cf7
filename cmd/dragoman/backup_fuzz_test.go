package main

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream/bundled"
)

// FuzzUnpackBackup feeds restore's archive reader arbitrary bytes: it must
// never panic, and never write outside the directory it is given.
func FuzzUnpackBackup(f *testing.F) {
	var escape bytes.Buffer
	tw := tar.NewWriter(&escape)
	for _, name := range []string{"../outside", "store/../../outside", "/abs", "store/blobs/01/0123456789abcdef"} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: 1, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
	}
	tw.WriteHeader(&tar.Header{Name: "store/blobs/ab/link", Linkname: "/etc/passwd", Typeflag: tar.TypeSymlink})
	tw.Close()
	f.Add(escape.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		dir := filepath.Join(parent, "restore")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		unpackBackup(bytes.NewReader(data), dir)
		entries, err := os.ReadDir(parent)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 {
			t.Fatalf("unpacking wrote beside its directory: %v", entries)
		}
		filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type()&os.ModeSymlink != 0 {
				t.Errorf("unpacking made a symlink %s", strings.TrimPrefix(p, dir))
			}
			return nil
		})
	})
}

// TestUnpackBackupRoundTrip: what writeBackup writes, unpackBackup reads
// back, and a copy cut short fails the check.
func TestUnpackBackupRoundTrip(t *testing.T) {
	data := t.TempDir()
	if code := run([]string{"keys", "create", "--data", data, "--name", "a"}, new(bytes.Buffer), new(bytes.Buffer)); code != 0 {
		t.Fatal("keys create failed")
	}
	store, err := openStoreOfflineOrNew(t, data)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m, err := writeBackup(t.Context(), store, data, &buf)
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	got, err := unpackBackup(bytes.NewReader(buf.Bytes()), t.TempDir())
	if err != nil {
		t.Fatalf("unpack a fresh backup: %v", err)
	}
	if got.Blobs != m.Blobs || strings.Join(got.Files, ",") != "keys.json" {
		t.Errorf("unpacked manifest %+v, wrote %+v", got, m)
	}
	if _, err := copyCheckedBackup(new(bytes.Buffer), bytes.NewReader(buf.Bytes()[:buf.Len()-1500])); err == nil {
		t.Error("a backup cut short passed the check")
	}
}

// openStoreOfflineOrNew opens (creating) the bundled store of data.
func openStoreOfflineOrNew(t *testing.T, data string) (*bundled.Store, error) {
	t.Helper()
	return bundled.Open(filepath.Join(data, "store"))
}
