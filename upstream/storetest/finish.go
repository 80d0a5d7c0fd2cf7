package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// eofReader records whether its source has reported io.EOF.
type eofReader struct {
	r   io.Reader
	eof atomic.Bool
}

func (e *eofReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof.Store(true)
	}
	return n, err
}

// finishCounter makes Finish hooks that count their calls.
type finishCounter struct{ calls atomic.Int32 }

func (c *finishCounter) hook(f func(na *upstream.NewAttachment) error) func(na *upstream.NewAttachment) error {
	return func(na *upstream.NewAttachment) error {
		c.calls.Add(1)
		return f(na)
	}
}

func (c *finishCounter) want(t *testing.T, n int32, what string) {
	t.Helper()
	if got := c.calls.Load(); got != n {
		t.Fatalf("%s: Finish called %d times, want %d", what, got, n)
	}
}

// testFinishMetadata has Finish fill in metadata that arrives after the
// bytes, as a multipart field after the file part does.
func testFinishMetadata(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	rec := o.ref("late")
	content := patterned(300<<10 + 5) // more than one copy buffer
	src := &eofReader{r: bytes.NewReader(content)}
	var c finishCounter
	na := upstream.NewAttachment{
		Record: rec, Field: "files", Name: "early.bin", Type: "application/octet-stream",
		Tags: []string{"early"}, Owner: "key-1",
	}
	na.Finish = c.hook(func(na *upstream.NewAttachment) error {
		if !src.eof.Load() {
			t.Error("Finish called before the content reached EOF")
		}
		na.Name, na.Type, na.Title, na.Description = "late.bin", "application/x-late", "late title", "late description"
		na.Tags = append(na.Tags, "late1", "late2")
		return nil
	})
	a, err := s.Create(ctx, na, src)
	skipUnsupported(t, err, "Create")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	c.want(t, 1, "Create")
	want := upstream.Attachment{
		ID: a.ID, Record: rec, Field: "files", Name: "late.bin", Type: "application/x-late",
		Size: int64(len(content)), SHA256: sha256Hex(content), MD5: md5Hex(content),
		Tags: []string{"early", "late1", "late2"}, Title: "late title", Description: "late description",
		Owner: "key-1", HasContent: true, Position: a.Position,
	}
	sameAttachment(t, a, want)
	st, err := s.Stat(ctx, a.ID)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	sameAttachment(t, st, want)
	got := list(t, s, rec)
	wantIDs(t, got, a.ID)
	sameAttachment(t, got[0], want)
	if !bytes.Equal(read(t, s, a.ID), content) {
		t.Fatal("content differs")
	}
	c.want(t, 1, "Create, Stat, List and Open")
}

// testFinishPlace has Finish choose the record and field: the attachment
// lands there, and the record first named is not written.
func testFinishPlace(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	keep := create(t, s, o.ref("dest"), "files", "keep", []byte("keep"))
	tests := []struct {
		name string
		from upstream.RecordRef
	}{
		{"from another record", o.ref("first-named")},
		{"from unlinked", o.unlinked()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c finishCounter
			na := upstream.NewAttachment{Record: tt.from, Field: "files", Name: tt.name}
			na.Finish = c.hook(func(na *upstream.NewAttachment) error {
				na.Record, na.Field = o.ref("dest"), "late"
				return nil
			})
			a, err := s.Create(ctx, na, bytes.NewReader([]byte(tt.name)))
			skipUnsupported(t, err, "Create with Finish choosing the record")
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			c.want(t, 1, "Create")
			if a.Record != o.ref("dest") || a.Field != "late" {
				t.Fatalf("Create: record %+v field %q; want %+v %q", a.Record, a.Field, o.ref("dest"), "late")
			}
			got := list(t, s, o.ref("dest"))
			if len(got) < 2 || got[len(got)-1].ID != a.ID || got[0].ID != keep.ID {
				t.Fatalf("listed %v; want %s first and %s last", ids(got), keep.ID, a.ID)
			}
			wantPositionsIncrease(t, got)
			if tt.from.ID != "" {
				wantNoRecord(t, s, tt.from)
			}
		})
	}
}

