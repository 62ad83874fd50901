package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"testing"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redisbus"
)

// TestCluster runs every command with --cluster against a real three-master
// Cluster: keys spread over the masters must all be found, and deleted.
func TestCluster(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := redistest.StartCluster(t, 3)
	client := c.NewClient(t)
	base := redistest.Prefix(t)
	tagPrefix, channel := base+"tags:", base+"bus"
	_, users := newStack(t, client, tagPrefix, stackOptions{})
	var want []string
	for i := range 40 {
		k := fmt.Sprintf("user:%02d", i)
		want = append(want, k)
		must(t, users.Set(ctx, k, user{ID: i}, cache.Tags("users")))
	}

	addrs := c.Addrs()
	q := url.Values{"addr": addrs[1:]}
	u := url.URL{Scheme: "redis", Host: addrs[0], RawQuery: q.Encode()}
	clusterCLI := func(command string, args ...string) result {
		return cli(t, append([]string{command, "--cluster", "--redis", u.String(), "--prefix", layerPrefix}, args...)...).ok(t)
	}

	var keys keysResult
	clusterCLI("keys", "--json").decode(t, &keys)
	if !slices.Equal(keys.Keys, want) {
		t.Fatalf("keys on the Cluster = %q, want the 40 users", keys.Keys)
	}
	var stats statsResult
	clusterCLI("stats", "--json").decode(t, &stats)
	if stats.Keys != 40 || stats.Envelopes != 40 || stats.Tagged != 40 {
		t.Errorf("stats on the Cluster = %+v", stats)
	}
	var in inspectResult
	clusterCLI("inspect", "--json", "--key", "user:07", "--codec", "msgpack").decode(t, &in)
	var v user
	if err := json.Unmarshal(in.Value, &v); err != nil || !in.Exists || v.ID != 7 {
		t.Errorf("inspect on the Cluster = %+v (value %s, %v)", in, in.Value, err)
	}

	bus, err := redisbus.New(redisbus.Options{Client: client, Channel: channel})
	must(t, err)
	msgs := subscriber{msgs: make(chan cache.BusMessage, 8)}
	must(t, bus.Subscribe(ctx, msgs))
	t.Cleanup(func() { must(t, bus.Close()) })

	var inv invalidateResult
	clusterCLI("invalidate", "--json", "--tag", "users", "--tag-index-prefix", tagPrefix, "--bus-channel", channel).
		decode(t, &inv)
	if inv.Matched != 40 || inv.Deleted != 40 || inv.Untracked != 40 || inv.PublishedKeys != 40 {
		t.Errorf("invalidate on the Cluster = %+v", inv)
	}
	var published []string
	for len(published) < 40 {
		published = append(published, next(t, msgs.msgs).Keys...)
	}
	if !slices.Equal(sorted(published), want) {
		t.Errorf("published %q", published)
	}
	keys = keysResult{}
	clusterCLI("keys", "--json").decode(t, &keys)
	if len(keys.Keys) != 0 {
		t.Errorf("after invalidation the Cluster still holds %q", keys.Keys)
	}
}
