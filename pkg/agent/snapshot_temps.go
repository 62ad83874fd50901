package agent

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

// staleSnapshotTemp is how old a temporary snapshot file must be before
// the agent removes it. A write that is still running is far younger: the
// operator gives a snapshot a minute. The directory may be a volume that
// several agents share, so a younger one may be another agent's write.
const staleSnapshotTemp = time.Hour

// removeStaleSnapshotTemps removes from dir the temporary files of snapshot
// writes (cache.SnapshotTempPrefix) last modified before now minus
// staleSnapshotTemp: a process killed while writing leaves one, on a volume
// that outlives it, and nothing else would ever remove it. It returns how
// many it removed; a file it cannot remove is reported and the others are
// still tried.
func removeStaleSnapshotTemps(dir string, now time.Time) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var errs []error
	removed := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), cache.SnapshotTempPrefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || now.Sub(info.ModTime()) < staleSnapshotTemp {
			continue // gone meanwhile, or perhaps a write in progress
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}
