package cache_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/cachetest"
	"github.com/layercache/layercache/pkg/cache/codec"
	"github.com/layercache/layercache/pkg/cache/disk"
)

func newDisk(t testing.TB, clock cache.Clock) *disk.Layer {
	t.Helper()
	l, err := disk.New(disk.Options{Dir: t.TempDir(), Clock: clock})
	if err != nil {
		t.Fatalf("disk.New: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestValuesRoundTripThroughAByteLayerWithEachCodec(t *testing.T) {
	t.Parallel()
	for _, c := range []codec.Codec{codec.JSON{}, codec.MessagePack{}} {
		t.Run(c.Name(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			mem, dsk := newMemory(t, "memory", nil), newDisk(t, nil)
			s := newStack(t, cache.Options{Codec: c}, mem, dsk)
			v := cache.Typed[user](s)
			want := user{ID: 7, Name: "Grace"}
			must(t, v.Set(ctx, "u", want))
			must(t, mem.Delete(ctx, "u")) // force the read to decode from disk
			got, err := v.Get(ctx, "u", nil)
			if err != nil || got != want {
				t.Fatalf("Get = %+v, %v; want %+v", got, err, want)
			}
			if e, ok, _ := mem.Get(ctx, "u"); !ok || e.Value != want {
				t.Fatalf("memory after backfill holds %v (found %v), want the decoded value", e.Value, ok)
			}
		})
	}
}

func TestUndecodableEntryIsAMissCountedAndDeleted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsk := newDisk(t, nil)
	s := newStack(t, cache.Options{}, dsk)
	must(t, dsk.Set(ctx, "u", cache.Entry{Payload: []byte("{not json")}))
	var corrupt []cache.Event
	s.Subscribe(func(e cache.Event) {
		if e.Type == cache.EventCorrupt {
			corrupt = append(corrupt, e)
		}
	})
	_, err := cache.Typed[user](s).Get(ctx, "u", nil)
	if !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("Get of an undecodable entry = %v, want ErrMiss", err)
	}
	if st := s.Stats(); st.Corrupt != 1 || len(corrupt) != 1 {
		t.Fatalf("Corrupt = %d, corrupt events %d; want 1, 1", st.Corrupt, len(corrupt))
	}
	if _, ok, _ := dsk.Get(ctx, "u"); ok {
		t.Error("the undecodable entry was not deleted")
	}
}

func TestOversizedValuesAreRejectedAndNothingIsStored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStack(t, cache.Options{MaxValueBytes: 1024}, newMemory(t, "memory", nil), newDisk(t, nil))
	v := cache.Typed[string](s)
	err := v.Set(ctx, "big", strings.Repeat("x", 2048))
	if !errors.Is(err, cache.ErrTooLarge) {
		t.Fatalf("Set of a 2 KiB value with a 1 KiB limit = %v, want ErrTooLarge", err)
	}
	if _, err := v.Get(ctx, "big", nil); !errors.Is(err, cache.ErrMiss) {
		t.Fatalf("Get after a rejected Set = %v, want ErrMiss", err)
	}
	// A large value under the limit round-trips: there is no node limit.
	big := strings.Repeat("y", 1000)
	must(t, v.Set(ctx, "ok", big))
	if got, _ := v.Get(ctx, "ok", nil); got != big {
		t.Fatal("a value under the limit did not round-trip")
	}
}

func TestBackfillFromDiskKeepsRemainingTTL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := cachetest.NewManualClock()
	mem, dsk := newMemory(t, "memory", clock), newDisk(t, clock)
	s := newStack(t, cache.Options{Clock: clock, TTL: time.Hour}, mem, dsk)
	v := cache.Typed[int](s)
	must(t, v.Set(ctx, "k", 1))
	must(t, mem.Delete(ctx, "k"))
	clock.Advance(20 * time.Minute)
	if _, err := v.Get(ctx, "k", nil); err != nil {
		t.Fatal(err)
	}
	report, _ := s.Inspect(ctx, "k")
	if report[0].FreshFor != 40*time.Minute || report[1].FreshFor != 40*time.Minute {
		t.Fatalf("after backfill fresh-for = %v (memory), %v (disk); want 40m in both", report[0].FreshFor, report[1].FreshFor)
	}
	if report[1].Size == 0 {
		t.Error("Inspect reports no size for the disk entry")
	}
}

func TestAFetchedValueTooLargeToStoreIsReturnedNotStored(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("x", 2048)
	for _, tc := range []struct {
		name string
		read func(ctx context.Context, v *cache.View[string]) (string, error)
	}{
		{"Get", func(ctx context.Context, v *cache.View[string]) (string, error) {
			return v.Get(ctx, "big", func(context.Context) (string, error) { return big, nil })
		}},
		{"GetMany", func(ctx context.Context, v *cache.View[string]) (string, error) {
			got, err := v.GetMany(ctx, []string{"big"}, func(context.Context, []string) (map[string]string, error) {
				return map[string]string{"big": big}, nil
			})
			return got["big"], err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			s := newStack(t, cache.Options{MaxValueBytes: 1024}, newMemory(t, "memory", nil), newDisk(t, nil))
			v := cache.Typed[string](s)
			var events []cache.Event
			var mu sync.Mutex
			stop := s.Subscribe(func(e cache.Event) {
				if e.Type == cache.EventError {
					mu.Lock()
					events = append(events, e)
					mu.Unlock()
				}
			})
			defer stop()
			got, err := tc.read(ctx, v)
			if err != nil || got != big {
				t.Fatalf("read = %d bytes, %v; want the fetched 2 KiB value", len(got), err)
			}
			if _, err := v.Get(ctx, "big", nil); !errors.Is(err, cache.ErrMiss) {
				t.Errorf("Get after the fetch = %v, want ErrMiss (nothing stored)", err)
			}
			if n := s.Stats().WriteFailures; n != 1 {
				t.Errorf("write failures = %d, want 1", n)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(events) != 1 || !errors.Is(events[0].Err, cache.ErrTooLarge) || events[0].Key != "big" {
				t.Errorf("error events = %+v, want one ErrTooLarge for big", events)
			}
		})
	}
}
