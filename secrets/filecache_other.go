//go:build !unix

package secrets

import (
	"io/fs"
	"os"
)

// openFlags: elsewhere than on Unix there is no O_NOFOLLOW; the file is
// still required to be a regular file once open.
const openFlags = os.O_RDONLY

// checkDirOwner: ownership is not checked elsewhere than on Unix.
func checkDirOwner(string, fs.FileInfo) error { return nil }
