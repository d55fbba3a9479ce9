//go:build ha

package hatest

import (
	"context"
	"github.com/google/uuid"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/redisconn"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

// TestClusterRefundFlow runs the whole refund flow on a 3-primary Redis
// Cluster: Enqueue, a batch import, submit and poll by two workers, status
// and listings. Any script or transaction whose keys crossed slots would
// fail with CROSSSLOT; the test also checks from the servers themselves
// that each refund's keys share one slot while refunds spread over every
// node.
func TestClusterRefundFlow(t *testing.T) {
	const interactive, batch = 40, 160
	cl := testenv.StartCluster(t, 3)
	conn, err := redisconn.Parse(cl.URL())
	testenv.Must(t, err)
	if conn.Mode() != redisconn.Cluster {
		t.Fatalf("%s parsed as %s", conn, conn.Mode())
	}
	h := newHarness(t, conn.Client(), interactive+batch, fpsim.Faults{})
	h.runWorker(conn.Client())
	h.runWorker(conn.Client())
	p, err := producer.New(conn.AsynqOpt())
	testenv.Must(t, err)
	t.Cleanup(func() { _ = p.Close() })
	rdb := conn.Client()
	t.Cleanup(func() { _ = rdb.Close() })
	st := store.New(rdb)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	rs := refunds(interactive + batch)
	var acks []ack
	for _, r := range rs[:interactive] {
		rc, err := p.Enqueue(ctx, r)
		testenv.Must(t, err)
		acks = append(acks, ack{id: rc.RequestID})
	}
	if rc, err := p.Enqueue(ctx, rs[0]); err != nil || !rc.Duplicate {
		t.Fatalf("repeat enqueue: %+v, %v", rc, err)
	}
	rep, err := p.EnqueueBatch(ctx, "ha-cluster-batch", producer.Rows(rs[interactive:]), producer.BatchName("ha.csv"))
	testenv.Must(t, err)
	if rep.Accepted != batch || rep.Rejected != 0 {
		t.Fatalf("batch report %+v", rep)
	}
	inBatch, err := st.ByBatch(ctx, "ha-cluster-batch")
	testenv.Must(t, err)
	if len(inBatch) != batch {
		t.Fatalf("batch index lists %d refunds, want %d", len(inBatch), batch)
	}
	for _, id := range inBatch {
		acks = append(acks, ack{id: id})
	}

	o := waitSettled(t, st, acks, 2*time.Minute)
	if o.states[refund.Succeeded] != len(acks) {
		t.Fatalf("states %v, want all %d succeeded", o.states, len(acks))
	}
	checkStatusAndListings(ctx, t, st, rs[0])
	again, err := p.EnqueueBatch(ctx, "ha-cluster-batch", producer.Rows(rs[interactive:]))
	if err != nil || again.Duplicates != batch {
		t.Fatalf("second import: %+v, %v", again, err)
	}
	checkQueues(t, conn)
	checkSlots(ctx, t, cl, acks)
	h.auditLedger()
	t.Logf("FIGURES cluster: %d refunds succeeded on %d primaries; worker warnings: %s", len(acks), len(cl.Nodes()), h.warnings())
}

func checkStatusAndListings(ctx context.Context, t *testing.T, st *store.Redis, r producer.Refund) {
	t.Helper()
	rec, err := st.Get(ctx, r.RequestID)
	testenv.Must(t, err)
	if rec.State != refund.Succeeded || rec.FinDocumentID == "" {
		t.Fatalf("status of %s: %s, fin doc %q", r.RequestID, rec.State, rec.FinDocumentID)
	}
	evs, err := st.Events(ctx, r.RequestID)
	testenv.Must(t, err)
	if len(evs) < 3 {
		t.Fatalf("events of %s: %+v", r.RequestID, evs)
	}
	ids, err := st.ByOrder(ctx, refund.DefaultMerchant, r.OrderID)
	testenv.Must(t, err)
	if len(ids) != 1 || ids[0] != r.RequestID {
		t.Fatalf("by order %s: %v", r.OrderID, ids)
	}
	counts, _, err := st.StateCounts(ctx)
	testenv.Must(t, err)
	for s, n := range counts {
		if n != 0 {
			ids, _ := st.ListState(ctx, s, 10)
			t.Errorf("state index %s still lists %d refunds: %v (the repeated one is %s)", s, n, ids, r.RequestID)
		}
	}
	// The lock works through the Cluster client. A settled refund's own
	// lock is left to expire by the worker, so lock another id.
	other := uuid.NewString()
	token, ok, err := st.Lock(ctx, other, time.Minute)
	if err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	if _, again, _ := st.Lock(ctx, other, time.Minute); again {
		t.Fatal("a held lock was taken twice")
	}
	testenv.Must(t, st.Unlock(ctx, other, token))
}

// checkQueues reads asynq's queues through the same setting, as the
// queue metrics collector does.
func checkQueues(t *testing.T, conn *redisconn.Conn) {
	t.Helper()
	insp := asynq.NewInspector(conn.AsynqOpt())
	defer insp.Close()
	qi, err := insp.GetQueueInfo(tasks.QueueInteractive)
	testenv.Must(t, err)
	if qi.Pending+qi.Active+qi.Retry+qi.Archived != 0 {
		t.Fatalf("interactive queue not drained: %+v", qi)
	}
}

// checkSlots asks each node which refund keys it holds: every key of a
// refund must be on one node in one slot, and refunds must be spread over
// all nodes, or the test proved nothing about slots.
func checkSlots(ctx context.Context, t *testing.T, cl *testenv.Cluster, acks []ack) {
	t.Helper()
	holders := map[string]map[string]bool{} // request_id -> node addrs
	perNode := map[string]int{}
	for _, n := range cl.Nodes() {
		c := redis.NewClient(&redis.Options{Addr: n.Addr()})
		iter := c.Scan(ctx, 0, "refundq:{*", 1000).Iterator()
		for iter.Next(ctx) {
			key := iter.Val()
			id := key[len("refundq:{"):strings.Index(key, "}")]
			if holders[id] == nil {
				holders[id] = map[string]bool{}
			}
			holders[id][n.Addr()] = true
			perNode[n.Addr()]++
			slot, err := c.ClusterKeySlot(ctx, key).Result()
			testenv.Must(t, err)
			if want, _ := c.ClusterKeySlot(ctx, "refundq:{"+id+"}").Result(); slot != want {
				t.Errorf("key %s is in slot %d, its record in %d", key, slot, want)
			}
		}
		testenv.Must(t, iter.Err())
		_ = c.Close()
	}
	for _, a := range acks {
		if len(holders[a.id]) != 1 {
			t.Errorf("keys of refund %s are on %d nodes", a.id, len(holders[a.id]))
		}
	}
	if len(perNode) != len(cl.Nodes()) {
		t.Fatalf("refund keys on %d of %d nodes: %v", len(perNode), len(cl.Nodes()), perNode)
	}
	t.Logf("refund keys per node: %v", perNode)
}
