package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// NewClient returns a client built from Options (database 0, or the URL's
// for an external server) after applying each of opts in order, and closes
// it when tb ends.
func (s *Server) NewClient(tb testing.TB, opts ...func(*redis.Options)) *redis.Client {
	tb.Helper()
	o := s.Options()
	for _, f := range opts {
		f(o)
	}
	return newClient(tb, o)
}

func newClient(tb testing.TB, o *redis.Options) *redis.Client {
	c := redis.NewClient(o)
	tb.Cleanup(func() {
		if err := c.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
			tb.Errorf("redistest: close client: %v", err)
		}
	})
	return c
}

// prefixSeq makes Prefix unique within the process; the pid makes it unique
// across test binaries sharing an external server.
var prefixSeq atomic.Uint64

// Prefix returns a key prefix no other test uses, such as
// "lctest:4242:TestScan_glob:7:". It holds no Redis glob metacharacters, so
// it is safe in SCAN patterns. Keys written under it are not deleted when tb
// ends: a started server takes them with it, an external one keeps them
// until they expire.
func Prefix(tb testing.TB) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.', r == '/':
			return r
		}
		return '_'
	}, tb.Name())
	if len(name) > 64 {
		name = name[:64]
	}
	return fmt.Sprintf("lctest:%d:%s:%d:", os.Getpid(), name, prefixSeq.Add(1))
}

// NewDB returns a client for a logical database that no other test of this
// binary holds, flushed before use and flushed and released when tb ends.
// The database of Options (0, or the URL's) is never handed out: that is
// where Prefix-isolated tests work. It fails tb when every database is
// taken. Cluster nodes have database 0 only.
func (s *Server) NewDB(tb testing.TB, opts ...func(*redis.Options)) *redis.Client {
	tb.Helper()
	db, err := s.dbs.acquire(s)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.flushDB(db); err != nil {
		s.dbs.release(db)
		tb.Fatalf("redistest: flush database %d: %v", db, err)
	}
	// Registered before the client's cleanup, so it runs after it.
	tb.Cleanup(func() {
		if err := s.flushDB(db); err != nil {
			tb.Errorf("redistest: flush database %d: %v", db, err)
		}
		s.dbs.release(db)
	})
	o := s.Options()
	for _, f := range opts {
		f(o)
	}
	o.DB = db
	return newClient(tb, o)
}

// flushDB empties database db with a short-lived client.
func (s *Server) flushDB(db int) error {
	o := s.Options()
	o.DB = db
	c := redis.NewClient(o)
	ctx, cancel := context.WithTimeout(context.Background(), pingDeadline)
	defer cancel()
	err := c.FlushDB(ctx).Err()
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	return err
}

// dbPool hands out database numbers below n except the one of Options; n
// is read from the server's "databases" setting on first use.
type dbPool struct {
	mu    sync.Mutex // protects the fields below
	n     int        // number of databases; 0 until known
	inUse map[int]bool
}

func (p *dbPool) acquire(s *Server) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == 0 {
		n, err := s.databases()
		if err != nil {
			return 0, err
		}
		// Reserve the database Prefix-isolated tests use.
		p.n, p.inUse = n, map[int]bool{s.Options().DB: true}
	}
	for db := range p.n {
		if !p.inUse[db] {
			p.inUse[db] = true
			return db, nil
		}
	}
	return 0, fmt.Errorf("redistest: all %d databases are in use; isolate with Prefix instead", p.n)
}

func (p *dbPool) release(db int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.inUse, db)
}

// databases reads the server's number of logical databases.
func (s *Server) databases() (int, error) {
	c := redis.NewClient(s.Options())
	ctx, cancel := context.WithTimeout(context.Background(), pingDeadline)
	defer cancel()
	v, err := c.ConfigGet(ctx, "databases").Result()
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("redistest: CONFIG GET databases: %w", err)
	}
	n, err := strconv.Atoi(v["databases"])
	if err != nil {
		return 0, fmt.Errorf("redistest: CONFIG GET databases answered %q", v["databases"])
	}
	return n, nil
}
