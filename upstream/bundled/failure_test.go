package bundled

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// errReader fails at once with its error.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestFailedCreateLeavesNothing checks the disk, which the conformance
// suite cannot see: no temp file and no blob survive a failed Create, and
// the error keeps its cause and the right kind.
func TestFailedCreateLeavesNothing(t *testing.T) {
	ctx := t.Context()
	boom := errors.New("boom")
	capErr := upstream.Errorf(upstream.KindTooLarge, "over the dialect's 10 MB cap")
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		na      upstream.NewAttachment
		content io.Reader
		kind    upstream.Kind
		cause   error
	}{
		{"too large", ctx, upstream.NewAttachment{MaxSize: 10}, bytes.NewReader(make([]byte, 11)), upstream.KindTooLarge, nil},
		{"source fails", ctx, upstream.NewAttachment{}, errReader{boom}, upstream.KindInvalid, boom},
		{"source's own kind", ctx, upstream.NewAttachment{}, errReader{capErr}, upstream.KindTooLarge, capErr},
		{"cancelled", cancelled, upstream.NewAttachment{}, bytes.NewReader([]byte("x")), upstream.KindTimeout, context.Canceled},
		{"no collection", ctx, upstream.NewAttachment{Record: upstream.RecordRef{ID: "x"}}, bytes.NewReader([]byte("x")), upstream.KindMissing, nil},
		{"NUL in field", ctx, upstream.NewAttachment{Field: "a\x00b"}, bytes.NewReader([]byte("x")), upstream.KindInvalid, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir)
			na := tt.na
			if na.Record == (upstream.RecordRef{}) {
				na.Record = rec("r")
			}
			_, err := s.Create(tt.ctx, na, tt.content)
			if got := upstream.KindOf(err); got != tt.kind {
				t.Fatalf("kind %s (%v), want %s", got, err, tt.kind)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Fatalf("error %v does not wrap %v", err, tt.cause)
			}
			if left := files(t, filepath.Join(dir, "blobs")); len(left) != 0 {
				t.Fatalf("blobs left behind: %v", left)
			}
			if left := files(t, filepath.Join(dir, "tmp")); len(left) != 0 {
				t.Fatalf("temp files left behind: %v", left)
			}
			if _, err := s.GetRecord(ctx, na.Record); !upstream.IsKind(err, upstream.KindNotFound) {
				t.Fatalf("a failed Create wrote its record: GetRecord gave %v", err)
			}
		})
	}
}

// TestFailedCommitRemovesBlob makes the metadata commit fail (the database
// is closed under the store) after the blob was published.
func TestFailedCommitRemovesBlob(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := mustOpen(t, dir)
	if err := s.db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := s.Create(ctx, upstream.NewAttachment{Record: rec("r")}, bytes.NewReader([]byte("orphan to be")))
	if upstream.KindOf(err) != upstream.KindInternal {
		t.Fatalf("Create on a closed database: %v, want an internal error", err)
	}
	if left := files(t, filepath.Join(dir, "blobs")); len(left) != 0 {
		t.Fatalf("blob of a failed commit left behind: %v", left)
	}
}

// TestBlobsFollowMetadata checks that every way of deleting an attachment
// removes its blob after the commit.
func TestBlobsFollowMetadata(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := mustOpen(t, dir)
	blobs := func() []string { return files(t, filepath.Join(dir, "blobs")) }

	a := mustCreate(t, s, rec("r"), "a", []byte("a"))
	if err := s.Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if exists(s.blobPath(a.ID)) {
		t.Fatal("Delete left the blob")
	}

	old := mustCreate(t, s, rec("r"), "same", []byte("old"))
	na := upstream.NewAttachment{Record: rec("r"), Field: "files", Name: "same", ReplaceSameName: true}
	repl, err := s.Create(ctx, na, bytes.NewReader([]byte("new")))
	if err != nil {
		t.Fatal(err)
	}
	if exists(s.blobPath(old.ID)) {
		t.Fatal("ReplaceSameName left the old blob")
	}

	other := mustCreate(t, s, rec("r"), "other", []byte("other"))
	if _, err := s.UpdateRecord(ctx, rec("r"), upstream.RecordUpdate{Fields: map[string][]string{"files": {other.ID}}}); err != nil {
		t.Fatal(err)
	}
	if exists(s.blobPath(repl.ID)) {
		t.Fatal("UpdateRecord left the blob of an attachment it deleted")
	}
	if got := blobs(); len(got) != 1 || !strings.HasSuffix(got[0], other.ID) {
		t.Fatalf("blobs on disk %v, want only %s", got, other.ID)
	}
}

func TestUpdateUnknownIDIsNamed(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t, t.TempDir())
	a := mustCreate(t, s, rec("r"), "a", []byte("a"))
	const missing = "00000000deadbeef"
	_, err := s.UpdateRecord(ctx, rec("r"), upstream.RecordUpdate{Fields: map[string][]string{"files": {a.ID, missing}}})
	if !upstream.IsKind(err, upstream.KindInvalid) || !strings.Contains(upstream.MessageOf(err), missing) {
		t.Fatalf("UpdateRecord with an unknown id: %v; want invalid, naming %s", err, missing)
	}
}

func TestPing(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t, t.TempDir())
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	s.Close()
	if err := s.Ping(ctx); !upstream.IsKind(err, upstream.KindUnavailable) {
		t.Fatalf("Ping after Close: %v, want unavailable", err)
	}
}
