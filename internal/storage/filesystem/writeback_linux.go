package filesystem

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing [off, off+n) of f to the
// device without waiting (sync_file_range SYNC_FILE_RANGE_WRITE). It is a
// hint: errors are ignored, the fsync at Commit is what makes the data
// durable and reports failures.
func startWriteback(f *os.File, off, n int64) {
	syncRange(f, off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// awaitWriteback waits until [off, off+n) of f has been written to the
// device (writing what is still dirty), so the dirty pages of one upload
// stay bounded and the final fsync has only the tail left.
func awaitWriteback(f *os.File, off, n int64) {
	syncRange(f, off, n, unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
}

func syncRange(f *os.File, off, n int64, flags int) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		for unix.SyncFileRange(int(fd), off, n, flags) == unix.EINTR {
		}
	})
}
