package redistags_test

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/layercache/layercache/internal/redistest"
)

// clusterStartTimeout bounds the wait for the one-node cluster to serve.
const clusterStartTimeout = 15 * time.Second

// startCluster runs a one-node Redis Cluster (cluster-enabled, all 16384
// slots on it) for t and returns a *redis.ClusterClient for it and the
// node's address; both end with t. One node is enough to test the index's slot discipline: Redis refuses a
// script or multi-key command whose keys span slots (CROSSSLOT) on any
// cluster node. The server is started even when LAYERCACHE_TEST_REDIS_URL
// is set; the test is skipped then if redis-server is not on PATH.
func startCluster(t *testing.T) (*redis.ClusterClient, string) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv(redistest.EnvURL) != "" {
			t.Skipf("redis-server is not on PATH (%v); a cluster test needs its own server", err)
		}
		t.Fatalf("redis-server is not on PATH (%v): run `make test`, which installs it", err)
	}
	dir := t.TempDir()
	addr, err := startClusterNode(t, bin, dir)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}})
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close cluster client: %v", err)
		}
	})
	return c, addr
}

// startClusterNode starts the node, retrying on another port if the one
// picked was taken, assigns it every slot and waits for cluster_state:ok.
func startClusterNode(t *testing.T, bin, dir string) (string, error) {
	var lastErr error
	for attempt := range 5 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		_, port, err := net.SplitHostPort(l.Addr().String())
		if err != nil {
			return "", err
		}
		if err := l.Close(); err != nil {
			return "", err
		}
		logPath := filepath.Join(dir, "redis-"+strconv.Itoa(attempt)+".log")
		cmd := exec.Command(bin,
			"--port", port, "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no",
			"--dir", dir, "--logfile", logPath,
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes-"+port+".conf")
		setParentDeathSignal(cmd)
		if err := cmd.Start(); err != nil {
			return "", err
		}
		exited := make(chan struct{})
		go func() {
			_ = cmd.Wait() // the exit status of a test server tells nothing useful
			close(exited)
		}()
		t.Cleanup(func() {
			_ = cmd.Process.Kill() // fails only if it already exited
			<-exited
		})
		addr := net.JoinHostPort("127.0.0.1", port)
		if lastErr = serveSlots(addr, exited); lastErr == nil {
			return addr, nil
		}
		log, _ := os.ReadFile(logPath)
		if !strings.Contains(string(log), "already in use") {
			return "", errors.Join(lastErr, errors.New(string(log)))
		}
	}
	return "", lastErr
}

// serveSlots waits for the node at addr to answer, gives it every slot and
// waits for the cluster to be ok, polling until clusterStartTimeout.
func serveSlots(addr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), clusterStartTimeout)
	defer cancel()
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer func() { _ = c.Close() }() // a close error changes nothing here
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	assigned := false
	for {
		if !assigned && c.Ping(ctx).Err() == nil {
			if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
				return err
			}
			assigned = true
		}
		if assigned {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("redis-server exited during startup")
		case <-ctx.Done():
			return errors.New("one-node cluster did not become ready")
		case <-tick.C:
		}
	}
}
