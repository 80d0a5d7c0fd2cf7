package bundled

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// TestFinishFailureLeavesNothing checks the disk after a Create that Finish
// (or what Finish left) failed: no blob, no temp file, no record.
func TestFinishFailureLeavesNothing(t *testing.T) {
	boom := errors.New("the rest of the body is gone")
	tests := []struct {
		name     string
		content  io.Reader
		expected int64
		finish   func(na *upstream.NewAttachment) error
		kind     upstream.Kind
		cause    error
	}{
		{"kinded error", strings.NewReader("x"), 0,
			func(*upstream.NewAttachment) error { return upstream.Errorf(upstream.KindForbidden, "late scope") }, upstream.KindForbidden, nil},
		{"plain error is invalid", strings.NewReader("x"), 0,
			func(*upstream.NewAttachment) error { return boom }, upstream.KindInvalid, boom},
		{"NUL in the field", strings.NewReader("x"), 0,
			func(na *upstream.NewAttachment) error { na.Field = "a\x00b"; return nil }, upstream.KindInvalid, nil},
		{"record id without collection", strings.NewReader("x"), 0,
			func(na *upstream.NewAttachment) error { na.Record.Collection = ""; return nil }, upstream.KindMissing, nil},
		{"partial placeholder", nil, 10,
			func(*upstream.NewAttachment) error { return boom }, upstream.KindInvalid, boom},
		{"plain placeholder", nil, 0,
			func(*upstream.NewAttachment) error { return boom }, upstream.KindInvalid, boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := mustOpen(t, dir)
			calls := 0
			na := upstream.NewAttachment{Record: rec("r"), Name: "f", ExpectedSize: tt.expected,
				Finish: func(na *upstream.NewAttachment) error { calls++; return tt.finish(na) }}
			_, err := s.Create(t.Context(), na, tt.content)
			if got := upstream.KindOf(err); got != tt.kind {
				t.Fatalf("kind %s (%v), want %s", got, err, tt.kind)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Fatalf("error %v does not wrap %v", err, tt.cause)
			}
			if calls != 1 {
				t.Fatalf("Finish called %d times", calls)
			}
			if left := files(t, filepath.Join(dir, "blobs")); len(left) != 0 {
				t.Fatalf("blobs left behind: %v", left)
			}
			if left := files(t, filepath.Join(dir, "tmp")); len(left) != 0 {
				t.Fatalf("temp files left behind: %v", left)
			}
			if _, err := s.GetRecord(t.Context(), rec("r")); !upstream.IsKind(err, upstream.KindNotFound) {
				t.Fatalf("a failed Create wrote its record: %v", err)
			}
			checkConsistent(t, s)
		})
	}
}

func TestFinishPanicLeavesNoBlob(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Finish's panic did not reach the caller")
			}
		}()
		na := upstream.NewAttachment{Record: rec("r"), Finish: func(*upstream.NewAttachment) error { panic("bug") }}
		_, _ = s.Create(t.Context(), na, bytes.NewReader([]byte("x")))
	}()
	if left := files(t, filepath.Join(dir, "blobs")); len(left) != 0 {
		t.Fatalf("blobs left behind: %v", left)
	}
}

// TestFinishOnPlaceholders: a placeholder has no content to wait for, and
// Finish still fills in its metadata before the commit.
func TestFinishOnPlaceholders(t *testing.T) {
	ctx := t.Context()
	s := mustOpen(t, t.TempDir())
	for _, expected := range []int64{0, 4} {
		calls := 0
		na := upstream.NewAttachment{Record: rec("r"), Name: "early", ExpectedSize: expected,
			Finish: func(na *upstream.NewAttachment) error {
				calls++
				na.Name, na.Tags = "late", []string{"t"}
				na.ExpectedSize, na.MaxSize = 1, 1 // applied already: ignored
				return nil
			}}
		a, err := s.Create(ctx, na, nil)
		if err != nil {
			t.Fatal(err)
		}
		if calls != 1 || a.Name != "late" || len(a.Tags) != 1 {
			t.Fatalf("ExpectedSize %d: Finish called %d times, attachment %+v", expected, calls, a)
		}
		if expected > 0 {
			if a, err = s.Append(ctx, a.ID, bytes.NewReader([]byte("four"))); err != nil || !a.HasContent {
				t.Fatalf("Append after Finish changed ExpectedSize: %+v, %v", a, err)
			}
		}
	}
	checkConsistent(t, s)
}
