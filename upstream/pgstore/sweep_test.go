package pgstore_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dragoman-gw/dragoman/upstream"
	"github.com/dragoman-gw/dragoman/upstream/s3blobs"
)

// stalled yields n bytes, then blocks until its context is done: a
// client whose gateway dies mid-upload.
type stalled struct {
	n    int
	ctx  context.Context
	read chan struct{}
}

func (s *stalled) Read(p []byte) (int, error) {
	if s.n == 0 {
		close(s.read)
		<-s.ctx.Done()
		return 0, s.ctx.Err()
	}
	k := min(len(p), s.n)
	clear(p[:k])
	s.n -= k
	return k, nil
}

// TestSweepAbandoned leaves what a gateway killed mid-upload leaves (a
// multipart upload under way, its loose row, no attachment row), and what
// a gateway killed between a delete's commit and the object's removal
// leaves, then checks that the attachment is invisible, that a sweep
// within the grace keeps everything, and that one past it removes all.
func TestSweepAbandoned(t *testing.T) {
	b := servers.Get(t)
	s := openStore(t, b)
	ctx := context.Background()
	rec := upstream.RecordRef{Collection: "tables", ID: "r"}
	bucket, err := s3blobs.New(b.S3)
	if err != nil {
		t.Fatal(err)
	}
	db, err := pgx.Connect(ctx, b.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)

	// An upload past its first part, whose gateway then stops: the
	// context ends once the reader blocks, but the deferred abort is what a
	// killed process never runs, so undo it by starting one by hand.
	uctx, cancel := context.WithCancel(ctx)
	src := &stalled{n: 6 << 20, ctx: uctx, read: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := s.Create(uctx, upstream.NewAttachment{Record: rec, Name: "killed"}, src)
		done <- err
	}()
	<-src.read
	if list, err := s.List(ctx, rec); err == nil && len(list) > 0 {
		t.Fatalf("an upload in progress is listed: %v", list)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the interrupted Create succeeded")
	}
	// What kill -9 leaves: a multipart upload and a loose row, no row in
	// attachments.
	uploadID, err := bucket.Begin(ctx, "o/abandoned")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO loose_objects (name, upload_id, touched) VALUES ('o/abandoned', $1, now() - interval '2 hours')`, uploadID); err != nil {
		t.Fatal(err)
	}
	// An object whose delete committed but whose removal never ran.
	if _, err := bucket.Put(ctx, "o/released", bytes.NewReader([]byte("old")), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO loose_objects (name, touched) VALUES ('o/released', now() - interval '2 hours')`); err != nil {
		t.Fatal(err)
	}
	// A live upload, touched a moment ago.
	if _, err := db.Exec(ctx, `INSERT INTO loose_objects (name, touched) VALUES ('o/live', now())`); err != nil {
		t.Fatal(err)
	}
	if _, err := bucket.Put(ctx, "o/live", bytes.NewReader([]byte("live")), nil); err != nil {
		t.Fatal(err)
	}
	kept := create(t, s, rec, "kept")

	rep, err := s.Sweep(ctx, 3*time.Hour)
	if err != nil || rep.Objects != 0 || rep.Uploads != 0 {
		t.Fatalf("sweep within the grace removed %v (%v)", rep, err)
	}
	rep, err = s.Sweep(ctx, time.Hour)
	if err != nil || rep.Objects != 2 {
		t.Fatalf("sweep past the grace: %v (%v), want the 2 stale loose objects", rep, err)
	}
	objects := map[string]bool{}
	if err := bucket.Objects(ctx, func(o s3blobs.Object) bool { objects[o.Name] = true; return true }); err != nil {
		t.Fatal(err)
	}
	if objects["o/released"] || !objects["o/live"] {
		t.Fatalf("objects after the sweep: %v; want o/live and no o/released", objects)
	}
	if ups, err := bucket.Uploads(ctx, time.Now().Add(time.Hour)); err != nil || len(ups) != 0 {
		t.Fatalf("multipart uploads left after the sweep: %v %v", ups, err)
	}
	list, err := s.List(ctx, rec)
	if err != nil || len(list) != 1 || list[0].ID != kept.ID {
		t.Fatalf("listing after the sweep: %v %v, want only %s", list, err, kept.ID)
	}
	if _, c, err := s.Open(ctx, kept.ID); err != nil {
		t.Fatalf("Open the kept attachment: %v", err)
	} else {
		c.Close()
	}
}

// TestSweepUnrecordedUpload is a crash between starting a multipart
// upload and recording its id: only listing the bucket's uploads finds it.
func TestSweepUnrecordedUpload(t *testing.T) {
	b := servers.Get(t)
	s := openStore(t, b)
	ctx := context.Background()
	bucket, err := s3blobs.New(b.S3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bucket.Begin(ctx, "o/unrecorded"); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Sweep(ctx, 0)
	if err != nil || rep.Uploads != 1 {
		t.Fatalf("sweep: %v %v, want 1 upload aborted", rep, err)
	}
	if ups, err := bucket.Uploads(ctx, time.Now().Add(time.Hour)); err != nil || len(ups) != 0 {
		t.Fatalf("uploads left: %v %v", ups, err)
	}
}

func create(t *testing.T, s upstream.Store, rec upstream.RecordRef, name string) upstream.Attachment {
	t.Helper()
	a, err := s.Create(context.Background(), upstream.NewAttachment{Record: rec, Name: name}, bytes.NewReader([]byte(name)))
	if err != nil {
		t.Fatalf("Create %s: %v", name, err)
	}
	return a
}
