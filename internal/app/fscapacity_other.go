//go:build !linux

package app

import "errors"

// fsCapacity is only implemented on Linux; elsewhere the filesystem
// metrics are absent.
func fsCapacity(path string) (size, avail uint64, err error) {
	return 0, 0, errors.ErrUnsupported
}
