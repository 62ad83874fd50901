package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// Cluster is a Redis Cluster of masters only, each a redis-server process
// started by StartCluster. Its methods are safe for concurrent use.
type Cluster struct {
	nodes []*Server
}

// StartCluster starts a Redis Cluster of n masters (no replicas) on free
// loopback ports for tb, splits the hash slots evenly between them, waits
// until every node reports the cluster healthy, and stops it when tb ends.
// Use it to prove that code is Cluster-safe: keys of one test land on
// different nodes. A node can be stopped and restarted through Nodes; it
// keeps its identity and slots (nodes.conf survives) but not its data.
func StartCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	if n < 1 || n > clusterSlots {
		tb.Fatalf("redistest: StartCluster(%d): want 1 to %d masters", n, clusterSlots)
	}
	c := &Cluster{}
	for range n {
		s, err := startLocal(tb.TempDir(), true) // each call makes a new directory
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			if err := s.stop(); err != nil {
				tb.Error(err)
			}
		})
		c.nodes = append(c.nodes, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := c.form(ctx); err != nil {
		tb.Fatal(err)
	}
	return c
}

// form gives each node its slots and epoch, introduces them to each other
// and waits until all agree the cluster is up.
func (c *Cluster) form(ctx context.Context) error {
	per := clusterSlots / len(c.nodes)
	for i, s := range c.nodes {
		first, last := i*per, (i+1)*per-1
		if i == len(c.nodes)-1 {
			last = clusterSlots - 1
		}
		err := s.withClient(func(rc *redis.Client) error {
			if err := rc.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
				return err
			}
			return rc.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", first, last).Err()
		})
		if err != nil {
			return fmt.Errorf("redistest: cluster node %s: %w", s.addr, err)
		}
	}
	err := c.nodes[0].withClient(func(rc *redis.Client) error {
		for _, s := range c.nodes[1:] {
			host, port, _ := net.SplitHostPort(s.addr)
			if err := rc.Do(ctx, "CLUSTER", "MEET", host, port, s.busPort).Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("redistest: CLUSTER MEET: %w", err)
	}
	return c.waitHealthy(ctx)
}

// waitHealthy polls CLUSTER INFO on every node until each reports state ok
// and knows every node, or ctx ends.
func (c *Cluster) waitHealthy(ctx context.Context) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	want := fmt.Sprintf("cluster_known_nodes:%d", len(c.nodes))
	for {
		var last error
		for _, s := range c.nodes {
			last = s.withClient(func(rc *redis.Client) error {
				info, err := rc.ClusterInfo(ctx).Result()
				if err != nil {
					return err
				}
				if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, want) {
					return fmt.Errorf("node %s not ready yet", s.addr)
				}
				return nil
			})
			if last != nil {
				break
			}
		}
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: cluster did not become healthy: %w (last: %v)", ctx.Err(), last)
		case <-tick.C:
		}
	}
}

// withClient runs fn with a short-lived client of s.
func (s *Server) withClient(fn func(*redis.Client) error) error {
	o := s.Options()
	o.MaxRetries = -1
	rc := redis.NewClient(o)
	err := fn(rc)
	if cerr := rc.Close(); err == nil && !errors.Is(cerr, redis.ErrClosed) {
		err = cerr
	}
	return err
}

// Addrs returns the host:port of every node.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, s := range c.nodes {
		addrs[i] = s.addr
	}
	return addrs
}

// Nodes returns the cluster's servers, for Stop and Restart.
func (c *Cluster) Nodes() []*Server { return c.nodes }

// NewClient returns a cluster client seeded with every node, built after
// applying each of opts in order, and closes it when tb ends.
func (c *Cluster) NewClient(tb testing.TB, opts ...func(*redis.ClusterOptions)) *redis.ClusterClient {
	tb.Helper()
	o := &redis.ClusterOptions{Addrs: c.Addrs()}
	for _, f := range opts {
		f(o)
	}
	cc := redis.NewClusterClient(o)
	tb.Cleanup(func() {
		if err := cc.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
			tb.Errorf("redistest: close cluster client: %v", err)
		}
	})
	return cc
}
