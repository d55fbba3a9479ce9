//go:build ha

package hatest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/redisconn"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

// TestSentinelFailover crashes the primary while refunds flow through two
// workers. Sentinel promotes the replica; workers and the producer find it
// by themselves. Afterwards no request_id ran twice at the provider, every
// acknowledged refund that still has a record is settled, and the test
// reports how many acknowledged writes the failover lost.
func TestSentinelFailover(t *testing.T) {
	const n = 600
	topo := testenv.StartSentinel(t)
	conn, err := redisconn.Parse(topo.URL())
	testenv.Must(t, err)
	h := newHarness(t, conn.Client(), n, fpsim.Faults{})
	h.runWorker(conn.Client())
	h.runWorker(conn.Client())
	p, err := producer.New(conn.AsynqOpt())
	testenv.Must(t, err)
	t.Cleanup(func() { _ = p.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l := startLoad(ctx, p, refunds(n), 4, 10*time.Millisecond)
	testenv.WaitFor(t, time.Minute, "a third of the refunds acknowledged", func() bool { return l.ackedCount() >= n/3 })

	killedAt := time.Now()
	old := topo.KillPrimary()
	promoted := topo.WaitFailover(old, time.Minute)
	failover := time.Since(killedAt)
	acks := l.wait()
	if len(acks) != n {
		t.Fatalf("%d of %d refunds acknowledged; last error: %v", len(acks), n, l.lastErr)
	}
	after := 0
	for _, a := range acks {
		if a.at.After(killedAt.Add(failover)) {
			after++
		}
	}
	if after == 0 {
		t.Fatal("no refund was acknowledged by the promoted primary: the failover did not happen under load")
	}

	rdb := conn.Client()
	defer rdb.Close()
	// Tasks whose completion asynq could not write during the outage wait
	// for its lease recoverer: 30s lease, 30s grace, 1 min period.
	o := waitSettled(t, store.New(rdb), acks, 4*time.Minute)
	settledIn := time.Since(killedAt)
	ledger := h.auditLedger()
	executed := map[string]bool{}
	for _, r := range ledger.Requests {
		executed[r.RequestID] = r.Executions > 0
	}
	phantom := 0
	for _, a := range o.lost {
		t.Logf("LOST acknowledged refund %s, acknowledged %s before the kill, executed at provider: %v",
			a.id, killedAt.Sub(a.at), executed[a.id])
		if executed[a.id] {
			phantom++
		}
	}
	t.Logf("FIGURES sentinel failover: %d refunds, %d acknowledged after the promotion; primary %s -> %s in %s; "+
		"enqueue errors retried %d; acknowledged records lost %d (executed at the provider anyway: %d); states %v; "+
		"all settled %s after the kill; provider requests %d",
		n, after, old, promoted, failover.Round(time.Millisecond), l.errs, len(o.lost), phantom, o.states,
		settledIn.Round(time.Millisecond), len(ledger.Requests))
	t.Logf("worker warnings: %s", h.warnings())
	if na := o.states[refund.NeedsAttention]; na > 0 {
		t.Logf("%d refunds in needs_attention", na)
	}
	if o.states[refund.Succeeded]+len(o.lost) != n {
		t.Errorf("want every acknowledged refund succeeded (no provider faults), got %v with %d lost", o.states, len(o.lost))
	}
}

// TestSentinelUnreplicatedWrites measures the window the failover test can
// only sample: writes the primary acknowledged but the replica never got.
// The replica is frozen (a hung host) and the primary's replication
// backlog is pushed past the kernel's socket buffers, so what the primary
// acknowledges next exists only in its memory; then the primary crashes
// and the stale replica is promoted.
func TestSentinelUnreplicatedWrites(t *testing.T) {
	t.Run("async replication", func(t *testing.T) {
		r := stallFailover(t, 200)
		t.Logf("FIGURES async: %d acknowledged during the replica stall, %d lost after failover", r.acked, r.lost)
		if r.refused {
			t.Fatal("primary refused writes without min-replicas-to-write")
		}
		if r.lost != r.acked {
			t.Fatalf("%d of %d unreplicated acknowledged writes survived a failover to the stale replica", r.acked-r.lost, r.acked)
		}
	})
	t.Run("replica acks", func(t *testing.T) {
		r := stallFailover(t, 200, producer.WithReplicaAcks(1, 500*time.Millisecond))
		t.Logf("FIGURES replica acks 1, timeout 500ms: %d acknowledged during the replica stall, %d lost after failover; first unconfirmed %s into the stall",
			r.acked, r.lost, r.refusedAfter.Round(time.Millisecond))
		if !r.refused || r.lost != 0 {
			t.Fatalf("replica acks: refused %v, %d of %d acknowledged refunds lost", r.refused, r.lost, r.acked)
		}
	})
	t.Run("min-replicas-to-write", func(t *testing.T) {
		r := stallFailover(t, 1_000_000, testenv.WithArgs("--min-replicas-to-write", "1", "--min-replicas-max-lag", "2"))
		t.Logf("FIGURES min-replicas-to-write 1, max-lag 2s: refused writes %s into the stall; %d acknowledged before that, %d lost",
			r.refusedAfter.Round(time.Millisecond), r.acked, r.lost)
		if !r.refused {
			t.Fatal("primary kept acknowledging writes with its only replica frozen")
		}
		if r.lost > r.acked {
			t.Fatalf("lost %d of %d", r.lost, r.acked)
		}
	})
}

type stallResult struct {
	acked, lost  int
	refused      bool
	refusedAfter time.Duration
}

// stallFailover freezes the replica, enqueues up to max refunds, kills the
// primary and counts the acknowledged refunds the promoted replica lacks.
// opts are redis-server options (testenv.RedisOption) or producer options.
func stallFailover(t *testing.T, max int, opts ...any) stallResult {
	var redisOpts []testenv.RedisOption
	var prodOpts []producer.Option
	for _, o := range opts {
		switch o := o.(type) {
		case testenv.RedisOption:
			redisOpts = append(redisOpts, o)
		case producer.Option:
			prodOpts = append(prodOpts, o)
		}
	}
	topo := testenv.StartSentinel(t, redisOpts...)
	conn, err := redisconn.Parse(topo.URL())
	testenv.Must(t, err)
	p, err := producer.New(conn.AsynqOpt(), prodOpts...)
	testenv.Must(t, err)
	t.Cleanup(func() { _ = p.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	primary := topo.Primary()
	replica := topo.Servers()[1]
	if replica == primary {
		replica = topo.Servers()[0]
	}
	replica.Pause()
	stalled := time.Now()
	fillReplicationBuffers(ctx, t, primary)

	var res stallResult
	var acked []string
	for range max {
		r := refunds(1)[0]
		_, err := p.Enqueue(ctx, r)
		if err != nil {
			if !strings.Contains(err.Error(), "NOREPLICAS") && !errors.Is(err, producer.ErrNotReplicated) {
				t.Fatalf("enqueue: %v", err)
			}
			if !res.refused {
				res.refused, res.refusedAfter = true, time.Since(stalled)
			}
			if errors.Is(err, producer.ErrNotReplicated) && time.Since(stalled) < 5*time.Second {
				continue // not acknowledged: the caller would retry it later
			}
			break
		}
		acked = append(acked, r.RequestID)
		if time.Since(stalled) > 15*time.Second {
			break
		}
	}
	old := topo.KillPrimary()
	replica.Resume()
	topo.WaitFailover(old, 90*time.Second)

	rdb := conn.Client()
	defer rdb.Close()
	st := store.New(rdb)
	res.acked = len(acked)
	for _, id := range acked {
		if _, err := st.Get(ctx, id); errors.Is(err, store.ErrNotFound) {
			res.lost++
		} else if err != nil {
			t.Fatalf("read after failover: %v", err)
		}
	}
	return res
}

// fillReplicationBuffers writes 48 MB the frozen replica cannot read: more
// than Linux buffers for one loopback socket (32 MB receive + 4 MB send),
// so whatever follows stays in the primary's replication buffer.
func fillReplicationBuffers(ctx context.Context, t *testing.T, primary *testenv.Redis) {
	t.Helper()
	c := primary.Client()
	junk := strings.Repeat("x", 8<<20)
	for i := range 6 {
		if err := c.Set(ctx, fmt.Sprintf("junk:%d", i), junk, 0).Err(); err != nil {
			t.Fatalf("fill replication buffers: %v", err)
		}
	}
}
