package bundled

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"

	"github.com/dragoman-gw/dragoman/upstream"
)

// TestClassifyDiskErrors: a disk that is full, failing or read-only makes
// writes unavailable (503 in every dialect), not an internal error.
func TestClassifyDiskErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		kind upstream.Kind
	}{
		{syscall.ENOSPC, upstream.KindUnavailable},
		{syscall.EDQUOT, upstream.KindUnavailable},
		{syscall.EROFS, upstream.KindUnavailable},
		{syscall.EIO, upstream.KindUnavailable},
		{&fs.PathError{Op: "write", Path: "/x", Err: syscall.EIO}, upstream.KindUnavailable},
		{fmt.Errorf("sync: %w", syscall.EINVAL), upstream.KindInternal},
		{errors.New("something else"), upstream.KindInternal},
	} {
		got := classify(tc.err, "write content")
		if upstream.KindOf(got) != tc.kind || !errors.Is(got, tc.err) {
			t.Errorf("classify(%v) = %v, want kind %s keeping the cause", tc.err, got, tc.kind)
		}
	}
}
