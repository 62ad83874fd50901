package redistest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/layercache/layercache/internal/redistest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(redistest.Wrap(m))
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestStartStopRestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.NewClient(t, func(o *redis.Options) { o.MaxRetries, o.DialerRetries = -1, 1 })
	if err := c.Set(ctx(t), "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET on a started server: %v", err)
	}

	srv.Stop(t)
	if err := c.Ping(ctx(t)).Err(); err == nil {
		t.Fatal("PING after Stop succeeded, want an error")
	}
	srv.Stop(t) // stopping twice is harmless

	addr := srv.Addr()
	srv.Restart(t)
	if srv.Addr() != addr {
		t.Errorf("Restart moved the server from %s to %s", addr, srv.Addr())
	}
	if err := c.Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("PING after Restart: %v", err)
	}
	if err := c.Get(ctx(t), "k").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET k after Restart = %v, want redis.Nil (no persistence)", err)
	}
	srv.Restart(t) // restarting a running server works too
	if err := c.Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("PING after second Restart: %v", err)
	}
}

func TestStartGivesEachTestItsOwnServer(t *testing.T) {
	t.Parallel()
	a, b := redistest.Start(t), redistest.Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("two Start calls share %s", a.Addr())
	}
	if err := a.NewClient(t).Set(ctx(t), "only-a", 1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := b.NewClient(t).Exists(ctx(t), "only-a").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS only-a on the other server = %d, %v; want 0", n, err)
	}
}

func TestSharedIsOneServer(t *testing.T) {
	t.Parallel()
	a, b := redistest.Shared(t), redistest.Shared(t)
	if a != b {
		t.Fatal("Shared returned two servers")
	}
	if err := a.NewClient(t).Ping(ctx(t)).Err(); err != nil {
		t.Fatalf("PING shared server: %v", err)
	}
}

func TestPrefixIsUniqueAndGlobFree(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		p := redistest.Prefix(t)
		if seen[p] {
			t.Fatalf("Prefix repeated %q", p)
		}
		seen[p] = true
		if strings.ContainsAny(p, `*?[]\`) {
			t.Fatalf("Prefix %q holds glob metacharacters", p)
		}
	}
	t.Run("odd [name]*", func(t *testing.T) {
		if p := redistest.Prefix(t); strings.ContainsAny(p, `*?[]\ `) {
			t.Errorf("Prefix %q holds glob metacharacters or spaces", p)
		}
	})
}

func TestNewDBIsolatesTests(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	a, b := srv.NewDB(t), srv.NewDB(t)
	shared := srv.Options().DB
	if a.Options().DB == b.Options().DB || a.Options().DB == shared || b.Options().DB == shared {
		t.Fatalf("NewDB handed out databases %d and %d; want two distinct ones other than %d", a.Options().DB, b.Options().DB, shared)
	}
	if err := a.Set(ctx(t), "k", "a", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := b.DBSize(ctx(t)).Result(); err != nil || n != 0 {
		t.Errorf("DBSIZE of the other database = %d, %v; want 0", n, err)
	}
}

func TestNewDBFlushesOnRelease(t *testing.T) {
	t.Parallel()
	srv := redistest.Shared(t)
	var db int
	t.Run("writer", func(t *testing.T) {
		c := srv.NewDB(t)
		db = c.Options().DB
		if err := c.Set(ctx(t), "left-behind", 1, 0).Err(); err != nil {
			t.Fatal(err)
		}
	})
	c := srv.NewClient(t, func(o *redis.Options) { o.DB = db })
	if n, err := c.DBSize(ctx(t)).Result(); err != nil || n != 0 {
		t.Errorf("DBSIZE of database %d after its test ended = %d, %v; want 0", db, n, err)
	}
}

func TestStartClusterSpreadsKeys(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	c := cl.NewClient(t)
	for i := range 100 {
		if err := c.Set(ctx(t), "key:"+string(rune('a'+i%26))+string(rune('a'+i/26)), i, 0).Err(); err != nil {
			t.Fatalf("SET on the cluster: %v", err)
		}
	}
	for _, node := range cl.Nodes() {
		n, err := node.NewClient(t).DBSize(ctx(t)).Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("node %s holds no keys of 100, want them spread over every master", node.Addr())
		}
	}
}
