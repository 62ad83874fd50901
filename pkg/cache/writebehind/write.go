package writebehind

import (
	"context"
	"fmt"

	"github.com/layercache/layercache/pkg/cache"
)

// Set queues a write of e under key and returns; the flusher writes it to
// the inner layer later. A queued write of key, if any, is replaced. The
// Layer keeps e as given until the write is flushed.
//
// When Options.MaxPending writes are pending and key has none queued, Set
// waits for room (Block; it returns an error wrapping ctx's error if ctx
// ends first) or fails with an error wrapping ErrQueueFull (Reject).
// Otherwise it does not block and ignores ctx.
func (l *Layer) Set(ctx context.Context, key string, e cache.Entry) error {
	return l.put(ctx, key, e, false)
}

// SetMany queues every item, in order, as Set does. It is not atomic: if
// an item cannot be queued (the queue is full with Reject, or ctx ends
// while waiting for room), SetMany returns that error and the items before
// it stay queued.
func (l *Layer) SetMany(ctx context.Context, items []cache.Item) error {
	for i := range items {
		if err := l.put(ctx, items[i].Key, items[i].Entry, false); err != nil {
			return err
		}
	}
	return nil
}

// Delete queues a delete of key, which replaces a queued write of key, and
// returns. Until the delete is flushed, reads of key find nothing. It
// waits for room, or fails, as Set does.
func (l *Layer) Delete(ctx context.Context, key string) error {
	return l.put(ctx, key, cache.Entry{}, true)
}

// DeleteMany queues a delete of every key, in order, as Delete does. It is
// not atomic, in the same way as SetMany.
func (l *Layer) DeleteMany(ctx context.Context, keys []string) error {
	for _, k := range keys {
		if err := l.put(ctx, k, cache.Entry{}, true); err != nil {
			return err
		}
	}
	return nil
}

// put queues a set of e (or a delete, if del) under key.
func (l *Layer) put(ctx context.Context, key string, e cache.Entry, del bool) error {
	l.mu.Lock()
	for {
		if l.closed {
			l.mu.Unlock()
			return ErrClosed
		}
		if o := l.pending[key]; o != nil {
			o.entry, o.del = e, del
			l.stats.Coalesced++
			l.mu.Unlock()
			return nil
		}
		if len(l.pending)+len(l.inflight) < l.cfg.maxPending {
			l.push(key, e, del)
			l.mu.Unlock()
			return nil
		}
		if l.cfg.onFull == Reject {
			l.mu.Unlock()
			return fmt.Errorf("%w: %d writes pending (MaxPending)", ErrQueueFull, l.cfg.maxPending)
		}
		if l.room == nil {
			l.room = make(chan struct{})
		}
		room := l.room
		l.mu.Unlock()
		select {
		case <-room:
		case <-ctx.Done():
			return fmt.Errorf("writebehind layer: waiting for room in a full queue (MaxPending %d): %w",
				l.cfg.maxPending, ctx.Err())
		}
		l.mu.Lock()
	}
}

// push appends a new write of key to the queue and tells the flusher when a
// full batch is queued. l.mu must be held and key must not be pending.
func (l *Layer) push(key string, e cache.Entry, del bool) {
	l.seq++
	o := &op{key: key, entry: e, del: del, seq: l.seq}
	l.pending[key] = o
	l.queue = append(l.queue, o)
	if len(l.queue) >= l.cfg.batchSize {
		select {
		case l.kick <- struct{}{}:
		default: // the flusher has been told already
		}
	}
}