// testFinishError checks that an error from Finish fails the Create with
// that error and leaves nothing: no attachment, no record.
func testFinishError(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	rec := o.ref("finish-fails")
	keep := create(t, s, rec, "files", "keep", []byte("keep"))
	tests := []struct {
		name string
		err  error
		kind upstream.Kind // "" when the contract does not fix one
	}{
		{"kinded error", upstream.Errorf(upstream.KindConflict, "the late field says no"), upstream.KindConflict},
		{"another kind", upstream.Errorf(upstream.KindTooLarge, "late cap"), upstream.KindTooLarge},
		{"plain error", errors.New("the rest of the body could not be read"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, target := range []upstream.RecordRef{rec, o.ref("never-" + tt.name)} {
				var c finishCounter
				na := upstream.NewAttachment{Record: target, Field: "files", Name: "doomed", Tags: []string{"x"}}
				na.Finish = c.hook(func(na *upstream.NewAttachment) error {
					na.Name = "changed before failing"
					return tt.err
				})
				_, err := s.Create(ctx, na, bytes.NewReader(patterned(1000)))
				skipUnsupported(t, err, "Create")
				if err == nil {
					t.Fatal("Create succeeded though Finish failed")
				}
				c.want(t, 1, "Create")
				if tt.kind != "" {
					wantKind(t, err, tt.kind, "Create with a failing Finish")
				}
				if !errors.Is(err, tt.err) {
					t.Errorf("Create's error %v does not wrap Finish's %v", err, tt.err)
				}
				if target == rec {
					wantIDs(t, list(t, s, rec), keep.ID)
				} else {
					wantNoRecord(t, s, target)
				}
			}
		})
	}
}

// testFinishNotCalled checks that Finish waits for a content that never
// arrives whole.
func testFinishNotCalled(t *testing.T, s upstream.Store, o Options) {
	rec := o.ref("finish-never")
	keep := create(t, s, rec, "files", "keep", []byte("keep"))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		maxSize int64
		content io.Reader
	}{
		{"failing reader", context.Background(), 0, &failingReader{n: 1000, err: errors.New("reset")}},
		{"failing at once", context.Background(), 0, &failingReader{n: 0, err: errors.New("reset")}},
		{"over MaxSize", context.Background(), 100, bytes.NewReader(patterned(101))},
		{"cancelled", cancelled, 0, bytes.NewReader(patterned(10))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c finishCounter
			na := upstream.NewAttachment{Record: rec, Field: "files", Name: "broken", MaxSize: tt.maxSize}
			na.Finish = c.hook(func(*upstream.NewAttachment) error { return nil })
			_, err := s.Create(tt.ctx, na, tt.content)
			skipUnsupported(t, err, "Create")
			failedCreate(t, s, rec, keep, err)
			c.want(t, 0, "a failed stream")
		})
	}
}

// testFinishValidated checks that what Finish leaves is validated as a
// NewAttachment given to Create directly is: the same metadata fails the
// same way, and leaves nothing.
func testFinishValidated(t *testing.T, s upstream.Store, o Options) {
	ctx := context.Background()
	rec := o.ref("finish-checked")
	keep := create(t, s, rec, "files", "keep", []byte("keep"))
	tests := []struct {
		name   string
		mutate func(na *upstream.NewAttachment)
	}{
		{"record without collection", func(na *upstream.NewAttachment) { na.Record.Collection = "" }},
		{"NUL in the field", func(na *upstream.NewAttachment) { na.Field = "a\x00b" }},
		{"NUL in the record id", func(na *upstream.NewAttachment) { na.Record.ID = "r\x00" }},
		{"NUL in the collection", func(na *upstream.NewAttachment) { na.Record.Collection = "t\x00" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := upstream.NewAttachment{Record: rec, Field: "files", Name: "checked"}
			direct := base
			tt.mutate(&direct)
			a, errDirect := s.Create(ctx, direct, bytes.NewReader([]byte("x")))
			skipUnsupported(t, errDirect, "Create")
			if errDirect == nil {
				if err := s.Delete(ctx, a.ID); err != nil {
					t.Fatalf("Delete: %v", err)
				}
				t.Skipf("the store accepts this metadata from Create; nothing to compare")
			}

			var c finishCounter
			late := base
			late.Finish = c.hook(func(na *upstream.NewAttachment) error { tt.mutate(na); return nil })
			_, err := s.Create(ctx, late, bytes.NewReader([]byte("x")))
			c.want(t, 1, "Create")
			wantKind(t, err, upstream.KindOf(errDirect), "Create with Finish making the metadata "+tt.name)
			wantIDs(t, list(t, s, rec), keep.ID)
		})
	}
}
