package cache_test

import (
	"context"
	"errors"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/layercache/layercache/pkg/cache"
)

// waitForWaiting polls until n callers wait for the running fetch of key;
// bounded by the test's deadline, it never sleeps for a fixed time.
func waitForWaiting(t *testing.T, s *cache.Stack, key string, n int) {
	t.Helper()
	for s.Waiting(key) < n {
		if t.Context().Err() != nil {
			t.Fatalf("callers waiting for %q never reached %d", key, n)
		}
		runtime.Gosched()
	}
}

// askLog records the keys each call of a bulk fetcher was asked for.
type askLog struct {
	mu    sync.Mutex
	asked [][]string
}

func (l *askLog) add(keys []string) {
	l.mu.Lock()
	l.asked = append(l.asked, slices.Clone(keys))
	l.mu.Unlock()
}

func (l *askLog) calls() [][]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.asked)
}

func TestConcurrentGetManyAndGetFetchAMissingKeyOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t, cache.Options{})
	v := cache.Typed[int](s)
	ctx := t.Context()
	release := make(chan struct{})
	var log askLog
	fetch := func(_ context.Context, keys []string) (map[string]int, error) {
		log.add(keys)
		<-release
		out := make(map[string]int, len(keys))
		for _, k := range keys {
			out[k] = len(k)
		}
		return out, nil
	}
	first := make(chan map[string]int, 1)
	go func() {
		got, err := v.GetMany(ctx, []string{"a", "bb"}, fetch)
		if err != nil {
			t.Error(err)
		}
		first <- got
	}()
	waitForWaiting(t, s, "bb", 1)
	second := make(chan map[string]int, 1)
	go func() {
		got, err := v.GetMany(ctx, []string{"bb", "ccc"}, fetch)
		if err != nil {
			t.Error(err)
		}
		second <- got
	}()
	var getCalls atomic.Int32
	single := make(chan int, 1)
	go func() {
		got, err := v.Get(ctx, "a", func(context.Context) (int, error) { getCalls.Add(1); return -1, nil })
		if err != nil {
			t.Error(err)
		}
		single <- got
	}()
	waitForWaiting(t, s, "bb", 2)
	waitForWaiting(t, s, "a", 2)
	close(release)
	if got, want := <-first, map[string]int{"a": 1, "bb": 2}; !maps.Equal(got, want) {
		t.Errorf("first GetMany = %v, want %v", got, want)
	}
	if got, want := <-second, map[string]int{"bb": 2, "ccc": 3}; !maps.Equal(got, want) {
		t.Errorf("second GetMany = %v, want %v", got, want)
	}
	if got := <-single; got != 1 {
		t.Errorf("Get(a) = %d, want 1 from the first GetMany's fetch", got)
	}
	asked := log.calls()
	slices.SortFunc(asked, slices.Compare)
	if want := [][]string{{"a", "bb"}, {"ccc"}}; !slices.EqualFunc(asked, want, slices.Equal) {
		t.Errorf("bulk fetcher asked for %v, want %v (bb once, by the first call)", asked, want)
	}
	if n := getCalls.Load(); n != 0 {
		t.Errorf("Get's fetcher called %d times, want 0 (a was being fetched)", n)
	}
	if st := s.Stats(); st.Dedupes != 2 || st.Fetches != 2 {
		t.Errorf("stats: dedupes %d, fetches %d; want 2 and 2", st.Dedupes, st.Fetches)
	}
}

func TestGetManyWaitsForAGetFetchingAKeyAndReturnsItsError(t *testing.T) {
	t.Parallel()
	down := errors.New("origin down for a")
	for _, tc := range []struct {
		name    string
		result  error
		want    map[string]int
		wantErr error
	}{
		{"the Get's fetch succeeds", nil, map[string]int{"a": 7, "b": 2}, nil},
		{"the Get's fetch fails", down, map[string]int{"b": 2}, down},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newStack(t, cache.Options{})
			v := cache.Typed[int](s)
			ctx := t.Context()
			release := make(chan struct{})
			go func() {
				_, _ = v.Get(ctx, "a", func(context.Context) (int, error) {
					<-release
					return 7, tc.result
				})
			}()
			waitForWaiting(t, s, "a", 1)
			var log askLog
			done := make(chan struct{})
			var got map[string]int
			var err error
			go func() {
				defer close(done)
				got, err = v.GetMany(ctx, []string{"a", "b"}, func(_ context.Context, keys []string) (map[string]int, error) {
					log.add(keys)
					return map[string]int{"a": -1, "b": 2}, nil
				})
			}()
			waitForWaiting(t, s, "a", 2)
			close(release)
			<-done
			if !maps.Equal(got, tc.want) || !errors.Is(err, tc.wantErr) || (err == nil) != (tc.wantErr == nil) {
				t.Errorf("GetMany = %v, %v; want %v, %v", got, err, tc.want, tc.wantErr)
			}
			if asked := log.calls(); !slices.EqualFunc(asked, [][]string{{"b"}}, slices.Equal) {
				t.Errorf("bulk fetcher asked for %v, want [[b]]", asked)
			}
		})
	}
}

