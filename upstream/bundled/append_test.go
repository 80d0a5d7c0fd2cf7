package bundled

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
)

func mustAppend(t *testing.T, s *Store, id string, chunk []byte) upstream.Attachment {
	t.Helper()
	a, err := s.Append(t.Context(), id, bytes.NewReader(chunk))
	if err != nil {
		t.Fatalf("Append %q: %v", chunk, err)
	}
	return a
}

// grow appends junk to a blob behind the store's back, as a chunk written
// but never committed leaves it.
func grow(t *testing.T, path string, junk string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(junk); err != nil {
		t.Fatal(err)
	}
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func readAll(t *testing.T, s *Store, id string) string {
	t.Helper()
	_, c, err := s.Open(t.Context(), id)
	if err != nil {
		t.Fatalf("Open %s: %v", id, err)
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPartialCrashRecovery: a crash after a chunk was written and before
// its size was committed leaves the blob longer; Open cuts it back, keeps
// it (it is no orphan) and the upload resumes from the committed size.
func TestPartialCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	p := createPartial(t, s, rec("r"), "p", 10)
	empty := createPartial(t, s, rec("r"), "empty", 5)
	mustAppend(t, s, p.ID, []byte("0123"))
	s.Close()

	grow(t, s.blobPath(p.ID), "uncommitted")
	grow(t, s.blobPath(empty.ID), "junk")
	s = mustOpen(t, dir)
	if tmp, orphans := s.Recovered(); tmp != 0 || orphans != 0 {
		t.Fatalf("Recovered() = %d, %d; partial blobs are not orphans", tmp, orphans)
	}
	if s.partialsCut != 2 {
		t.Fatalf("cut %d partial blobs back, want 2", s.partialsCut)
	}
	if n := size(t, s.blobPath(p.ID)); n != 4 {
		t.Fatalf("partial blob of %d bytes after recovery, want 4", n)
	}
	checkConsistent(t, s)
	a := mustAppend(t, s, p.ID, []byte("456789"))
	if !a.HasContent || a.SHA256 != sha256Hex("0123456789") {
		t.Fatalf("completed after recovery: %+v", a)
	}
	if got := readAll(t, s, p.ID); got != "0123456789" {
		t.Fatalf("content %q", got)
	}
	mustAppend(t, s, empty.ID, []byte("abcde"))
	if got := readAll(t, s, empty.ID); got != "abcde" {
		t.Fatalf("content %q", got)
	}
	checkConsistent(t, s)

	s.Close()
	s = mustOpen(t, dir)
	if tmp, orphans := s.Recovered(); tmp != 0 || orphans != 0 || s.partialsCut != 0 {
		t.Fatalf("a clean reopen recovered %d, %d, %d", tmp, orphans, s.partialsCut)
	}
}

// TestAppendCutsBack: Append itself trusts the committed size, not the
// file, so bytes a failed append could not remove never reach the content.
func TestAppendCutsBack(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	p := createPartial(t, s, rec("r"), "p", 6)
	mustAppend(t, s, p.ID, []byte("abc"))
	grow(t, s.blobPath(p.ID), "XYZXYZ")
	a := mustAppend(t, s, p.ID, []byte("def"))
	if !a.HasContent || a.Size != 6 || a.MD5 != md5Hex("abcdef") {
		t.Fatalf("after cutting back: %+v", a)
	}
	if got := readAll(t, s, p.ID); got != "abcdef" {
		t.Fatalf("content %q", got)
	}
	checkConsistent(t, s)
}

// TestAppendShortBlob: a blob shorter than its committed size lost bytes
// the store said were durable; Append refuses to build on it.
func TestAppendShortBlob(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	p := createPartial(t, s, rec("r"), "p", 6)
	mustAppend(t, s, p.ID, []byte("abc"))
	if err := os.Truncate(s.blobPath(p.ID), 1); err != nil {
		t.Fatal(err)
	}
	_, err := s.Append(t.Context(), p.ID, bytes.NewReader([]byte("def")))
	if !upstream.IsKind(err, upstream.KindInternal) {
		t.Fatalf("Append to a short blob: %v, want internal", err)
	}
	if n := size(t, s.blobPath(p.ID)); n != 1 {
		t.Fatalf("a refused Append changed the blob to %d bytes", n)
	}
}

func TestAppendFailuresAppendNothing(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t, t.TempDir())
	p := createPartial(t, s, rec("r"), "p", 10)
	mustAppend(t, s, p.ID, []byte("0123"))
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		chunk io.Reader
		kind  upstream.Kind
	}{
		{"over", ctx, bytes.NewReader(make([]byte, 7)), upstream.KindTooLarge},
		{"source fails", ctx, errReader{io.ErrUnexpectedEOF}, upstream.KindInvalid},
		{"source's own kind", ctx, errReader{upstream.Errorf(upstream.KindTooLarge, "dialect cap")}, upstream.KindTooLarge},
		{"cancelled", cancelled, bytes.NewReader([]byte("x")), upstream.KindTimeout},
		{"nil chunk", ctx, nil, upstream.KindMissing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Append(tt.ctx, p.ID, tt.chunk)
			if got := upstream.KindOf(err); got != tt.kind {
				t.Fatalf("kind %s (%v), want %s", got, err, tt.kind)
			}
			if n := size(t, s.blobPath(p.ID)); n != 4 {
				t.Fatalf("blob of %d bytes after a failed Append, want 4", n)
			}
			checkConsistent(t, s)
		})
	}
	// An empty chunk is no change.
	a := mustAppend(t, s, p.ID, nil)
	if a.Size != 4 || a.HasContent {
		t.Fatalf("after an empty chunk: %+v", a)
	}
	if _, err := s.Append(ctx, p.ID, bytes.NewReader(make([]byte, 7))); upstream.MessageOf(err) != "the chunk passes the expected size of 10 bytes (6 bytes left)" {
		t.Fatalf("over-append message %q", upstream.MessageOf(err))
	}
}

