package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name the test sentinels monitor.
const SentinelMaster = "mymaster"

// Sentinel is a Redis Sentinel deployment owned by a test: a primary, a
// replica and three sentinels on loopback ports, each in its own temporary
// directory. Sentinels detect a dead primary after one second, so a
// failover takes a few seconds instead of the production default of half a
// minute.
type Sentinel struct {
	t         testing.TB
	servers   []*Redis // servers[0] started as the primary
	sentinels []*Redis
	sc        []*redis.SentinelClient
}

// StartSentinel starts the deployment and waits until every sentinel knows
// the replica and the other sentinels, so a failover can happen. opts apply
// to both data servers, e.g. WithAOF().
func StartSentinel(t testing.TB, opts ...RedisOption) *Sentinel {
	t.Helper()
	s := &Sentinel{t: t}
	primary := StartRedis(t, opts...)
	replicaOf := WithArgs("--replicaof", "127.0.0.1", strconv.Itoa(primary.port))
	replica := StartRedis(t, append(append([]RedisOption(nil), opts...), replicaOf)...)
	s.servers = []*Redis{primary, replica}
	for range 3 {
		r := StartRedis(t, sentinelConf(primary.port))
		s.sentinels = append(s.sentinels, r)
		s.sc = append(s.sc, sentinelClient(r))
	}
	s.waitTopology()
	return s
}

// sentinelConf makes a server a sentinel monitoring the primary on port.
// Sentinel rewrites its config file, so each gets its own in its directory.
func sentinelConf(port int) RedisOption {
	return func(r *Redis) {
		conf := fmt.Sprintf(`sentinel resolve-hostnames no
sentinel monitor %[1]s 127.0.0.1 %[2]d 2
sentinel down-after-milliseconds %[1]s 1000
sentinel failover-timeout %[1]s 5000
sentinel parallel-syncs %[1]s 1
`, SentinelMaster, port)
		r.conf = filepath.Join(r.dir, "sentinel.conf")
		if err := os.WriteFile(r.conf, []byte(conf), 0o600); err != nil {
			r.setupErr = fmt.Errorf("write sentinel.conf: %w", err)
		}
		r.extra = append(r.extra, "--sentinel")
	}
}

// SentinelAddrs are the sentinels' host:port addresses.
func (s *Sentinel) SentinelAddrs() []string {
	out := make([]string, len(s.sentinels))
	for i, r := range s.sentinels {
		out[i] = r.Addr()
	}
	return out
}

// URL is the redis-sentinel:// URL of the deployment.
func (s *Sentinel) URL() string {
	return "redis-sentinel://" + strings.Join(s.SentinelAddrs(), ",") + "/0?master=" + SentinelMaster
}

// Client is a Sentinel-aware go-redis client, closed at the end of the test.
func (s *Sentinel) Client() *redis.Client {
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: SentinelMaster, SentinelAddrs: s.SentinelAddrs()})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// MasterAddr asks the sentinels where the primary is.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, c := range s.sc {
		addr, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
		if err == nil && len(addr) == 2 {
			return net.JoinHostPort(addr[0], addr[1]), nil
		}
		last = err
	}
	return "", fmt.Errorf("no sentinel knows the master: %w", last)
}

// Primary is the data server the sentinels currently name as primary.
func (s *Sentinel) Primary() *Redis {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr, err := s.MasterAddr(ctx)
	if err != nil {
		s.t.Fatalf("sentinel: %v", err)
	}
	for _, r := range s.servers {
		if r.Addr() == addr {
			return r
		}
	}
	s.t.Fatalf("sentinel names %s, which is none of the test's servers", addr)
	return nil
}

// Servers are the data servers; Servers()[0] started as the primary.
func (s *Sentinel) Servers() []*Redis { return s.servers }

// KillPrimary SIGKILLs the current primary, as a crash would, and returns
// its address.
func (s *Sentinel) KillPrimary() string {
	s.t.Helper()
	p := s.Primary()
	p.Kill()
	return p.Addr()
}

// WaitFailover waits until every sentinel names a primary other than old and
// that server has taken the master role.
func (s *Sentinel) WaitFailover(old string, timeout time.Duration) string {
	s.t.Helper()
	var now string
	waitFor(s.t, timeout, "sentinel failover away from "+old, func(ctx context.Context) bool {
		now = ""
		for _, c := range s.sc {
			addr, err := c.GetMasterAddrByName(ctx, SentinelMaster).Result()
			if err != nil || len(addr) != 2 || net.JoinHostPort(addr[0], addr[1]) == old {
				return false
			}
			now = net.JoinHostPort(addr[0], addr[1])
		}
		return isMaster(ctx, now)
	})
	return now
}

// waitTopology waits until every sentinel sees the primary, the replica
// (learned from the primary's INFO) and the two other sentinels (learned
// over the hello channel), and the replica is in sync.
func (s *Sentinel) waitTopology() {
	s.t.Helper()
	replica := s.servers[1].plainClient()
	waitFor(s.t, 60*time.Second, "sentinel topology", func(ctx context.Context) bool {
		info, err := replica.Info(ctx, "replication").Result()
		if err != nil || !strings.Contains(info, "master_link_status:up") {
			return false
		}
		for _, c := range s.sc {
			replicas, err1 := c.Replicas(ctx, SentinelMaster).Result()
			others, err2 := c.Sentinels(ctx, SentinelMaster).Result()
			if err1 != nil || err2 != nil || len(replicas) < 1 || len(others) < len(s.sentinels)-1 {
				return false
			}
		}
		return true
	})
}

func isMaster(ctx context.Context, addr string) bool {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	role, err := c.Do(ctx, "ROLE").Slice()
	return err == nil && len(role) > 0 && role[0] == "master"
}

func sentinelClient(r *Redis) *redis.SentinelClient {
	c := redis.NewSentinelClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1})
	r.t.Cleanup(func() { _ = c.Close() })
	return c
}

func (r *Redis) plainClient() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1})
	r.t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitFor polls cond until it holds or timeout passes, then fails the test.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func(context.Context) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ok := cond(ctx)
		cancel()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond) // polling external processes; nothing to wait on
	}
}

// Pause freezes the server with SIGSTOP, as a hung host would, until Resume
// or the end of the test. The kernel still accepts data for its sockets.
func (r *Redis) Pause() {
	if r.proc != nil {
		_ = r.proc.cmd.Process.Signal(syscall.SIGSTOP)
		r.t.Cleanup(r.Resume)
	}
}

// Resume continues a paused server.
func (r *Redis) Resume() {
	if r.proc != nil {
		_ = r.proc.cmd.Process.Signal(syscall.SIGCONT)
	}
}
