package fleet_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/memory"
	"github.com/layercache/layercache/pkg/cache/redisbus"
	"github.com/layercache/layercache/pkg/cache/rediscache"
	"github.com/layercache/layercache/pkg/cache/redisflight"
)

// Environment of a child process.
const (
	envChild  = "LAYERCACHE_FLEET_CHILD"
	envRedis  = "LAYERCACHE_FLEET_REDIS"
	envPrefix = "LAYERCACHE_FLEET_PREFIX"
)

// runChild is a fleet member. It reads one command per line and answers
// with one line per command (watch events are extra lines):
//
//	stampede KEY N  N goroutines Get KEY; the fetcher INCRs PREFIX+"fetches"  -> "done ERRORS"
//	stampedemany N KEY...  N goroutines GetMany KEYs; the fetcher INCRBYs
//	                PREFIX+"fetches" by the number of keys it is asked for       -> "done ERRORS"
//	load KEY        Get KEY with a fetcher (fills memory)                     -> "loaded"
//	has KEY         is KEY in the memory layer?                               -> "yes" | "no"
//	delete KEY      Delete KEY (publishes on the bus)                         -> "deleted UNIXNANO" (time before Delete)
//	quit
//
// Every remote invalidation prints "invalidated KEY UNIXNANO".
func runChild() int {
	ctx := context.Background()
	prefix := os.Getenv(envPrefix)
	client := redis.NewClient(&redis.Options{Addr: os.Getenv(envRedis)})
	defer func() { _ = client.Close() }()
	mem, err := memory.New(memory.Options{})
	if err != nil {
		return fail(err)
	}
	l2, err := rediscache.New(rediscache.Options{Client: client, Prefix: prefix + "data:"})
	if err != nil {
		return fail(err)
	}
	bus, err := redisbus.New(redisbus.Options{Client: client, Channel: prefix + "bus", Secret: []byte("fleet-test-secret-0123456789abcdef")})
	if err != nil {
		return fail(err)
	}
	coord, err := redisflight.New(redisflight.Options{Client: client, Prefix: prefix + "flight:"})
	if err != nil {
		return fail(err)
	}
	stack, err := cache.New(ctx, []cache.Layer{mem, l2}, cache.Options{TTL: time.Hour, Bus: bus, Coordinator: coord})
	if err != nil {
		return fail(err)
	}
	defer func() { _ = stack.Close(ctx) }()
	v := cache.Typed[string](stack)

	var outMu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		// The parent reads stdout; if it is gone, so is the test.
		_, _ = fmt.Fprintf(out, format+"\n", args...)
		_ = out.Flush()
	}
	stack.Subscribe(func(e cache.Event) {
		if e.Type == cache.EventRemoteInvalidation {
			say("invalidated %s %d", e.Key, time.Now().UnixNano())
		}
	})
	fetch := func(ctx context.Context) (string, error) {
		n, err := client.Incr(ctx, prefix+"fetches").Result()
		return "value-" + strconv.FormatInt(n, 10), err
	}
	fetchMany := func(ctx context.Context, keys []string) (map[string]string, error) {
		n, err := client.IncrBy(ctx, prefix+"fetches", int64(len(keys))).Result()
		out := make(map[string]string, len(keys))
		for _, k := range keys {
			out[k] = k + "-" + strconv.FormatInt(n, 10)
		}
		return out, err
	}
	say("ready")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "stampede":
			n, _ := strconv.Atoi(f[2])
			var wg sync.WaitGroup
			var mu sync.Mutex
			errs := 0
			for range n {
				wg.Go(func() {
					if _, err := v.Get(ctx, f[1], fetch); err != nil {
						mu.Lock()
						errs++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			say("done %d", errs)
		case "stampedemany":
			n, _ := strconv.Atoi(f[1])
			keys := f[2:]
			var wg sync.WaitGroup
			var mu sync.Mutex
			errs := 0
			for range n {
				wg.Go(func() {
					got, err := v.GetMany(ctx, keys, fetchMany)
					if err != nil || len(got) != len(keys) {
						mu.Lock()
						errs++
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			say("done %d", errs)
		case "load":
			if _, err := v.Get(ctx, f[1], fetch); err != nil {
				return fail(err)
			}
			say("loaded")
		case "has":
			if _, ok, _ := mem.Get(ctx, f[1]); ok {
				say("yes")
			} else {
				say("no")
			}
		case "delete":
			sent := time.Now().UnixNano()
			if err := stack.Delete(ctx, f[1]); err != nil {
				return fail(err)
			}
			say("deleted %d", sent)
		case "quit":
			return 0
		}
	}
	return 0
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, "fleet child:", err)
	return 2
}
