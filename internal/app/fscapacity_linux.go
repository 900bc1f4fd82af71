package app

import "syscall"

// fsCapacity returns the size of the filesystem holding path and the bytes
// available on it to an unprivileged process.
func fsCapacity(path string) (size, avail uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	return st.Blocks * uint64(st.Bsize), st.Bavail * uint64(st.Bsize), nil
}
