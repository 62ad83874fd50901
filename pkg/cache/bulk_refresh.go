package cache

import (
	"context"
	"slices"
	"time"
)

// freshRef is a fresh hit of GetMany, kept until its layer reads and
// backfills are done: keys[i] was found fresh until freshUntil.
type freshRef struct {
	i          int
	freshUntil int64
	negative   bool
}

// freshHits runs freshHit for each of GetMany's fresh hits and returns due
// with the indexes of the keys due for a background refresh appended.
func (c *core) freshHits(ctx context.Context, qkeys []string, hits []freshRef, co *callOptions, now int64, canFetch bool, due []int) []int {
	for _, h := range hits {
		if c.freshHit(ctx, qkeys[h.i], h.freshUntil, h.negative, co, now, canFetch) {
			due = append(due, h.i)
		}
	}
	return due
}

// refreshManyInBackground refreshes keys[i], i in due (stale entries and
// fresh ones due for refresh-ahead or early refresh), with one call of the
// bulk fetcher. A key whose background refresh is already running (started
// by Get or another GetMany) is left to it, and the keys this one refreshes
// are marked as running until it ends, so neither Get nor GetMany starts a
// second refresh of them meanwhile. The fetch goes through the
// single-flight group, as Get's refresh does: a key that a caller is
// fetching already waits for that fetch. Refreshes are counted and reported
// (EventRefresh) key by key, as Get's are. The goroutine is owned by the
// Stack: Close cancels and waits for it.
func (v *View[T]) refreshManyInBackground(keys, qkeys []string, due []int, fetch BulkFetcher[T], co callOptions) {
	c := v.s.c
	slices.Sort(due) // the fetcher is asked in the caller's order
	due = c.beginRefreshes(qkeys, due)
	if len(due) == 0 {
		return
	}
	fcs := make([]fence, len(keys))
	running := make([]string, len(due))
	for j, i := range due {
		fcs[i] = c.fences.capture(qkeys[i])
		running[j] = qkeys[i]
	}
	wo := co.clone()
	c.metrics.refreshes.add(uint64(len(due)))
	go func() {
		defer c.background.Done()
		defer c.refreshing.release(running...)
		ctx, cancel := context.WithTimeout(c.life, c.opts.RefreshTimeout)
		defer cancel()
		start := time.Now()
		_, errs := v.fetchMany(ctx, keys, qkeys, due, fcs, fetch, wo, true)
		c.metrics.refreshErrors.add(uint64(len(errs)))
		if c.events.active() {
			took := time.Since(start)
			for _, i := range due {
				c.events.emit(Event{Type: EventRefresh, Key: qkeys[i], Err: errs[i], Duration: took})
			}
		}
	}()
}
