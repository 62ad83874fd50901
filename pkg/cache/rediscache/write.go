package rediscache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/compress"
)

// Set stores e under key with SET … PX, so Redis drops it at e.ExpiresAt
// (rounded up to the millisecond; never, when ExpiresAt is 0). An entry that
// has already expired is not stored: the key is deleted instead, so an older
// value does not outlive it. An entry whose encoding exceeds
// Options.MaxValueBytes fails with an error wrapping cache.ErrTooLarge and
// leaves the stored value alone. Set does not retain e.
func (l *Layer) Set(ctx context.Context, key string, e cache.Entry) error {
	ttl, live := ttlOf(&e, time.Now())
	if !live {
		if err := l.client.Unlink(ctx, l.prefix+key).Err(); err != nil {
			return fmt.Errorf("redis layer: set %q (expired, delete): %w", key, err)
		}
		return nil
	}
	val, err := l.encode(&e)
	if err != nil {
		return fmt.Errorf("redis layer: set %q: %w", key, err)
	}
	if err := l.client.Set(ctx, l.prefix+key, val, ttl).Err(); err != nil {
		return fmt.Errorf("redis layer: set %q: %w", key, err)
	}
	return nil
}

// SetMany stores every item as Set does, with one SET (or, for an expired
// entry, UNLINK) per key in pipelines of at most Options.PipelineBatch
// commands. Every entry's size is checked before anything is sent, so an
// oversized entry fails the call without writing any item. It is not atomic:
// after a Redis error, some items may be stored and others not.
func (l *Layer) SetMany(ctx context.Context, items []cache.Item) error {
	for _, it := range items {
		if _, err := l.checkSize(&it.Entry); err != nil {
			return fmt.Errorf("redis layer: set %q: %w", it.Key, err)
		}
	}
	return batches(items, l.pipelineBatch, func(_ int, batch []cache.Item) error {
		// The time is read per batch: PX is relative, and earlier batches'
		// round trips would otherwise lengthen later entries' TTLs.
		now := time.Now()
		pipe := l.client.Pipeline()
		cmds := make([]redis.Cmder, len(batch))
		for i := range batch {
			it := &batch[i]
			ttl, live := ttlOf(&it.Entry, now)
			if !live {
				cmds[i] = pipe.Unlink(ctx, l.prefix+it.Key)
				continue
			}
			val, err := l.encode(&it.Entry)
			if err != nil {
				return fmt.Errorf("redis layer: set %q: %w", it.Key, err)
			}
			cmds[i] = pipe.Set(ctx, l.prefix+it.Key, val, ttl)
		}
		_, execErr := pipe.Exec(ctx)
		for i, cmd := range cmds {
			if err := cmd.Err(); err != nil {
				return fmt.Errorf("redis layer: set %q: %w", batch[i].Key, err)
			}
		}
		if execErr != nil {
			return fmt.Errorf("redis layer: set %d keys: %w", len(batch), execErr)
		}
		return nil
	})
}

// Delete removes key (UNLINK: Redis frees the memory in the background).
// Deleting a missing key is not an error.
func (l *Layer) Delete(ctx context.Context, key string) error {
	if err := l.client.Unlink(ctx, l.prefix+key).Err(); err != nil {
		return fmt.Errorf("redis layer: delete %q: %w", key, err)
	}
	return nil
}

// DeleteMany removes keys with one UNLINK per key, in pipelines of at most
// Options.DeleteBatch commands. It stops at the first failed batch.
func (l *Layer) DeleteMany(ctx context.Context, keys []string) error {
	redisKeys := make([]string, len(keys))
	for i, k := range keys {
		redisKeys[i] = l.prefix + k
	}
	if err := l.unlink(ctx, redisKeys); err != nil {
		return fmt.Errorf("redis layer: delete %d keys: %w", len(keys), err)
	}
	return nil
}

// unlink deletes redisKeys (prefix included), one UNLINK per key, in
// pipelines of at most DeleteBatch commands.
func (l *Layer) unlink(ctx context.Context, redisKeys []string) error {
	if len(redisKeys) == 1 {
		return l.client.Unlink(ctx, redisKeys[0]).Err()
	}
	return batches(redisKeys, l.deleteBatch, func(_ int, batch []string) error {
		pipe := l.client.Pipeline()
		for _, k := range batch {
			pipe.Unlink(ctx, k)
		}
		_, err := pipe.Exec(ctx)
		return err
	})
}

// checkSize returns the envelope size of e, failing with cache.ErrTooLarge
// above MaxValueBytes.
func (l *Layer) checkSize(e *cache.Entry) (int, error) {
	n := cache.EntrySize(e)
	if n > l.maxValue {
		return n, fmt.Errorf("%w: entry is %d bytes encoded, MaxValueBytes is %d", cache.ErrTooLarge, n, l.maxValue)
	}
	return n, nil
}

// encode returns the stored form of e: marker byte + envelope, compressed
// when the Compressor wants to.
func (l *Layer) encode(e *cache.Entry) ([]byte, error) {
	n, err := l.checkSize(e)
	if err != nil {
		return nil, err
	}
	if !l.comp.Compresses(n) {
		// Stored raw: build marker + envelope in place, one allocation.
		return cache.AppendEntry(append(make([]byte, 0, 1+n), byte(compress.None)), e), nil
	}
	val, err := l.comp.Encode(nil, cache.AppendEntry(make([]byte, 0, n), e))
	if errors.Is(err, compress.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", cache.ErrTooLarge, err)
	}
	return val, err
}

// ttlOf returns how long Redis should keep e, counted from now and rounded
// up to the millisecond, with live false when e has already expired. A zero
// duration means no expiry.
func ttlOf(e *cache.Entry, now time.Time) (ttl time.Duration, live bool) {
	at := e.ExpiresAt()
	if at == 0 {
		return 0, true
	}
	left := at - now.UnixNano()
	if left <= 0 {
		return 0, false
	}
	ms := (left + int64(time.Millisecond) - 1) / int64(time.Millisecond)
	return time.Duration(ms) * time.Millisecond, true
}
