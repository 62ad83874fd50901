package redisbus_test

import (
	"testing"

	"github.com/layercache/layercache/internal/redistest"
	"github.com/layercache/layercache/pkg/cache"
	"github.com/layercache/layercache/pkg/cache/redisbus"
)

// TestCluster runs buses on a real three-master Redis Cluster: a bus on a
// ClusterClient receives what is published through any master.
func TestCluster(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	ch := testChannel(t)
	secret := []byte("cluster-secret")
	a := newBus(t, redisbus.Options{Client: cl.NewClient(t), Channel: ch, Secret: secret})
	b := newBus(t, redisbus.Options{Client: cl.NewClient(t), Channel: ch, Secret: secret})
	ra, rb := subscribe(t, a), subscribe(t, b)
	barrier(t, a, rb)
	barrier(t, b, ra)
	for _, node := range cl.Nodes() {
		direct := newBus(t, redisbus.Options{Client: node.NewClient(t), Channel: ch, Secret: secret})
		m := cache.BusMessage{Kind: cache.BusDelete, Keys: []string{"via " + node.Addr()}}
		publish(t, direct, m)
		expectMessage(t, ra, m)
		expectMessage(t, rb, m)
	}
}
