// Command quickstart shows layercache's engine with nothing installed: a
// memory layer in front of a disk layer, a read-through fetcher, a
// deduplicated stampede and the counters.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/disk"
	"github.com/layercache/layercache/pkg/cache/memory"
)

// User is what the "database" returns.
type User struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
}

func main() {
	if err := run(context.Background()); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	dir, err := os.MkdirTemp("", "layercache-quickstart-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()

	l1, err := memory.New(memory.Options{MaxEntries: 10_000})
	if err != nil {
		return err
	}
	l3, err := disk.New(disk.Options{Dir: dir, MaxBytes: 64 << 20})
	if err != nil {
		return err
	}
	stack, err := cache.New(ctx, []cache.Layer{l1, l3}, cache.Options{TTL: 5 * time.Minute})
	if err != nil {
		return err
	}
	defer func() {
		if err := stack.Close(ctx); err != nil {
			log.Print(err)
		}
	}()
	users := cache.Typed[User](stack)

	// The "database": slow, and it counts how often it is asked.
	var queries atomic.Int32
	findUser := func(id int) cache.Fetcher[User] {
		return func(ctx context.Context) (User, error) {
			queries.Add(1)
			select {
			case <-time.After(50 * time.Millisecond):
			case <-ctx.Done():
				return User{}, ctx.Err()
			}
			return User{ID: id, Name: fmt.Sprintf("user-%d", id)}, nil
		}
	}

	fmt.Println("1. A miss reads through to the database, then hits come from memory:")
	for range 3 {
		start := time.Now()
		u, err := users.Get(ctx, "user:1", findUser(1))
		if err != nil {
			return err
		}
		fmt.Printf("   Get(user:1) = %+v in %v\n", u, time.Since(start).Round(time.Microsecond))
	}

	fmt.Println("2. 1,000 goroutines ask for a cold key at once:")
	var wg sync.WaitGroup
	before := queries.Load()
	for range 1000 {
		wg.Go(func() {
			if _, err := users.Get(ctx, "user:2", findUser(2)); err != nil {
				log.Print(err)
			}
		})
	}
	wg.Wait()
	fmt.Printf("   database queries: %d (the stampede was deduplicated)\n", queries.Load()-before)

	fmt.Println("3. After memory loses the key, the disk layer answers and refills memory:")
	if err := l1.Delete(ctx, "user:1"); err != nil {
		return err
	}
	u, err := users.Get(ctx, "user:1", findUser(1))
	if err != nil {
		return err
	}
	fmt.Printf("   Get(user:1) = %+v, database queries so far: %d\n", u, queries.Load())

	st := stack.Stats()
	fmt.Println("4. Counters:")
	fmt.Printf("   hits %d, misses %d, fetches %d, deduplicated callers %d, backfills %d, hit ratio %.3f\n",
		st.Hits, st.Misses, st.Fetches, st.Dedupes, st.Backfills, st.HitRatio())
	for _, l := range st.Layers {
		fmt.Printf("   layer %-6s hits %5d, misses %5d\n", l.Name, l.Hits, l.Misses)
	}
	return nil
}
