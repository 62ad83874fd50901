package cache

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"
)

// WarmEntry is one key to load into the cache ahead of demand.
type WarmEntry[T any] struct {
	Key string
	// Fetch loads the value.
	Fetch Fetcher[T]
	// Priority orders the work: higher first; equal priorities keep their
	// order.
	Priority int
	// Options apply to the write (TTL, Tags, ...).
	Options []Option
}

// WarmOptions configures Warm.
type WarmOptions struct {
	// Concurrency is how many entries load at once. default: 4
	Concurrency int
	// StopOnError makes the first failure end the warm-up (the entries
	// already loading finish). default: false (keep going, report failures)
	StopOnError bool
	// Refresh fetches and stores every entry even when the cache already
	// holds it. default: false (entries already cached are left alone)
	Refresh bool
	// Progress, when set, is called after each entry, one call at a time.
	Progress func(WarmProgress)
}

// WarmProgress reports the state of a warm-up after one entry.
type WarmProgress struct {
	Key    string // the entry just finished
	Err    error  // its failure, if any
	Done   int    // entries finished, failed ones included
	Failed int    // entries that failed
	Total  int    // entries in the warm-up
}

// WarmReport summarises a finished warm-up.
type WarmReport struct {
	Total, Loaded, Failed int
	// Errors holds the failures, at most 100, in completion order.
	Errors []error
}

const maxWarmErrors = 100

// Warm loads entries into every layer, highest priority first, with bounded
// concurrency. Entries already cached are left alone unless
// WarmOptions.Refresh is set. It returns when all entries are done, on the
// first failure with StopOnError, or when ctx ends; the report counts what
// happened either way.
func (v *View[T]) Warm(ctx context.Context, entries []WarmEntry[T], opts WarmOptions) (WarmReport, error) {
	if opts.Concurrency < 0 {
		return WarmReport{}, fmt.Errorf("cache: WarmOptions.Concurrency is %d; it must not be negative", opts.Concurrency)
	}
	conc := cmp.Or(opts.Concurrency, 4)
	for i, e := range entries {
		if e.Fetch == nil {
			return WarmReport{}, fmt.Errorf("cache: warm entry %d (%q) has no Fetch", i, e.Key)
		}
		if _, err := v.s.qualify(e.Key); err != nil {
			return WarmReport{}, fmt.Errorf("cache: warm entry %d: %w", i, err)
		}
	}
	order := slices.Clone(entries)
	slices.SortStableFunc(order, func(a, b WarmEntry[T]) int { return cmp.Compare(b.Priority, a.Priority) })

	report := WarmReport{Total: len(order)}
	var mu sync.Mutex // guards report and serialises Progress
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	for _, e := range order {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if gctx.Err() != nil {
				return nil // stopped (StopOnError or ctx) while waiting for a slot
			}
			err := v.warmOne(gctx, e, opts.Refresh)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				report.Failed++
				if len(report.Errors) < maxWarmErrors {
					report.Errors = append(report.Errors, fmt.Errorf("warm %q: %w", e.Key, err))
				}
			} else {
				report.Loaded++
			}
			if opts.Progress != nil {
				opts.Progress(WarmProgress{Key: e.Key, Err: err, Done: report.Loaded + report.Failed,
					Failed: report.Failed, Total: report.Total})
			}
			if err != nil && opts.StopOnError {
				return err
			}
			return nil
		})
	}
	err := g.Wait()
	if err == nil {
		err = ctx.Err()
	}
	if err == nil && report.Failed > 0 {
		err = fmt.Errorf("cache: warm: %d of %d entries failed: %w", report.Failed, report.Total, errors.Join(report.Errors...))
	}
	return report, err
}

func (v *View[T]) warmOne(ctx context.Context, e WarmEntry[T], refresh bool) error {
	if !refresh {
		_, err := v.Get(ctx, e.Key, e.Fetch, e.Options...)
		if errors.Is(err, ErrNotFound) {
			return nil // absence is a valid answer, cached when negative caching is on
		}
		return err
	}
	val, err := e.Fetch(ctx)
	if err != nil {
		return err
	}
	return v.Set(ctx, e.Key, val, e.Options...)
}
