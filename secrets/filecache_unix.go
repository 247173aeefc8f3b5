//go:build unix

package secrets

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// openFlags open a cache file without following a symbolic link and
// without blocking on a FIFO or device planted in its place.
const openFlags = os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// checkDirOwner refuses a cache directory the effective user does not own.
func checkDirOwner(dir string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Geteuid(); int(st.Uid) != uid {
		return &ConfigError{"FileCache.Dir", fmt.Sprintf("%s is owned by uid %d, not by the effective user (%d)", dir, st.Uid, uid)}
	}
	return nil
}
