//go:build !unix

package catalog

import (
	"errors"
	"os"
)

// errSpaceUnknown: this platform has no free-space probe here; the
// pre-download check is skipped and a full disk shows up as a write error.
var errSpaceUnknown = errors.New("free disk space is not known on this platform")

func freeSpace(string) (uint64, error) { return 0, errSpaceUnknown }

// lockFile is a no-op here: concurrent pulls of one model are not detected.
func lockFile(*os.File) error { return nil }
