package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
)

func move(t *testing.T, s *store.Redis, id string, path ...refund.State) {
	t.Helper()
	for i := 1; i < len(path); i++ {
		_, err := s.Transition(context.Background(), id, store.Change{From: []refund.State{path[i-1]}, To: path[i], Event: "test"})
		testenv.Must(t, err)
	}
}

// Rule 6: a record that is not settled never expires, whatever the
// retention; once terminal it expires with its retention, and its order,
// batch and failed-index entries go with it, not later.
func TestUnsettledRecordsNeverExpire(t *testing.T) {
	s, rdb, ctx := started(t, store.WithRetention(time.Second))
	parked, failed := "00000000-0000-4000-8000-0000000000c1", "00000000-0000-4000-8000-0000000000c2"
	for _, id := range []string{parked, failed} {
		rec := newRecord(id)
		rec.BatchID = "b-expiry"
		_, _, err := s.Create(ctx, rec)
		testenv.Must(t, err)
	}
	move(t, s, parked, refund.Queued, refund.Submitting, refund.NeedsAttention)
	move(t, s, failed, refund.Queued, refund.Submitting, refund.Failed)
	for _, k := range []string{"refundq:{" + parked + "}", "refundq:{" + parked + "}:events"} {
		if ttl := rdb.PTTL(ctx, k).Val(); ttl != -1 {
			t.Fatalf("%s of a needs_attention refund expires in %v", k, ttl)
		}
	}
	testenv.WaitFor(t, 10*time.Second, "the failed record to expire", func() bool {
		_, err := s.Get(ctx, failed)
		return err == store.ErrNotFound
	})
	if ids, _ := s.ByOrder(ctx, refund.DefaultMerchant, "o-1"); !slices.Equal(ids, []string{parked}) {
		t.Errorf("order index lists %v after the failed refund expired, want only %s", ids, parked)
	}
	if ids, _ := s.ByBatch(ctx, "b-expiry"); !slices.Equal(ids, []string{parked}) {
		t.Errorf("batch index lists %v, want only %s", ids, parked)
	}
	testenv.Must(t, s.PruneFailed(ctx))
	if ids, _ := s.ListState(ctx, refund.Failed, 10); len(ids) != 0 {
		t.Errorf("failed index still lists %v after the record expired", ids)
	}
	if ids, _ := s.ListState(ctx, refund.NeedsAttention, 10); !slices.Equal(ids, []string{parked}) {
		t.Errorf("needs_attention index %v, want %s", ids, parked)
	}
	// Settled at last, the parked refund expires too, and the indexes that
	// listed only it are gone with it.
	move(t, s, parked, refund.NeedsAttention, refund.Succeeded)
	testenv.WaitFor(t, 10*time.Second, "the order and batch indexes to expire", func() bool {
		n, err := rdb.Exists(ctx, "refundq:idx:order:default:o-1", "refundq:idx:batch:b-expiry").Result()
		return err == nil && n == 0
	})
}

// Rule 8: the state indexes change in the same script as the state, so no
// interleaving of transitions can leave an entry that disagrees with its
// record (an alert that never clears).
func TestStateIndexesNeverDisagreeWithTheirRecords(t *testing.T) {
	s, _, ctx := started(t)
	var ids []string
	for i := range 20 {
		id := fmt.Sprintf("00000000-0000-4000-8000-0000000001%02d", i)
		_, _, err := s.Create(ctx, newRecord(id))
		testenv.Must(t, err)
		move(t, s, id, refund.Queued, refund.Submitting, refund.Processing)
		ids = append(ids, id)
	}
	// Workers park and operators resume the same refunds at once.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				for _, id := range ids {
					_, _ = s.Transition(ctx, id, store.Change{From: []refund.State{refund.Processing}, To: refund.NeedsAttention, Event: "t"})
					_, _ = s.Transition(ctx, id, store.Change{From: []refund.State{refund.NeedsAttention}, To: refund.Processing, Event: "t"})
				}
			}
		})
	}
	wg.Wait()
	for _, st := range []refund.State{refund.Processing, refund.NeedsAttention, refund.Queued, refund.Submitting} {
		listed, err := s.ListState(ctx, st, 1000)
		testenv.Must(t, err)
		recs, err := s.GetMany(ctx, ids)
		testenv.Must(t, err)
		var want []string
		for _, r := range recs {
			if r.State == st {
				want = append(want, r.RequestID)
			}
		}
		slices.Sort(listed)
		slices.Sort(want)
		if !slices.Equal(listed, want) {
			t.Errorf("%s index lists %d refunds, %d records are in it", st, len(listed), len(want))
		}
	}
}

// A repair of an index entry never removes an entry a writer has just
// made: the sweep reads an entry, the refund moves back into that state,
// and the stale read must not take the fresh entry out.
func TestDropStaleKeepsAFreshEntry(t *testing.T) {
	rdb := testenv.StartRedis(t).Client()
	clock := time.Now().Add(-time.Hour)
	s := store.New(rdb, store.WithClock(func() time.Time { clock = clock.Add(time.Second); return clock }))
	ctx := context.Background()
	id := "00000000-0000-4000-8000-0000000000d1"
	_, _, err := s.Create(ctx, newRecord(id))
	testenv.Must(t, err)
	move(t, s, id, refund.Queued, refund.Submitting, refund.Processing)
	stale, err := s.ListStale(ctx, refund.Processing, time.Now(), 10)
	testenv.Must(t, err)
	if len(stale) != 1 {
		t.Fatalf("stale %v", stale)
	}
	move(t, s, id, refund.Processing, refund.NeedsAttention, refund.Processing) // moved on and back
	testenv.Must(t, s.DropStale(ctx, refund.Processing, stale[0]))
	if ids, _ := s.ListState(ctx, refund.Processing, 10); !slices.Equal(ids, []string{id}) {
		t.Fatalf("processing index %v after a stale repair, want the fresh entry kept", ids)
	}
}
