package bundled

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRecoveryRemovesTmpAndOrphans(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := mustOpen(t, dir)
	kept := mustCreate(t, s, rec("r"), "kept", []byte("kept"))
	ph := mustCreate(t, s, rec("r"), "placeholder", nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	plant := func(rel string) string {
		t.Helper()
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("junk"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// What crashes leave.
	tmpFiles := []string{plant("tmp/upload-123"), plant("tmp/stray/dir/file")}
	wrongFan := "cd"
	if kept.ID[:2] == wrongFan {
		wrongFan = "ce"
	}
	orphans := []string{
		plant("blobs/01/0123456789abcdef"),        // published, never committed
		plant("blobs/" + ph.ID[:2] + "/" + ph.ID), // a placeholder has no blob
		plant("blobs/ab/not-an-id"),
		plant("blobs/" + wrongFan + "/" + kept.ID), // the right name in the wrong fan-out
	}
	notOurs := plant("blobs/README")

	s = mustOpen(t, dir)
	tmpRemoved, orphansRemoved := s.Recovered()
	if tmpRemoved != 2 || orphansRemoved != len(orphans) {
		t.Fatalf("Recovered() = %d, %d; want 2, %d", tmpRemoved, orphansRemoved, len(orphans))
	}
	for _, p := range slices.Concat(tmpFiles, orphans) {
		if exists(p) {
			t.Errorf("%s survived recovery", p)
		}
	}
	if got := files(t, filepath.Join(dir, "tmp")); len(got) != 0 {
		t.Errorf("tmp/ holds %v after recovery", got)
	}
	if !exists(notOurs) {
		t.Error("recovery removed a file outside the fan-out directories")
	}
	if !exists(s.blobPath(kept.ID)) {
		t.Fatal("recovery removed a referenced blob")
	}
	_, c, err := s.Open(ctx, kept.ID)
	if err != nil {
		t.Fatalf("Open after recovery: %v", err)
	}
	c.Close()

	// A clean directory recovers nothing.
	s.Close()
	s = mustOpen(t, dir)
	if a, b := s.Recovered(); a != 0 || b != 0 {
		t.Fatalf("second Recovered() = %d, %d; want 0, 0", a, b)
	}
}
