package producer_test

import (
	"context"
	"errors"
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
