package store

import (
	"context"
	"slices"
	"testing"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
)

func bulkRecord(id, order, amount, batch string) *refund.Record {
	r := refund.Request{RequestID: id, OrderID: order, Amount: amount}.Normalize()
	return &refund.Record{Request: r, ParamHash: r.ParamHash(), State: refund.Queued, Source: "import", BatchID: batch, Queue: "bulk"}
}

// Both ways of creating many records (one script call on a single Redis,
// a pipelined call per record on a cluster) store and index the same.
func TestCreateManyPaths(t *testing.T) {
	rdb := testenv.StartRedis(t).Client()
	s := New(rdb)
	cluster := New(rdb)
	cluster.cluster = true // the Cluster path, on one node
	paths := map[string]func(context.Context, []*refund.Record) ([]Existing, error){
		"scripted": s.CreateMany, "each": cluster.CreateMany,
	}
	ctx := context.Background()
	for name, create := range paths {
		t.Run(name, func(t *testing.T) {
			testenv.Must(t, rdb.FlushAll(ctx).Err())
			const (
				idNew, idNoOrder = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
				idSame, idOther  = "00000000-0000-4000-8000-000000000003", "00000000-0000-4000-8000-000000000004"
				idMoved          = "00000000-0000-4000-8000-000000000005"
			)
			for _, r := range []*refund.Record{bulkRecord(idSame, "o-1", "1", ""), bulkRecord(idOther, "o-2", "2", ""), bulkRecord(idMoved, "o-3", "3", "b")} {
				_, _, err := s.Create(ctx, r)
				testenv.Must(t, err)
			}
			_, err := s.Transition(ctx, idMoved, Change{From: []refund.State{refund.Queued}, To: refund.Canceled, Event: "test"})
			testenv.Must(t, err)
			testenv.Must(t, rdb.ScriptFlush(ctx).Err()) // as after a Redis restart

			in := []*refund.Record{
				bulkRecord(idNew, "o-1", "5", "b"),
				bulkRecord(idSame, "o-1", "1", "b"),  // repeat of a refund outside the batch
				bulkRecord(idOther, "o-x", "9", "b"), // same id, other parameters
				bulkRecord(idMoved, "o-3", "3", "b"), // repeat of a canceled refund
				bulkRecord(idNoOrder, "", "7", "b"),  // transaction only
			}
			in[4].TransactionID = "t-7"
			got, err := create(ctx, in)
			testenv.Must(t, err)

			want := []Existing{
				{Created: true, Found: true, ParamHash: in[0].ParamHash, State: refund.Queued, Queue: "bulk", BatchID: "b"},
				{Found: true, ParamHash: in[1].ParamHash, State: refund.Queued, Queue: "bulk"},
				{Found: true, ParamHash: bulkRecord(idOther, "o-2", "2", "").ParamHash, State: refund.Queued, Queue: "bulk"},
				{Found: true, ParamHash: in[3].ParamHash, State: refund.Canceled, Queue: "bulk", BatchID: "b"},
				{Created: true, Found: true, ParamHash: in[4].ParamHash, State: refund.Queued, Queue: "bulk", BatchID: "b"},
			}
			if !slices.Equal(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			members, _ := s.ByBatch(ctx, "b")
			slices.Sort(members)
			if !slices.Equal(members, []string{idNew, idNoOrder, idMoved}) {
				t.Errorf("batch b holds %v", members)
			}
			if ids, _ := s.ByOrder(ctx, refund.DefaultMerchant, "o-x"); len(ids) != 0 {
				t.Errorf("a conflicting row indexed order o-x: %v", ids)
			}
			queued, _ := s.ListState(ctx, refund.Queued, 100)
			slices.Sort(queued)
			if !slices.Equal(queued, []string{idNew, idNoOrder, idSame, idOther}) {
				t.Errorf("queued index %v: a repeat re-listed the canceled refund, or a new one is missing", queued)
			}
			rec, err := s.Get(ctx, idNew)
			testenv.Must(t, err)
			if rec.Amount != "5.00" || rec.BatchID != "b" || rec.Source != "import" || rec.CreatedAt.IsZero() {
				t.Errorf("stored %+v", rec)
			}
			if ev, _ := s.Events(ctx, idNew); len(ev) != 1 || ev[0].Type != "accepted" || ev[0].Detail != "import" {
				t.Errorf("events %+v", ev)
			}
			// Unsettled records and the indexes that list them never expire.
			for _, k := range []string{recordKey(idNew), orderKey(refund.DefaultMerchant, "o-1"), batchKey("b")} {
				if ttl := rdb.PTTL(ctx, k).Val(); ttl != -1 {
					t.Errorf("%s expires (%v), want no expiry", k, ttl)
				}
			}
		})
	}
}
