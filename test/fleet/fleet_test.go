package fleet_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/layercache/layercache/internal/redistest"
)

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(runChild())
	}
	redistest.Main(m)
}

// member is one child process.
type member struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
}

// startFleet starts n children sharing srv and a fresh prefix.
func startFleet(tb testing.TB, n int) ([]*member, string, *redistest.Server) {
	tb.Helper()
	srv := redistest.Shared(tb)
	prefix := redistest.Prefix(tb)
	var fleet []*member
	for i := range n {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), envChild+"=1", envRedis+"="+srv.Addr(), envPrefix+"="+prefix)
		cmd.Stderr = os.Stderr
		in, err := cmd.StdinPipe()
		if err != nil {
			tb.Fatal(err)
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			tb.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			tb.Fatalf("start child %d: %v", i, err)
		}
		m := &member{cmd: cmd, in: in, lines: make(chan string, 1024)}
		go func() {
			defer close(m.lines)
			s := bufio.NewScanner(out)
			for s.Scan() {
				m.lines <- s.Text()
			}
		}()
		tb.Cleanup(func() {
			_, _ = io.WriteString(in, "quit\n")
			_ = in.Close()
			if err := cmd.Wait(); err != nil {
				tb.Errorf("child %d: %v", i, err)
			}
		})
		fleet = append(fleet, m)
	}
	for i, m := range fleet {
		if line := m.next(tb, ""); line != "ready" {
			tb.Fatalf("child %d said %q, want ready", i, line)
		}
	}
	return fleet, prefix, srv
}

func (m *member) send(tb testing.TB, format string, args ...any) {
	tb.Helper()
	if _, err := fmt.Fprintf(m.in, format+"\n", args...); err != nil {
		tb.Fatalf("send: %v", err)
	}
}

// next returns the next line starting with prefix, skipping others, within
// a generous bound (a hung child fails the test instead of hanging it).
func (m *member) next(tb testing.TB, prefix string) string {
	tb.Helper()
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	for {
		select {
		case line, ok := <-m.lines:
			if !ok {
				tb.Fatal("child exited")
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-timeout.C:
			tb.Fatalf("child sent no %q line", prefix)
		}
	}
}

func TestColdKeyAcrossProcessesIsFetchedOnce(t *testing.T) {
	const processes, callers = 4, 25
	fleet, prefix, srv := startFleet(t, processes)
	for _, m := range fleet {
		m.send(t, "stampede cold %d", callers)
	}
	for i, m := range fleet {
		if line := m.next(t, "done"); line != "done 0" {
			t.Fatalf("child %d: %s", i, line)
		}
	}
	client := srv.NewClient(t)
	fetches, err := client.Get(context.Background(), prefix+"fetches").Int()
	if err != nil {
		t.Fatal(err)
	}
	if fetches != 1 {
		t.Fatalf("%d processes x %d callers fetched the cold key %d times, want 1", processes, callers, fetches)
	}
}

func TestColdKeysAcrossProcessesAreFetchedOnceByGetMany(t *testing.T) {
	const processes, callers = 4, 25
	fleet, prefix, srv := startFleet(t, processes)
	// Every process asks for the same five keys and one of its own.
	shared := "m0 m1 m2 m3 m4"
	for i, m := range fleet {
		m.send(t, "stampedemany %d %s own%d", callers, shared, i)
	}
	for i, m := range fleet {
		if line := m.next(t, "done"); line != "done 0" {
			t.Fatalf("child %d: %s", i, line)
		}
	}
	client := srv.NewClient(t)
	fetched, err := client.Get(context.Background(), prefix+"fetches").Int()
	if err != nil {
		t.Fatal(err)
	}
	if want := 5 + processes; fetched != want {
		t.Fatalf("%d processes x %d GetMany callers fetched %d keys in all, want %d (each key once)", processes, callers, fetched, want)
	}
}

func TestInvalidationReachesEveryOtherProcess(t *testing.T) {
	const processes = 4
	fleet, _, _ := startFleet(t, processes)
	for round := range 5 {
		key := "k" + strconv.Itoa(round)
		for _, m := range fleet {
			m.send(t, "load %s", key)
			m.next(t, "loaded")
		}
		fleet[0].send(t, "delete %s", key)
		fleet[0].next(t, "deleted")
		for i, m := range fleet[1:] {
			m.next(t, "invalidated "+key+" ")
			m.send(t, "has %s", key)
			if got := m.next(t, ""); got != "no" {
				t.Fatalf("round %d: child %d still holds %s in memory after the invalidation", round, i+1, key)
			}
		}
	}
}

// BenchmarkFleet reports, for 8 processes sharing one Redis:
//   - origin fetches for one cold key requested by 100 goroutines in each
//     process at once (fetches/op; the goal is 1),
//   - how long an invalidation published by one process takes to drop the
//     key from the others' memory layers (p50-µs, p99-µs).
//
// Run: go test -run '^$' -bench Fleet -benchtime 20x ./test/fleet
func BenchmarkFleet(b *testing.B) {
	const processes, callers = 8, 100
	fleet, prefix, srv := startFleet(b, processes)
	client := srv.NewClient(b)
	ctx := context.Background()
	var fetches float64
	var lat []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key := "cold" + strconv.Itoa(i)
		before, _ := client.Get(ctx, prefix+"fetches").Int()
		for _, m := range fleet {
			m.send(b, "stampede %s %d", key, callers)
		}
		for _, m := range fleet {
			m.next(b, "done")
		}
		after, _ := client.Get(ctx, prefix+"fetches").Int()
		fetches += float64(after - before)

		fleet[0].send(b, "delete %s", key)
		sent, _ := strconv.ParseInt(strings.Fields(fleet[0].next(b, "deleted"))[1], 10, 64)
		for _, m := range fleet[1:] {
			f := strings.Fields(m.next(b, "invalidated "+key+" "))
			got, _ := strconv.ParseInt(f[2], 10, 64)
			lat = append(lat, float64(got-sent)/1e3)
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(fetches/float64(b.N), "fetches/op")
	b.ReportMetric(lat[len(lat)/2], "p50-µs")
	b.ReportMetric(lat[len(lat)*99/100], "p99-µs")
}
