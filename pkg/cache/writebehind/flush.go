package writebehind

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/layercache/layercache/pkg/cache"
)

// flushRequest asks the flusher to write every op queued up to seq upTo.
type flushRequest struct {
	upTo uint64
	done chan error // buffered, so the flusher never waits on it
}

// batch is a group of ops the flusher writes to the inner layer together.
type batch struct {
	ops   []*op
	epoch uint64 // l.epoch when the batch was taken
}

// Flush writes every write queued before the call to the inner layer, in
// batches of Options.BatchSize, and returns when they are done. It returns
// nil when all of them reached the inner layer, and otherwise an error
// wrapping ErrDropped for those that were dropped (they were reported to
// Options.OnError too). The flusher does the work: if ctx ends first,
// Flush returns ctx's error and the flush goes on without it. After Close
// has begun, Flush returns ErrClosed.
func (l *Layer) Flush(ctx context.Context) error {
	l.mu.RLock()
	closed, upTo := l.closed, l.seq
	l.mu.RUnlock()
	if closed {
		return ErrClosed
	}
	req := flushRequest{upTo: upTo, done: make(chan error, 1)}
	select {
	case l.flushReq <- req:
	case <-l.closing:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run is the flusher goroutine. It returns after Close has begun and it
// has drained the queue; stop stops tick's source.
func (l *Layer) run(ctx context.Context, tick <-chan time.Time, stop func()) {
	defer close(l.done)
	defer stop()
	for {
		select {
		case _, ok := <-tick:
			if !ok {
				tick = nil
				continue
			}
			// Drops are reported through OnError and Stats.
			_ = l.drain(ctx, l.lastSeq())
		case <-l.kick:
			l.flushFull(ctx)
		case req := <-l.flushReq:
			req.done <- l.drain(ctx, req.upTo)
		case <-l.closing:
			// No op is queued after closing is closed (put checks
			// l.closed, which Close sets first), so this ends.
			l.drainErr = l.drain(ctx, math.MaxUint64)
			return
		}
	}
}

// flushFull writes full batches of the ops queued so far. Ops queued
// meanwhile wait for the next round, so that a steady stream of writes
// cannot keep the flusher from Flush requests and ticks; if a full batch
// is left, flushFull tells the flusher to come back.
func (l *Layer) flushFull(ctx context.Context) {
	upTo := l.lastSeq()
	for b := l.take(upTo, l.cfg.batchSize); b != nil; b = l.take(upTo, l.cfg.batchSize) {
		_ = l.write(ctx, b) // drops are reported through OnError and Stats
	}
	l.mu.RLock()
	full := len(l.queue) >= l.cfg.batchSize
	l.mu.RUnlock()
	if full {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// lastSeq returns the sequence number of the last op queued.
func (l *Layer) lastSeq() uint64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.seq
}

// drain writes, batch by batch, every op queued up to seq upTo, and
// returns the errors of the writes it dropped.
func (l *Layer) drain(ctx context.Context, upTo uint64) error {
	var errs []error
	for b := l.take(upTo, 1); b != nil; b = l.take(upTo, 1) {
		if err := l.write(ctx, b); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// take moves up to BatchSize ops queued up to seq upTo from the head of the
// queue into a new in-flight batch, if at least atLeast ops are queued.
func (l *Layer) take(upTo uint64, atLeast int) *batch {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.queue) < atLeast {
		return nil
	}
	n := 0
	for n < len(l.queue) && n < l.cfg.batchSize && l.queue[n].seq <= upTo {
		n++
	}
	if n == 0 {
		return nil
	}
	b := &batch{ops: make([]*op, n), epoch: l.epoch}
	copy(b.ops, l.queue)
	clear(l.queue[:n]) // let the backing array forget them
	l.queue = l.queue[n:]
	l.inflight = make(map[string]*op, n)
	for _, o := range b.ops {
		delete(l.pending, o.key)
		l.inflight[o.key] = o
	}
	return b
}

// write hands b to the inner layer (SetMany for its sets, DeleteMany for
// its deletes), retrying the failed part with backoff up to MaxRetries
// times, and ends the batch. It returns nil when every write reached the
// inner layer or Clear discarded the batch, and otherwise the error it
// reported to OnError for the writes it dropped.
func (l *Layer) write(ctx context.Context, b *batch) error {
	var items []cache.Item
	var dels []string
	for _, o := range b.ops {
		if o.del {
			dels = append(dels, o.key)
		} else {
			items = append(items, cache.Item{Key: o.key, Entry: o.entry})
		}
	}
	flushed, attempts := 0, 0
	var failure error // why the last attempt failed, or why writing stopped
	for {
		if attempts > 0 {
			if attempts > l.cfg.maxRetries || ctx.Err() != nil {
				break
			}
			if err := pause(ctx, l.cfg.backoff(attempts)); err != nil {
				failure = errors.Join(err, failure)
				break
			}
		}
		if err := l.acquire(ctx); err != nil {
			failure = errors.Join(err, failure)
			break
		}
		if l.discarded(b) {
			l.release()
			return nil
		}
		attempts++
		var errs []error
		if len(items) > 0 {
			if err := l.inner.SetMany(ctx, items); err != nil {
				errs = append(errs, fmt.Errorf("set %d keys: %w", len(items), err))
			} else {
				flushed += len(items)
				items = nil
			}
		}
		if len(dels) > 0 {
			if err := l.inner.DeleteMany(ctx, dels); err != nil {
				errs = append(errs, fmt.Errorf("delete %d keys: %w", len(dels), err))
			} else {
				flushed += len(dels)
				dels = nil
			}
		}
		l.release()
		if len(errs) == 0 {
			failure = nil
			break
		}
		failure = errors.Join(errs...)
		l.mu.Lock()
		l.stats.Failed += uint64(len(errs))
		l.mu.Unlock()
		if ctx.Err() != nil {
			failure = errors.Join(context.Cause(ctx), failure)
		}
	}
	return l.finish(b, flushed, items, dels, attempts, failure)
}

// discarded reports whether Clear has run since b was taken.
func (l *Layer) discarded(b *batch) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return b.epoch != l.epoch
}

// finish ends batch b: it counts what reached the inner layer, makes the
// batch's writes invisible to reads, wakes writers waiting for room, and
// drops what is left of items and dels, reporting them to OnError and
// returning the error. Writes that a Clear discarded are not reported.
func (l *Layer) finish(b *batch, flushed int, items []cache.Item, dels []string, attempts int, failure error) error {
	l.mu.Lock()
	l.stats.Flushes++
	l.stats.Flushed += uint64(flushed)
	if b.epoch != l.epoch {
		l.mu.Unlock()
		return nil
	}
	l.inflight = nil
	l.wake()
	n := len(items) + len(dels)
	l.stats.Dropped += uint64(n)
	l.mu.Unlock()
	if n == 0 {
		return nil
	}
	keys := make([]string, 0, n)
	for _, it := range items {
		keys = append(keys, it.Key)
	}
	keys = append(keys, dels...)
	err := fmt.Errorf("%w: %d writes to layer %s after %d attempts: %w",
		ErrDropped, n, l.info.Name, attempts, failure)
	if l.cfg.onError != nil {
		l.cfg.onError(keys, err)
	}
	return err
}

// pause waits for d, or returns ctx's cause if ctx ends first.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