func TestGetManyCallerCancellationDoesNotCancelTheFetchForOthers(t *testing.T) {
	t.Parallel()
	s := newStack(t, cache.Options{})
	v := cache.Typed[int](s)
	release := make(chan struct{})
	leaderCtx, cancelLeader := context.WithCancel(t.Context())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := v.GetMany(leaderCtx, []string{"k"}, func(ctx context.Context, _ []string) (map[string]int, error) {
			select {
			case <-release:
				return map[string]int{"k": 5}, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		})
		leaderErr <- err
	}()
	waitForWaiting(t, s, "k", 1)
	follower := make(chan int, 1)
	go func() {
		got, _ := v.Get(t.Context(), "k", func(context.Context) (int, error) { return -1, nil })
		follower <- got
	}()
	waitForWaiting(t, s, "k", 2)
	cancelLeader()
	if err := <-leaderErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader error = %v, want context.Canceled", err)
	}
	close(release)
	if got := <-follower; got != 5 {
		t.Fatalf("follower got %d, want 5 (the fetch must survive the leader's cancellation)", got)
	}
	if got, err := v.Get(t.Context(), "k", nil); err != nil || got != 5 {
		t.Errorf("Get after the fetch = %d, %v; want the stored 5", got, err)
	}
}

func TestStampedeOfGetManyCallersFetchesEachKeyOnce(t *testing.T) {
	t.Parallel()
	s := newStack(t, cache.Options{})
	v := cache.Typed[int](s)
	keys := []string{"x", "y", "z"}
	want := map[string]int{"x": 1, "y": 2, "z": 3}
	var calls, fetched atomic.Int32 // fetcher calls, and keys asked for over all of them
	release := make(chan struct{})
	var releaseOnce sync.Once
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
	const callers = 1000
	var wg sync.WaitGroup
	var wrong atomic.Int32
	for range callers {
		wg.Go(func() {
			got, err := v.GetMany(context.Background(), keys, func(_ context.Context, keys []string) (map[string]int, error) {
				calls.Add(1)
				fetched.Add(int32(len(keys)))
				<-release
				return want, nil
			})
			if err != nil || !maps.Equal(got, want) {
				wrong.Add(1)
			}
		})
	}
	// Every caller is waiting for one fetch before it may end.
	for _, k := range keys {
		for s.Waiting(k) < callers {
			if n := calls.Load(); n > 1 {
				t.Fatalf("fetcher called %d times while callers gathered, want once", n)
			}
			runtime.Gosched()
		}
	}
	releaseOnce.Do(func() { close(release) })
	wg.Wait()
	if c, n := calls.Load(), fetched.Load(); c != 1 || n != int32(len(keys)) {
		t.Fatalf("fetcher called %d times for %d keys in all, by %d concurrent callers; want once for %d", c, n, callers, len(keys))
	}
	if n := wrong.Load(); n != 0 {
		t.Fatalf("%d callers got a wrong result", n)
	}
	if st := s.Stats(); st.Dedupes != uint64((callers-1)*len(keys)) {
		t.Errorf("dedupes = %d, want %d", st.Dedupes, (callers-1)*len(keys))
	}
}

func TestGetJoiningAGetManyFetchGetsItsKeysError(t *testing.T) {
	t.Parallel()
	s := newStack(t, cache.Options{})
	v := cache.Typed[int](s)
	ctx := t.Context()
	down := errors.New("origin down")
	release := make(chan struct{})
	bulkErr := make(chan error, 1)
	go func() {
		_, err := v.GetMany(ctx, []string{"k", "l"}, func(context.Context, []string) (map[string]int, error) {
			<-release
			return nil, down
		})
		bulkErr <- err
	}()
	waitForWaiting(t, s, "k", 1)
	getErr := make(chan error, 1)
	go func() {
		_, err := v.Get(ctx, "k", func(context.Context) (int, error) { return -1, nil })
		getErr <- err
	}()
	waitForWaiting(t, s, "k", 2)
	close(release)
	if err := <-getErr; !errors.Is(err, down) {
		t.Errorf("Get joining the failed bulk fetch = %v, want its error", err)
	}
	if err := <-bulkErr; !errors.Is(err, down) {
		t.Errorf("GetMany = %v, want the fetch's error", err)
	}
}
