package producer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

// With replica acknowledgements, Enqueue says yes only once a replica
// holds the refund, and says plainly when none confirmed it in time; the
// refund may exist, and enqueueing it again is safe.
func TestEnqueueWaitsForTheReplicas(t *testing.T) {
	primary := testenv.StartRedis(t)
	replica := testenv.StartReplica(t, primary)
	p := producer.NewFromClient(primary.Client(), producer.WithReplicaAcks(1, 300*time.Millisecond))
	ctx := context.Background()
	r := producer.Refund{IdempotencyKey: "replicated", OrderID: "o-1", Amount: "1.00"}
	rc, err := p.Enqueue(ctx, r)
	testenv.Must(t, err)
	if _, err := store.New(replica.Client()).Get(ctx, rc.RequestID); err != nil {
		t.Fatalf("acknowledged, but the replica has no record: %v", err)
	}

	replica.Pause() // a hung replica host
	late := producer.Refund{IdempotencyKey: "unconfirmed", OrderID: "o-2", Amount: "1.00"}
	if _, err := p.Enqueue(ctx, late); !errors.Is(err, producer.ErrNotReplicated) {
		t.Fatalf("enqueue with the replica frozen: %v, want ErrNotReplicated", err)
	}
	replica.Resume()
	again, err := p.Enqueue(ctx, late)
	if err != nil || !again.Duplicate {
		t.Fatalf("the retry the error invites: %+v %v, want the same refund, nothing new", again, err)
	}
}

func TestEnqueueBatchWaitsForTheReplicas(t *testing.T) {
	primary := testenv.StartRedis(t)
	replica := testenv.StartReplica(t, primary)
	p := producer.NewFromClient(primary.Client(), producer.WithReplicaAcks(1, 300*time.Millisecond))
	ctx := context.Background()
	rows := func(order string) []producer.Refund {
		return []producer.Refund{{OrderID: order + "-1", Amount: "1.00"}, {OrderID: order + "-2", Amount: "2.00"}}
	}
	rep, err := p.EnqueueBatch(ctx, "replicated", producer.Rows(rows("o")))
	testenv.Must(t, err)
	if rep.Accepted != 2 {
		t.Fatalf("report %+v", rep)
	}
	for _, r := range rows("o") {
		if _, err := store.New(replica.Client()).Get(ctx, producer.BatchRowID(r)); err != nil {
			t.Fatalf("acknowledged, but the replica has no record of %s: %v", r.OrderID, err)
		}
	}

	replica.Pause()
	if _, err := p.EnqueueBatch(ctx, "unconfirmed", producer.Rows(rows("late"))); !errors.Is(err, producer.ErrNotReplicated) {
		t.Fatalf("batch with the replica frozen: %v, want ErrNotReplicated", err)
	}
	replica.Resume()
	again, err := p.EnqueueBatch(ctx, "unconfirmed", producer.Rows(rows("late")))
	if err != nil || again.Accepted != 0 || again.Duplicates != 2 {
		t.Fatalf("the re-run the error invites: %+v %v, want two duplicates, nothing new", again, err)
	}
}

// Redis Cluster cannot confirm a refund with one WAIT (its record and its
// task are on different shards), so replica acks there write nothing and
// say so, rather than acknowledge what a shard failover can lose.
func TestReplicaAcksAreRefusedOnCluster(t *testing.T) {
	c := testenv.StartCluster(t, 3)
	rdb := c.Client()
	p := producer.NewFromClient(rdb, producer.WithReplicaAcks(1, 300*time.Millisecond))
	ctx := context.Background()
	const id = "828cf71d-a447-4a67-a149-c1df8bc197ca"
	r := producer.Refund{RequestID: id, OrderID: "o-1", Amount: "1.00"}
	if _, err := p.Enqueue(ctx, r); !errors.Is(err, producer.ErrReplicaAcksOnCluster) {
		t.Fatalf("Enqueue on Cluster with replica acks: %v, want ErrReplicaAcksOnCluster", err)
	}
	if _, err := p.EnqueueBatch(ctx, "on-cluster", producer.Rows([]producer.Refund{r})); !errors.Is(err, producer.ErrReplicaAcksOnCluster) {
		t.Fatalf("EnqueueBatch on Cluster with replica acks: %v, want ErrReplicaAcksOnCluster", err)
	}
	if _, err := store.New(rdb).Get(ctx, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refund was written all the same: %v", err)
	}
}

// The ack timeout is held where WAIT answers in time: 0 ms would wait
// forever and one past the client's read timeout would end in a resend;
// either way the caller must get ErrNotReplicated, promptly.
func TestReplicaAckTimeoutIsBounded(t *testing.T) {
	primary := testenv.StartRedis(t) // no replica: WAIT can only time out
	for i, timeout := range []time.Duration{500 * time.Microsecond, 10 * time.Second} {
		p := producer.NewFromClient(primary.Client(), producer.WithReplicaAcks(1, timeout))
		start := time.Now()
		_, err := p.Enqueue(context.Background(), producer.Refund{IdempotencyKey: fmt.Sprint("bounded-", i), OrderID: "o-1", Amount: "1.00"})
		if !errors.Is(err, producer.ErrNotReplicated) {
			t.Fatalf("timeout %s: %v after %s, want ErrNotReplicated", timeout, err, time.Since(start))
		}
	}
}

// restartBeforeStamp restarts the primary, which keeps nothing, once: after
// a refund's writes and before the stamp whose WAIT would confirm them.
type restartBeforeStamp struct {
	t                *testing.T
	primary, replica *testenv.Redis
	done             atomic.Bool
}

func (h *restartBeforeStamp) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *restartBeforeStamp) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *restartBeforeStamp) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && strings.Contains(cmds[0].String(), "refundq:replicated") && !h.done.Swap(true) {
			h.primary.Restart()
			testenv.WaitFor(h.t, 20*time.Second, "the replica to resync with the empty primary", func() bool {
				info, err := h.replica.Client().Info(context.Background(), "replication").Result()
				return err == nil && strings.Contains(info, "master_link_status:up")
			})
		}
		return next(ctx, cmds)
	}
}

// A primary that lost a refund between its writes and the stamp must not
// confirm it: the stamp checks that what it vouches for is there.
func TestAPrimaryThatLostTheRefundDoesNotConfirmIt(t *testing.T) {
	for _, c := range []struct {
		name    string
		enqueue func(context.Context, *producer.Producer) error
	}{
		{"refund", func(ctx context.Context, p *producer.Producer) error {
			_, err := p.Enqueue(ctx, producer.Refund{IdempotencyKey: "lost", OrderID: "o-1", Amount: "1.00"})
			return err
		}},
		{"batch", func(ctx context.Context, p *producer.Producer) error {
			_, err := p.EnqueueBatch(ctx, "lost", producer.Rows([]producer.Refund{{OrderID: "o-1", Amount: "1.00"}}))
			return err
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			primary := testenv.StartRedis(t)
			replica := testenv.StartReplica(t, primary)
			rdb := primary.Client()
			rdb.AddHook(&restartBeforeStamp{t: t, primary: primary, replica: replica})
			p := producer.NewFromClient(rdb, producer.WithReplicaAcks(1, 500*time.Millisecond))
			ctx := context.Background()
			if err := c.enqueue(ctx, p); !errors.Is(err, producer.ErrNotReplicated) {
				t.Fatalf("the primary restarted empty before the stamp: %v, want ErrNotReplicated", err)
			}
			// The retry the error invites writes it again, and is confirmed.
			testenv.Must(t, c.enqueue(ctx, p))
		})
	}
}
