package redisflight_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redisflight"
)

// The multi-process tests re-run this test binary as child processes:
// TestMain sees childEnv and calls runChild instead of running tests. The
// children find Redis and their task in the environment variables below.
const (
	childEnv     = "REDISFLIGHT_TEST_CHILD" // "stampede" or "hang"
	envAddr      = "REDISFLIGHT_TEST_ADDR"
	envUser      = "REDISFLIGHT_TEST_USER"
	envPass      = "REDISFLIGHT_TEST_PASS"
	envDB        = "REDISFLIGHT_TEST_DB"
	envPrefix    = "REDISFLIGHT_TEST_PREFIX"
	envCallers   = "REDISFLIGHT_TEST_CALLERS"   // goroutines per child
	envAllCalled = "REDISFLIGHT_TEST_ALLCALLED" // callers over all children
)

const (
	flightKey   = "cold-key"
	sharedValue = "value from the one fetch"
	// childLease is the lease of the hanging child's leadership.
	childLease = time.Second
)

// Counters the children keep in Redis, under the test's prefix.
func fetchesKey(prefix string) string  { return prefix + "test:fetches" }
func observedKey(prefix string) string { return prefix + "test:observed" }

// TestDo_processesFetchOnce runs 4 processes × 25 goroutines that all Do
// the same cold key against one Redis: exactly one fetch may run.
func TestDo_processesFetchOnce(t *testing.T) {
	t.Parallel()
	const processes, callers = 4, 25
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)
	client := srv.NewClient(t)

	var wg sync.WaitGroup
	outputs := make([]bytes.Buffer, processes)
	errs := make([]error, processes)
	for i := range processes {
		cmd := child(t, srv, prefix, "stampede",
			envCallers+"="+strconv.Itoa(callers), envAllCalled+"="+strconv.Itoa(processes*callers))
		cmd.Stdout, cmd.Stderr = &outputs[i], &outputs[i]
		if err := cmd.Start(); err != nil {
			t.Fatalf("start child %d: %v", i, err)
		}
		wg.Go(func() { errs[i] = cmd.Wait() })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("child %d: %v; output:\n%s", i, err, outputs[i].String())
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	if n, err := client.Get(ctx, fetchesKey(prefix)).Int(); err != nil || n != 1 {
		t.Errorf("%d processes × %d goroutines ran %d fetches (%v), want 1", processes, callers, n, err)
	}
	if n, err := client.Get(ctx, observedKey(prefix)).Int(); err != nil || n != processes*callers-1 {
		t.Errorf("%d callers waited on the leader (%v), want %d", n, err, processes*callers-1)
	}
}

// TestDo_killedLeaderProcess kills (SIGKILL) a process in the middle of
// its fetch; a waiter in this process takes over once the lease expires.
func TestDo_killedLeaderProcess(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	srv := redistest.Shared(t)
	prefix := redistest.Prefix(t)

	cmd := child(t, srv, prefix, "hang")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	fetching := make(chan bool, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		fetching <- line == "fetching\n"
		exited <- cmd.Wait() // after the pipe's last read, as Wait requires
	})
	defer wg.Wait()
	select {
	case ok := <-fetching:
		if !ok {
			t.Fatalf("child did not start its fetch; stderr:\n%s", stderr.String())
		}
	case <-ctx.Done():
		t.Fatalf("child did not start its fetch: %v", ctx.Err())
	}

	c := newCoordinator(t, srv.NewClient(t), prefix, func(o *redisflight.Options) { o.Lease = childLease })
	waiting := newSignals()
	redisflight.SetHooks(c, nil, waiting.hook)
	var fetches atomic.Int32
	wo := goDo(ctx, t, c, flightKey, func(context.Context) cache.Result {
		fetches.Add(1)
		return cache.Result{Payload: []byte("fetched by the survivor")}
	})
	waiting.mustAwait(ctx, t, 1, "waiter")
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	var exitErr *exec.ExitError
	if err := <-exited; !errors.As(err, &exitErr) || exitErr.Exited() {
		t.Errorf("child after SIGKILL: %v, want killed by the signal; stderr:\n%s", err, stderr.String())
	}
	wantPayload(t, "waiter of the killed leader", receive(ctx, t, wo, "waiter"), "fetched by the survivor")
	if n := fetches.Load(); n != 1 {
		t.Errorf("survivor ran %d fetches, want 1", n)
	}
}

