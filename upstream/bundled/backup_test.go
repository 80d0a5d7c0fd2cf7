package bundled

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

func TestBackupRestoresIntoAFreshStore(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t, t.TempDir())
	a := mustCreate(t, s, rec("r"), "a.txt", []byte("alpha"))
	mustCreate(t, s, rec("r"), "b.txt", []byte("bravo"))
	mustCreate(t, s, rec("q"), "empty", []byte{})
	mustCreate(t, s, rec("q"), "placeholder", nil)
	p, err := s.Create(ctx, upstream.NewAttachment{Record: rec("q"), Name: "partial", ExpectedSize: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, p.ID, strings.NewReader("12345")); err != nil {
		t.Fatal(err)
	}
	// Bytes past the committed size (a chunk being written) stay out.
	f, err := os.OpenFile(s.blobPath(p.ID), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("678")
	f.Close()

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	st, err := s.Backup(ctx, tw, "store/")
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if st.Blobs != 4 || st.Bytes != 15 || len(st.Problems) != 0 {
		t.Errorf("stats %+v, want 4 blobs (a, b, empty, partial) of 15 bytes and no problems", st)
	}
	// A delete after the backup does not reach into it.
	if err := s.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}

	dir := t.TempDir()
	tr := tar.NewReader(&buf)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name, ok := strings.CutPrefix(hdr.Name, "store/")
		if !ok {
			t.Fatalf("entry %q outside the prefix", hdr.Name)
		}
		if err := RestoreEntry(dir, name, tr); err != nil {
			t.Fatal(err)
		}
	}
	if err := SyncRestored(dir); err != nil {
		t.Fatal(err)
	}
	r := mustOpen(t, dir)
	if rep, err := r.Verify(ctx, nil); err != nil || len(rep.Problems) != 0 || rep.Checked != 4 {
		t.Fatalf("verify the restored store: %+v, %v", rep, err)
	}
	for _, ref := range []upstream.RecordRef{rec("q")} {
		want, _ := s.List(ctx, ref)
		got, err := r.List(ctx, ref)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("list %v restored: %+v, %v; want %+v", ref, got, err, want)
		}
	}
	got, c, err := r.Open(ctx, a.ID)
	if err != nil {
		t.Fatalf("the file deleted after the backup is in it: %v", err)
	}
	data, _ := io.ReadAll(c)
	c.Close()
	if string(data) != "alpha" || got.Name != "a.txt" {
		t.Errorf("restored %q %q", got.Name, data)
	}
	if fi, err := os.Stat(r.blobPath(p.ID)); err != nil || fi.Size() != 5 {
		t.Errorf("the partial's restored blob: %v, %v; want its 5 committed bytes", fi, err)
	}
	if _, err := r.Append(ctx, p.ID, strings.NewReader("67890")); err != nil {
		t.Errorf("the restored partial cannot be finished: %v", err)
	}
}

func TestBackupReportsDamage(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	a := mustCreate(t, s, rec("r"), "a.txt", []byte("alpha"))
	b := mustCreate(t, s, rec("r"), "b.txt", []byte("bravo"))
	mustCreate(t, s, rec("r"), "c.txt", []byte("charlie"))
	os.Remove(s.blobPath(a.ID))
	os.WriteFile(s.blobPath(b.ID), []byte("BRAVO"), 0o600)
	tw := tar.NewWriter(io.Discard)
	st, err := s.Backup(t.Context(), tw, "")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, p := range st.Problems {
		kinds[p.ID] = p.Kind
	}
	if st.Blobs != 2 || kinds[a.ID] != ProblemMissing || kinds[b.ID] != ProblemCorrupt || len(kinds) != 2 {
		t.Errorf("stats %+v: want b and c written, a missing, b corrupt", st)
	}
}

func TestRestoreEntryRefuses(t *testing.T) {
	id := "0123456789abcdef"
	for _, name := range []string{
		"keys.json", "../meta.db", "/meta.db", "blobs/01/../../x", "blobs/02/" + id, "blobs/01/" + id + "/x",
		"blobs/01/0123456789ABCDEF", "tmp/upload-1", "blobs/01", "",
	} {
		if err := RestoreEntry(t.TempDir(), name, strings.NewReader("x")); err == nil {
			t.Errorf("RestoreEntry(%q) was accepted", name)
		}
	}
	dir := t.TempDir()
	if err := RestoreEntry(dir, "blobs/01/"+id, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if err := RestoreEntry(dir, "blobs/01/"+id, strings.NewReader("y")); !errors.Is(err, os.ErrExist) {
		t.Errorf("a second entry of the same name: %v, want it refused", err)
	}
}
