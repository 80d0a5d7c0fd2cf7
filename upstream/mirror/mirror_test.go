package mirror

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/bundled"
)

func openBundled(t *testing.T, dir string) *bundled.Store {
	t.Helper()
	s, err := bundled.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// switchable is a mirror that refuses everything while down is set.
type switchable struct {
	upstream.Store
	down atomic.Bool
}

func (s *switchable) check() error {
	if s.down.Load() {
		return upstream.Errorf(upstream.KindUnavailable, "mirror down")
	}
	return nil
}

func (s *switchable) Create(ctx context.Context, na upstream.NewAttachment, r io.Reader) (upstream.Attachment, error) {
	if err := s.check(); err != nil {
		return upstream.Attachment{}, err
	}
	return s.Store.Create(ctx, na, r)
}

func (s *switchable) Delete(ctx context.Context, id string) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.Store.Delete(ctx, id)
}

func (s *switchable) List(ctx context.Context, rec upstream.RecordRef) ([]upstream.Attachment, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	return s.Store.List(ctx, rec)
}

// Close leaves the store open: the test reopens the mirror around it.
func (s *switchable) Close() error { return nil }

func names(t *testing.T, s upstream.Store, rec upstream.RecordRef) string {
	t.Helper()
	list, err := s.List(context.Background(), rec)
	if upstream.IsKind(err, upstream.KindNotFound) {
		return "<none>"
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range list {
		_, c, err := s.Open(context.Background(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(c)
		c.Close()
		out = append(out, a.Field+"/"+a.Name+"="+string(b))
	}
	return strings.Join(out, ",")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDualWriteConvergesAfterTheMirrorWasDownAndAcrossARestart(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	primary := openBundled(t, t.TempDir())
	defer primary.Close()
	mstore := openBundled(t, t.TempDir())
	defer mstore.Close()
	mir := &switchable{Store: mstore}
	mir.down.Store(true)
	open := func() *Store {
		s, err := New(Options{Primary: keepOpen{primary}, Mirror: mir, Mode: Mode{DualWrite: true}, DataDir: dataDir,
			MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	rec := upstream.RecordRef{Collection: "c", ID: "1"}
	create := func(name, data string) upstream.Attachment {
		a, err := s.Create(ctx, upstream.NewAttachment{Record: rec, Name: name, Type: "text/plain"}, strings.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := create("a.txt", "one")
	b := create("b.txt", "two")
	create("c.txt", "three")
	if err := s.Delete(ctx, b.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateRecord(ctx, rec, upstream.RecordUpdate{Fields: map[string][]string{"docs": {a.ID}}}); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.QueueDepth != 5 || st.QueueOldest <= 0 || st.Applied != 0 {
		t.Fatalf("with the mirror down: %+v; want 5 queued, an age, none applied", st)
	}
	waitFor(t, "a refused try", func() bool { return s.Stats().Retries > 0 })
	// A restart resumes the queue (the e2e tests kill the process).
	s.Close()
	s = open()
	defer s.Close()
	if st := s.Stats(); st.QueueDepth != 5 {
		t.Fatalf("after a restart %d writes are queued, want 5", st.QueueDepth)
	}
	mir.down.Store(false)
	waitFor(t, "the queue to drain", func() bool { return s.Stats().QueueDepth == 0 })
	want := names(t, primary, rec)
	if got := names(t, mstore, rec); got != want || want != "attachments/c.txt=three,docs/a.txt=one" {
		t.Errorf("mirror holds %q, primary %q; want both attachments/c.txt=three,docs/a.txt=one", got, want)
	}
	if st := s.Stats(); st.Applied != 5 || st.Dropped != 0 || st.QueueOldest != 0 {
		t.Errorf("stats %+v; want 5 applied, none dropped, no age", st)
	}
}

// keepOpen lets a test close a mirrored Store and open another on the same
// primary.
type keepOpen struct{ upstream.Store }

func (keepOpen) Close() error { return nil }

func TestDualWriteAppliesACreateOnceWhenACrashKeptItQueued(t *testing.T) {
	ctx := context.Background()
	dataDir := t.TempDir()
	primary := openBundled(t, t.TempDir())
	defer primary.Close()
	mstore := openBundled(t, t.TempDir())
	defer mstore.Close()
	rec := upstream.RecordRef{Collection: "c", ID: "1"}
	a, err := primary.Create(ctx, upstream.NewAttachment{Record: rec, Name: "a.txt"}, strings.NewReader("one"))
	if err != nil {
		t.Fatal(err)
	}
	// The mirror has the file, but the queue still holds its create.
	if _, err := mstore.Create(ctx, upstream.NewAttachment{Record: rec, Name: "a.txt"}, strings.NewReader("one")); err != nil {
		t.Fatal(err)
	}
	q, err := openQueue(dataDir + "/mirror-queue.db")
	if err != nil {
		t.Fatal(err)
	}
	if err := q.enqueue(op{Kind: opCreate, ID: a.ID, At: time.Now(), Record: rec}); err != nil {
		t.Fatal(err)
	}
	q.close()
	s, err := New(Options{Primary: keepOpen{primary}, Mirror: keepOpen{mstore}, Mode: Mode{DualWrite: true}, DataDir: dataDir, MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitFor(t, "the queue to drain", func() bool { return s.Stats().QueueDepth == 0 })
	if got := names(t, mstore, rec); got != "attachments/a.txt=one" {
		t.Errorf("mirror holds %q, want a.txt once", got)
	}
}

func TestShadowCountsDiffsAndLeavesTheClientAlone(t *testing.T) {
	ctx := context.Background()
	primary := openBundled(t, t.TempDir())
	defer primary.Close()
	mstore := openBundled(t, t.TempDir())
	defer mstore.Close()
	rec := upstream.RecordRef{Collection: "c", ID: "1"}
	var ids []string
	for _, n := range []string{"a", "b"} {
		a, err := primary.Create(ctx, upstream.NewAttachment{Record: rec, Name: n}, strings.NewReader("data "+n))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, a.ID)
	}
	// The mirror has a, with other bytes of the same size, and lacks b.
	if _, err := mstore.Create(ctx, upstream.NewAttachment{Record: rec, Name: "a"}, strings.NewReader("DATA A")); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Primary: keepOpen{primary}, Mirror: keepOpen{mstore}, Mode: Mode{Shadow: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	list, err := s.List(ctx, rec)
	if err != nil || len(list) != 2 {
		t.Fatalf("List through the shadow = %d files, %v; want the primary's 2", len(list), err)
	}
	for _, id := range ids {
		_, c, err := s.Open(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	if _, err := s.List(ctx, upstream.RecordRef{Collection: "c", ID: "none"}); !upstream.IsKind(err, upstream.KindNotFound) {
		t.Fatalf("List of a record never written: %v, want not found", err)
	}
	waitFor(t, "the comparisons", func() bool { st := s.Stats(); return st.Compared[OpList] == 2 && st.Compared[OpDownload] == 2 })
	st := s.Stats()
	if st.Diffs[OpList] != 1 || st.Diffs[OpDownload] != 2 {
		t.Errorf("diffs %v; want 1 list (b missing, a's sha256 differs) and 2 downloads (a's bytes differ, b missing)", st.Diffs)
	}
}

func TestParseMode(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Mode
		ok   bool
	}{
		{"shadow", Mode{Shadow: true}, true},
		{"dual-write", Mode{DualWrite: true}, true},
		{"shadow,dual-write", Mode{Shadow: true, DualWrite: true}, true},
		{"mirror", Mode{}, false},
		{"", Mode{}, false},
	} {
		got, err := ParseMode(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseMode(%q) = %+v, %v; want %+v, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestDualWriteSendsAChunkedUploadWhenItsLastChunkIsIn(t *testing.T) {
	ctx := context.Background()
	primary := openBundled(t, t.TempDir()) // closed by s: an Appender, unwrapped
	mstore := openBundled(t, t.TempDir())
	defer mstore.Close()
	s, err := New(Options{Primary: primary, Mirror: keepOpen{mstore}, Mode: Mode{DualWrite: true}, DataDir: t.TempDir(), MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rec := upstream.RecordRef{Collection: "c", ID: "1"}
	a, err := s.Create(ctx, upstream.NewAttachment{Record: rec, Name: "big.bin", ExpectedSize: 6}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.QueueDepth != 0 {
		t.Fatalf("a placeholder waiting for chunks queued %d writes, want none yet", st.QueueDepth)
	}
	for _, chunk := range []string{"abc", "def"} {
		if _, err := s.Append(ctx, a.ID, strings.NewReader(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the queue to drain", func() bool { return s.Stats().QueueDepth == 0 })
	if got := names(t, mstore, rec); got != "attachments/big.bin=abcdef" {
		t.Errorf("mirror holds %q, want the whole file", got)
	}
	if st := s.Stats(); st.Applied != 1 {
		t.Errorf("applied %d writes, want the one create", st.Applied)
	}
}
