//go:build !linux

package filesystem

import "os"

// Elsewhere than on Linux there is no sync_file_range: the fsync at Commit
// writes everything.
func startWriteback(*os.File, int64, int64) {}
func awaitWriteback(*os.File, int64, int64) {}
