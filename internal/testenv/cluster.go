package testenv

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster owned by a test: primaries only, created with
// redis-cli --cluster create on loopback ports in temporary directories.
type Cluster struct {
	t     testing.TB
	nodes []*Redis
}

// StartCluster starts n cluster-enabled servers (at least 3), joins them
// into one cluster and waits until every node serves all 16384 slots.
func StartCluster(t testing.TB, n int, opts ...RedisOption) *Cluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli is not installed (it comes with redis-server): %v", err)
	}
	c := &Cluster{t: t}
	for range n {
		// The bus port defaults to port+10000, which overflows for the
		// kernel's high ephemeral ports: give it its own free port.
		node := append(append([]RedisOption(nil), opts...), WithArgs("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000", "--cluster-port", strconv.Itoa(FreePort(t))))
		c.nodes = append(c.nodes, StartRedis(t, node...))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.waitReady()
	return c
}

// Addrs are the nodes' host:port addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, r := range c.nodes {
		out[i] = r.Addr()
	}
	return out
}

// URL is the redis-cluster:// URL of the cluster.
func (c *Cluster) URL() string { return "redis-cluster://" + strings.Join(c.Addrs(), ",") }

// Nodes are the cluster's servers.
func (c *Cluster) Nodes() []*Redis { return c.nodes }

// Client is a cluster client, closed at the end of the test.
func (c *Cluster) Client() *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	c.t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// waitReady waits until every node reports the cluster ok with all slots
// assigned and knows every other node: a client may ask any of them for the
// slot map.
func (c *Cluster) waitReady() {
	c.t.Helper()
	clients := make([]*redis.Client, len(c.nodes))
	for i, r := range c.nodes {
		clients[i] = r.plainClient()
	}
	waitFor(c.t, 60*time.Second, "cluster_state:ok on every node", func(ctx context.Context) bool {
		for _, rc := range clients {
			info, err := rc.ClusterInfo(ctx).Result()
			if err != nil || !strings.Contains(info, "cluster_state:ok") ||
				!strings.Contains(info, "cluster_slots_assigned:16384") ||
				!strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(c.nodes))) {
				return false
			}
		}
		return true
	})
}