// TestAppendTouchesRecord: a chunk is a change to the record's files.
func TestAppendTouchesRecord(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t, t.TempDir())
	p := createPartial(t, s, rec("r"), "p", 2)
	before, err := s.GetRecord(ctx, rec("r"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond)
	a := mustAppend(t, s, p.ID, []byte("a"))
	after, err := s.GetRecord(ctx, rec("r"))
	if err != nil {
		t.Fatal(err)
	}
	if !after.Modified.After(before.Modified) || !a.Modified.After(p.Modified) || a.Modified != after.Modified {
		t.Fatalf("record modified %v -> %v, attachment %v -> %v", before.Modified, after.Modified, p.Modified, a.Modified)
	}
}

func TestCreatePartialChecks(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := mustOpen(t, dir)
	_, err := s.Create(ctx, upstream.NewAttachment{Record: rec("r"), ExpectedSize: -1}, nil)
	if !upstream.IsKind(err, upstream.KindInvalid) {
		t.Fatalf("negative ExpectedSize: %v", err)
	}
	_, err = s.Create(ctx, upstream.NewAttachment{Record: rec("r"), ExpectedSize: 11, MaxSize: 10}, nil)
	if !upstream.IsKind(err, upstream.KindTooLarge) {
		t.Fatalf("ExpectedSize over MaxSize: %v", err)
	}
	if left := files(t, filepath.Join(dir, "blobs")); len(left) != 0 {
		t.Fatalf("blobs left behind: %v", left)
	}
	// With content, ExpectedSize does not make a partial.
	a, err := s.Create(ctx, upstream.NewAttachment{Record: rec("r"), ExpectedSize: 100}, bytes.NewReader([]byte("whole")))
	if err != nil || !a.HasContent || a.Size != 5 {
		t.Fatalf("Create with content and ExpectedSize: %+v, %v", a, err)
	}
	if _, err := s.Append(ctx, a.ID, bytes.NewReader([]byte("x"))); !upstream.IsKind(err, upstream.KindConflict) {
		t.Fatalf("Append to it: %v, want conflict", err)
	}
	checkConsistent(t, s)
}

// TestDeletedPartialLosesBlob covers every way a partial goes.
func TestDeletedPartialLosesBlob(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t, t.TempDir())
	p1 := createPartial(t, s, rec("r"), "p1", 10)
	p2 := createPartial(t, s, rec("r"), "same", 10)
	p3 := createPartial(t, s, rec("r"), "p3", 10)
	for _, p := range []upstream.Attachment{p1, p2, p3} {
		mustAppend(t, s, p.ID, []byte("half"))
	}
	if err := s.Delete(ctx, p1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, upstream.NewAttachment{Record: rec("r"), Field: "files", Name: "same", ReplaceSameName: true}, bytes.NewReader([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateRecord(ctx, rec("r"), upstream.RecordUpdate{Fields: map[string][]string{"files": {}}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []upstream.Attachment{p1, p2, p3} {
		if exists(s.blobPath(p.ID)) {
			t.Errorf("blob of %s outlived it", p.Name)
		}
		if _, err := s.Append(ctx, p.ID, bytes.NewReader([]byte("x"))); !upstream.IsKind(err, upstream.KindNotFound) {
			t.Errorf("Append to deleted %s: %v", p.Name, err)
		}
	}
	checkConsistent(t, s)
}

func TestKeyLocks(t *testing.T) {
	var l keyLocks
	unlock, err := l.lock(t.Context(), "a")
	if err != nil {
		t.Fatal(err)
	}
	// Another key is free.
	unlockB, err := l.lock(t.Context(), "b")
	if err != nil {
		t.Fatal(err)
	}
	unlockB()
	// The same key waits, until its context ends.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.lock(ctx, "a"); err != context.DeadlineExceeded {
		t.Fatalf("second lock of a held key: %v, want deadline exceeded", err)
	}
	got := make(chan struct{})
	go func() {
		u, err := l.lock(context.Background(), "a")
		if err == nil {
			u()
		}
		close(got)
	}()
	time.Sleep(5 * time.Millisecond)
	select {
	case <-got:
		t.Fatal("a held lock was taken")
	default:
	}
	unlock()
	<-got
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.m) != 0 {
		t.Fatalf("%d lock entries left after every holder let go", len(l.m))
	}
}

func sha256Hex(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
func md5Hex(s string) string    { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
