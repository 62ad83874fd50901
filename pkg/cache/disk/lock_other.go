//go:build !unix

package disk

import "os"

// lockDir opens path (Dir/LOCK) without locking it: on this platform the
// caller must make sure that only one Layer uses a directory.
func lockDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, fileMode)
}