// child returns the command that re-runs this test binary as a child in
// mode, bound to t's lifetime.
func child(t *testing.T, srv *redistest.Server, prefix, mode string, env ...string) *exec.Cmd {
	o := srv.Options()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		childEnv+"="+mode, envAddr+"="+o.Addr, envUser+"="+o.Username, envPass+"="+o.Password,
		envDB+"="+strconv.Itoa(o.DB), envPrefix+"="+prefix)
	cmd.Env = append(cmd.Env, env...)
	return cmd
}

// runChild is a child process's main: it returns the exit status.
func runChild(mode string) int {
	db, _ := strconv.Atoi(os.Getenv(envDB))
	client := redis.NewClient(&redis.Options{
		Addr: os.Getenv(envAddr), Username: os.Getenv(envUser), Password: os.Getenv(envPass), DB: db,
	})
	defer func() { _ = client.Close() }()
	var err error
	switch mode {
	case "stampede":
		err = childStampede(client)
	case "hang":
		err = childHang(client)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// childStampede runs envCallers concurrent Do calls of flightKey. The
// fetch counts itself, then waits until every other caller of every child
// has seen its lease, so that none can arrive after the flight.
func childStampede(client *redis.Client) error {
	prefix := os.Getenv(envPrefix)
	callers, _ := strconv.Atoi(os.Getenv(envCallers))
	all, _ := strconv.Atoi(os.Getenv(envAllCalled))
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := redisflight.New(redisflight.Options{Client: client, Prefix: prefix})
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	redisflight.SetHooks(c, func(string) { client.Incr(ctx, observedKey(prefix)) }, nil)

	fetch := func(ctx context.Context) cache.Result {
		if err := client.Incr(ctx, fetchesKey(prefix)).Err(); err != nil {
			return cache.Result{Err: err.Error()}
		}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			n, err := client.Get(ctx, observedKey(prefix)).Int()
			if err != nil && !errors.Is(err, redis.Nil) {
				return cache.Result{Err: err.Error()}
			}
			if n >= all-1 {
				return cache.Result{Payload: []byte(sharedValue)}
			}
			select {
			case <-ctx.Done():
				return cache.Result{Err: fmt.Sprintf("%d of %d callers joined: %v", n, all-1, ctx.Err())}
			case <-tick.C:
			}
		}
	}
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			res, err := c.Do(ctx, flightKey, fetch)
			if err == nil && (res.Err != "" || string(res.Payload) != sharedValue) {
				err = fmt.Errorf("got %+v, want payload %q", res, sharedValue)
			}
			if err != nil {
				errs[i] = fmt.Errorf("caller %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// childHang becomes the leader of flightKey, says "fetching" on stdout and
// fetches forever, renewing its lease, until it is killed.
func childHang(client *redis.Client) error {
	c, err := redisflight.New(redisflight.Options{
		Client: client, Prefix: os.Getenv(envPrefix), Lease: childLease, RenewEvery: childLease / 5,
	})
	if err != nil {
		return err
	}
	defer func() { _ = c.Close() }()
	_, err = c.Do(context.Background(), flightKey, func(ctx context.Context) cache.Result {
		fmt.Println("fetching")
		<-ctx.Done()
		return cache.Result{Err: "unreachable: the parent kills this process"}
	})
	if err == nil {
		err = errors.New("the fetch returned, want to be killed in it")
	}
	return err
}
