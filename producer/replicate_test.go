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
