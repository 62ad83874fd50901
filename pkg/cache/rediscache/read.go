package rediscache

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/pkg/cache"
)

// Get returns the entry stored under key. A missing key is a miss (found
// false, nil error); so is a key whose data does not decode or that holds a
// non-string type, which is deleted and counted (CorruptEntries). The
// entry's Payload may share memory with the Redis reply and must not be
// modified.
func (l *Layer) Get(ctx context.Context, key string) (cache.Entry, bool, error) {
	k := l.prefix + key
	b, err := l.client.Get(ctx, k).Bytes()
	if errors.Is(err, redis.Nil) {
		return cache.Entry{}, false, nil
	}
	if err != nil && !isWrongType(err) {
		return cache.Entry{}, false, fmt.Errorf("redis layer: get %q: %w", key, err)
	}
	e, err := l.decode(b, err)
	if err != nil {
		l.dropCorrupt(ctx, []string{k})
		return cache.Entry{}, false, nil
	}
	return e, true, nil
}

// GetMany returns the entries stored under keys, in order, with one GET per
// key in pipelines of at most Options.PipelineBatch commands. Misses and
// undecodable entries are reported as in Get. On an error no entries are
// returned.
func (l *Layer) GetMany(ctx context.Context, keys []string) ([]cache.Entry, []bool, error) {
	entries := make([]cache.Entry, len(keys))
	found := make([]bool, len(keys))
	var corrupt []string
	err := batches(keys, l.pipelineBatch, func(off int, batch []string) error {
		pipe := l.client.Pipeline()
		cmds := make([]*redis.StringCmd, len(batch))
		for i, key := range batch {
			cmds[i] = pipe.Get(ctx, l.prefix+key)
		}
		// Exec's error is the first failed command's: redis.Nil for a plain
		// miss, WRONGTYPE for a corrupt one. Every command carries its own,
		// so look at those; Exec's matters only when it is neither (the
		// pipeline itself failed).
		_, execErr := pipe.Exec(ctx)
		for i, cmd := range cmds {
			b, err := cmd.Bytes()
			if errors.Is(err, redis.Nil) {
				continue
			}
			if err != nil && !isWrongType(err) {
				return fmt.Errorf("redis layer: get %q: %w", batch[i], err)
			}
			e, err := l.decode(b, err)
			if err != nil {
				corrupt = append(corrupt, l.prefix+batch[i])
				continue
			}
			entries[off+i], found[off+i] = e, true
		}
		if execErr != nil && !errors.Is(execErr, redis.Nil) && !isWrongType(execErr) {
			return fmt.Errorf("redis layer: get %d keys: %w", len(batch), execErr)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(corrupt) > 0 {
		l.dropCorrupt(ctx, corrupt)
	}
	return entries, found, nil
}

// decode turns the reply to GET (b, getErr) into an entry; getErr is nil or
// a WRONGTYPE error, which makes the key as unusable as bad bytes. The entry
// aliases b where it can: for an uncompressed value its Payload points into
// b.
func (l *Layer) decode(b []byte, getErr error) (cache.Entry, error) {
	if getErr != nil {
		return cache.Entry{}, getErr
	}
	env, err := l.comp.Decode(b)
	if err != nil {
		return cache.Entry{}, err
	}
	return cache.ParseEntry(env)
}

// dropCorrupt counts and deletes stored values that did not decode. It is
// best effort: a failed delete is not reported, since the caller's answer (a
// miss) is the same either way and the next read retries the delete. A
// concurrent writer may have replaced the value between the read and the
// delete; deleting its value too costs one miss, never a wrong answer.
func (l *Layer) dropCorrupt(ctx context.Context, redisKeys []string) {
	l.corrupt.Add(uint64(len(redisKeys)))
	_ = l.unlink(ctx, redisKeys) // best effort, see above
}

// isWrongType reports a WRONGTYPE reply: the key holds a hash, list or other
// non-string, so it was not written by this layer.
func isWrongType(err error) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), "WRONGTYPE")
}
