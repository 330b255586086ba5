//go:build unix

package catalog

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// freeSpace is the space available to an unprivileged user on the
// filesystem holding dir.
func freeSpace(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil //nolint:unconvert // field types differ across platforms
}
