package bundled

import (
	"os"
	"syscall"
)

// startWriteback asks the kernel to begin writing f's bytes in
// [off, off+n) to disk without waiting for it (sync_file_range with
// SYNC_FILE_RANGE_WRITE). It promises nothing: the fsync before the commit
// is still what makes the bytes durable. A failure is ignored for the same
// reason.
func startWriteback(f *os.File, off, n int64) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		_ = syscall.SyncFileRange(int(fd), off, n, 2) // SYNC_FILE_RANGE_WRITE
	})
}
