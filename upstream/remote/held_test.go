package remote_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/remote"
)

// deadURL is the address of a loopback port nothing listens on.
func deadURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	return url
}

// openAt opens a remote store speaking dialect to url, with its state in
// dataDir; the caller closes it.
func openAt(t *testing.T, dialect, url, dataDir string, ttl time.Duration) *remote.Store {
	t.Helper()
	sp, err := routes(t).Speaker(dialect)
	if err != nil {
		t.Fatal(err)
	}
	s, err := remote.New(remote.Options{Speaker: sp, URL: url, Token: upstreamToken, DataDir: dataDir, Timeouts: quick, HeldTTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestHeldUploadSurvivesAFailedSendAndARestart: the last chunk of a held
// upload is refused while the upstream is down, and nothing of it stays;
// after a crash that tore a chunk and a restart, the upload goes on from
// what was acknowledged and reaches the upstream whole.
func TestHeldUploadSurvivesAFailedSendAndARestart(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	rec := upstream.RecordRef{Collection: "c", ID: "r"}
	content := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	first, last := content[:40000], content[40000:]

	down := openAt(t, "nimblex", deadURL(t), dataDir, 0)
	a, err := down.Create(ctx, upstream.NewAttachment{Record: rec, Field: "files", Name: "big.bin", Type: "application/octet-stream", ExpectedSize: int64(len(content))}, nil)
	if err != nil {
		t.Fatalf("Create the placeholder while the upstream is down: %v", err)
	}
	got, err := down.Append(ctx, a.ID, bytes.NewReader(first))
	if err != nil || got.Size != int64(len(first)) || got.HasContent {
		t.Fatalf("first chunk: size %d, has content %v, %v; want %d, false, nil", got.Size, got.HasContent, err, len(first))
	}
	_, err = down.Append(ctx, a.ID, bytes.NewReader(last))
	if !upstream.IsKind(err, upstream.KindBadGateway) && !upstream.IsKind(err, upstream.KindUnavailable) {
		t.Fatalf("last chunk with the upstream down: %v, want bad_gateway or unavailable", err)
	}
	st, err := down.Stat(ctx, a.ID)
	if err != nil || st.Size != int64(len(first)) || st.HasContent {
		t.Fatalf("after the refused chunk: size %d, has content %v, %v; want %d, false", st.Size, st.HasContent, err, len(first))
	}
	if err := down.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of a chunk leaves bytes that were never
	// acknowledged at the end of the held file.
	held := filepath.Join(dataDir, "upstream-held", a.ID)
	f, err := os.OpenFile(held, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatalf("the held file: %v", err)
	}
	if _, err := f.Write([]byte("torn chunk")); err != nil {
		t.Fatal(err)
	}
	f.Close()

	g := loopbackWith(t, routes(t), "nimblex", dataDir)
	st, err = g.s.Stat(ctx, a.ID)
	if err != nil || st.Size != int64(len(first)) {
		t.Fatalf("after the restart: size %d, %v; want %d", st.Size, err, len(first))
	}
	done, err := g.s.Append(ctx, a.ID, bytes.NewReader(last))
	if err != nil {
		t.Fatalf("last chunk with the upstream up: %v", err)
	}
	if done.ID != a.ID || !done.HasContent || done.Size != int64(len(content)) {
		t.Fatalf("last chunk: id %s, has content %v, size %d; want %s, true, %d", done.ID, done.HasContent, done.Size, a.ID, len(content))
	}
	if got := readAll(t, g.s, a.ID); got != string(content) {
		t.Fatalf("content through the gateway: %d bytes, want %d", len(got), len(content))
	}
	// The upstream itself has the file, whole.
	up, err := g.back.List(ctx, rec)
	if err != nil || len(up) != 1 || up[0].Name != "big.bin" || up[0].Size != int64(len(content)) {
		t.Fatalf("upstream holds %+v, %v; want big.bin of %d bytes", up, err, len(content))
	}
	if _, err := os.Stat(held); !os.IsNotExist(err) {
		t.Fatalf("held file after the upload: %v, want it gone", err)
	}
	wantKind(t, mustAppendErr(g.s, a.ID, []byte("x")), upstream.KindConflict)
}

func mustAppendErr(s *remote.Store, id string, chunk []byte) error {
	_, err := s.Append(context.Background(), id, bytes.NewReader(chunk))
	return err
}

// TestHeldUploadsExpire: an upload whose next chunk never comes is dropped
// after the held TTL, and files no upload owns are removed at start.
func TestHeldUploadsExpire(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	url := deadURL(t)
	rec := upstream.RecordRef{Collection: "c", ID: "r"}

	s := openAt(t, "nimblex", url, dataDir, time.Hour)
	old, err := s.Create(ctx, upstream.NewAttachment{Record: rec, Field: "files", Name: "old.bin", ExpectedSize: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, old.ID, bytes.NewReader([]byte("01234"))); err != nil {
		t.Fatal(err)
	}
	s.Close()
	stray := filepath.Join(dataDir, "upstream-held", "00112233aabbccdd")
	if err := os.WriteFile(stray, []byte("left by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Within the TTL the upload stays; the stray goes.
	s = openAt(t, "nimblex", url, dataDir, time.Hour)
	if st, err := s.Stat(ctx, old.ID); err != nil || st.Size != 5 {
		t.Fatalf("held upload within its TTL: size %d, %v; want 5", st.Size, err)
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Fatalf("stray held file after a start: %v, want it gone", err)
	}
	s.Close()

	time.Sleep(20 * time.Millisecond)
	s = openAt(t, "nimblex", url, dataDir, 10*time.Millisecond)
	defer s.Close()
	_, err = s.Stat(ctx, old.ID)
	wantKind(t, err, upstream.KindNotFound)
	if _, err := os.Stat(filepath.Join(dataDir, "upstream-held", old.ID)); !os.IsNotExist(err) {
		t.Fatalf("expired upload's file: %v, want it gone", err)
	}
}

// TestHeldUploadWithItsFileGone: acknowledged chunks whose file is gone
// (a disk lost, a hand that cleaned up) are an error, never zeros passed
// off as the client's bytes.
func TestHeldUploadWithItsFileGone(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	s := openAt(t, "nimblex", deadURL(t), dataDir, 0)
	defer s.Close()
	a, err := s.Create(ctx, upstream.NewAttachment{Record: upstream.RecordRef{Collection: "c", ID: "r"}, Field: "files", Name: "gone.bin", ExpectedSize: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, a.ID, bytes.NewReader([]byte("01234"))); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dataDir, "upstream-held", a.ID)); err != nil {
		t.Fatal(err)
	}
	wantKind(t, mustAppendErr(s, a.ID, []byte("56789")), upstream.KindInternal)
	if st, err := s.Stat(ctx, a.ID); err != nil || st.Size != 5 || st.HasContent {
		t.Fatalf("after the refused chunk: size %d, has content %v, %v; want 5, false", st.Size, st.HasContent, err)
	}
}
