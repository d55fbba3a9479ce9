package producer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

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
