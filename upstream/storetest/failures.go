package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// failedCreate checks the promise of a failed Create: nothing of the
// attempt is listed. rec already holds keep, so the record exists.
func failedCreate(t *testing.T, s upstream.Store, rec upstream.RecordRef, keep upstream.Attachment, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("Create succeeded; want an error")
	}
	wantIDs(t, list(t, s, rec), keep.ID)
}

func testMaxSize(t *testing.T, s upstream.Store, o Options) {
	rec := o.ref("cap")
	keep := create(t, s, rec, "files", "keep", []byte("keep"))
	tests := []struct {
		name     string
		max, len int64
		ok       bool
	}{
		{"exactly the cap", 1000, 1000, true},
		{"one byte over", 1000, 1001, false},
		{"far over", 1000, 1 << 20, false},
		{"over, past one copy buffer", 300 << 10, 1 << 20, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			na := upstream.NewAttachment{Record: rec, Field: "files", Name: tt.name, MaxSize: tt.max}
			a, err := s.Create(context.Background(), na, bytes.NewReader(patterned(int(tt.len))))
			skipUnsupported(t, err, "Create")
			if tt.ok {
				if err != nil {
					t.Fatalf("Create: %v", err)
				}
				if a.Size != tt.len {
					t.Fatalf("size %d, want %d", a.Size, tt.len)
				}
				if err := s.Delete(context.Background(), a.ID); err != nil {
					t.Fatalf("Delete: %v", err)
				}
				return
			}
			wantKind(t, err, upstream.KindTooLarge, "Create over MaxSize")
			failedCreate(t, s, rec, keep, err)
		})
	}
}

// failingReader yields n bytes, then fails.
type failingReader struct {
	n   int
	err error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	clear(p[:k])
	r.n -= k
	return k, nil
}

func testFailingReader(t *testing.T, s upstream.Store, o Options) {
	rec := o.ref("failing")
	keep := create(t, s, rec, "files", "keep", []byte("keep"))
	for _, n := range []int{0, 1000, 600 << 10} {
		boom := errors.New("connection reset by the client")
		na := upstream.NewAttachment{Record: rec, Field: "files", Name: "broken"}
		_, err := s.Create(context.Background(), na, &failingReader{n: n, err: boom})
		skipUnsupported(t, err, "Create")
		failedCreate(t, s, rec, keep, err)
	}
}

// cancellingReader cancels its context after the first read and would
// then go on for limit bytes: a store must stop reading.
type cancellingReader struct {
	cancel context.CancelFunc
	limit  int64
	n      int64
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	if r.n >= r.limit {
		return 0, io.EOF
	}
	if r.n > 0 {
		r.cancel()
	}
	k := int64(len(p))
	if k > 64<<10 {
		k = 64 << 10
	}
	k = min(k, r.limit-r.n)
	clear(p[:k])
	r.n += k
	return int(k), nil
}

func testCancelledContext(t *testing.T, s upstream.Store, o Options) {
	rec := o.ref("cancel")
	keep := create(t, s, rec, "files", "keep", []byte("keep"))

	t.Run("before the call", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		na := upstream.NewAttachment{Record: rec, Field: "files", Name: "late"}
		_, err := s.Create(ctx, na, bytes.NewReader([]byte("never stored")))
		failedCreate(t, s, rec, keep, err)
		if _, err := s.Create(ctx, na, nil); err == nil {
			t.Fatal("placeholder Create with a cancelled context succeeded")
		}
		wantIDs(t, list(t, s, rec), keep.ID)
	})
	t.Run("during the stream", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		r := &cancellingReader{cancel: cancel, limit: 32 << 20}
		na := upstream.NewAttachment{Record: rec, Field: "files", Name: "interrupted"}
		_, err := s.Create(ctx, na, r)
		failedCreate(t, s, rec, keep, err)
		if r.n >= r.limit {
			t.Errorf("the store read all %d bytes after the context was cancelled", r.n)
		}
	})
}
