package disk

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Clear removes every record and temporary file under the directory,
// including records the index does not know (for example ones New could not
// read), and fsyncs the shard directories. It blocks writers while it runs;
// readers see misses. Files that are not records are left alone.
func (l *Layer) Clear(ctx context.Context) error {
	if err := l.check(ctx, "clear", ""); err != nil {
		return err
	}
	for i := range l.stripes {
		l.stripes[i].Lock()
	}
	defer func() {
		for i := range l.stripes {
			l.stripes[i].Unlock()
		}
	}()
	if l.closed.Load() {
		return ErrClosed
	}
	l.mu.Lock()
	l.idx.reset()
	l.mu.Unlock()

	var errs []error
	for shard := range shardCount {
		if err := clearShard(l.shardDir(shard), l.dirty[shard].Swap(false)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("disk layer: clear: %w", err)
	}
	return nil
}

// clearShard removes the records and temporary files in one shard
// directory and fsyncs it when it removed something or dirty is set.
func clearShard(dir string, dirty bool) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	removed := false
	for _, de := range entries {
		name := de.Name()
		if _, ok := parseRecordName(name); !ok && !strings.HasPrefix(name, tempPrefix) {
			continue
		}
		gone, err := removeFile(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, err)
		}
		removed = removed || gone
	}
	if removed || dirty {
		if err := syncDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
