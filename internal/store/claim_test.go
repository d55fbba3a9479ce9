package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
)

func sendChange() store.Change {
	return store.Change{From: []refund.State{refund.Queued}, To: refund.Submitting, Attempts: 1, Sent: true,
		Event: "submit", Detail: "attempt 1"}
}

// Claim records a send only for a refund that a send may start from; in
// every other case it leaves the record as it was and still hands the
// caller the lock and the record, as LockAndGet would.
func TestClaimRecordsTheSendOnlyForANeverSentQueuedRefund(t *testing.T) {
	r := testenv.StartRedis(t)
	s := store.New(r.Client())
	ctx := context.Background()
	cases := []struct {
		name     string
		merchant string
		prepare  func(id string) // after Create
		locked   bool            // the claim takes the lock
		applied  bool
	}{
		{name: "never sent", merchant: refund.DefaultMerchant, locked: true, applied: true},
		{name: "another merchant's", merchant: "other", locked: true},
		{name: "lock held elsewhere", merchant: refund.DefaultMerchant, prepare: func(id string) {
			testenv.Must(t, r.Client().Set(ctx, "refundq:{"+id+"}:lock", "other", time.Minute).Err())
		}},
		{name: "sent before (429)", merchant: refund.DefaultMerchant, locked: true, prepare: func(id string) {
			testenv.Must(t, r.Client().HSet(ctx, "refundq:{"+id+"}", "first_sent_at", "1700000000000").Err())
		}},
		{name: "already submitting", merchant: refund.DefaultMerchant, locked: true, prepare: func(id string) {
			_, err := s.Transition(ctx, id, sendChange())
			testenv.Must(t, err)
		}},
		{name: "from a newer refundq", merchant: refund.DefaultMerchant, locked: true, prepare: func(id string) {
			testenv.Must(t, r.Client().HSet(ctx, "refundq:{"+id+"}", "v", refund.RecordVersion+1).Err())
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("00000000-0000-4000-8000-0000000000c%d", i)
			_, _, err := s.Create(ctx, newRecord(id))
			testenv.Must(t, err)
			if tc.prepare != nil {
				tc.prepare(id)
			}
			before, err := s.Get(ctx, id)
			if err != nil && !errors.Is(err, store.ErrCorrupt) {
				t.Fatal(err)
			}
			c, err := s.Claim(ctx, id, time.Minute, tc.merchant, sendChange())
			testenv.Must(t, err)
			if (c.Token != "") != tc.locked || (c.Sent != nil) != tc.applied {
				t.Fatalf("token %q, sent %+v; want locked %v, applied %v", c.Token, c.Sent, tc.locked, tc.applied)
			}
			if c.Found == nil || c.Found.RequestID != id {
				t.Fatalf("found %+v", c.Found)
			}
			stored, err := s.Get(ctx, id)
			if err != nil && !errors.Is(err, store.ErrCorrupt) {
				t.Fatal(err)
			}
			if !tc.applied {
				if !reflect.DeepEqual(stored, before) {
					t.Fatalf("a claim that did not apply changed the record:\n before %+v\n after  %+v", before, stored)
				}
				return
			}
			if !reflect.DeepEqual(c.Sent, stored) {
				t.Fatalf("worked out %+v\nstored     %+v", c.Sent, stored)
			}
			if stored.State != refund.Submitting || stored.Attempts != 1 || stored.FirstSentAt.IsZero() || !c.Found.FirstSentAt.IsZero() {
				t.Fatalf("found %+v, stored %+v", c.Found, stored)
			}
			if ids, err := s.ListState(ctx, refund.Submitting, 10); err != nil || len(ids) != 1 || ids[0] != id {
				t.Fatalf("submitting index %v: %v", ids, err)
			}
			evs, err := s.Events(ctx, id)
			testenv.Must(t, err)
			if last := evs[len(evs)-1]; last.Type != "submit" || last.To != refund.Submitting {
				t.Fatalf("last event %+v", last)
			}
			// The lock is the claim's: a second claim gets neither.
			again, err := s.Claim(ctx, id, time.Minute, tc.merchant, sendChange())
			if err != nil || again.Token != "" || again.Sent != nil {
				t.Fatalf("second claim %+v: %v", again, err)
			}
		})
	}
}

// A record with a field that does not decode is never claimed: the claim
// must not count a corrupt attempts as 0 and record a send, nor move it.
func TestClaimLeavesACorruptRecordAsItIs(t *testing.T) {
	s, rdb, ctx := started(t)
	for i, c := range []struct{ field, value string }{
		{"attempts", "abc"}, {"polls", "1.5"}, {"metadata", "{bad"}, {"created_at", "xyz"}, {"updated_at", "x"},
		{"resumed_at", "x"}, {"last_sent_at", "x"}, {"unrecognized_since", "x"}, {"callback_attempts", "x"},
		{"v", "abc"}, {"state", "bogus"},
	} {
		t.Run(c.field, func(t *testing.T) {
			id := fmt.Sprintf("00000000-0000-4000-8000-0000000000e%d", i)
			_, _, err := s.Create(ctx, newRecord(id))
			testenv.Must(t, err)
			key := "refundq:{" + id + "}"
			testenv.Must(t, rdb.HSet(ctx, key, c.field, c.value).Err())
			before, err := rdb.HGetAll(ctx, key).Result()
			testenv.Must(t, err)
			if _, err := s.Get(ctx, id); !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("get: %v, want ErrCorrupt", err)
			}
			_, _ = s.Claim(ctx, id, time.Minute, refund.DefaultMerchant, sendChange())
			after, err := rdb.HGetAll(ctx, key).Result()
			testenv.Must(t, err)
			if !reflect.DeepEqual(before, after) {
				t.Fatalf("the claim changed a corrupt record:\n before %v\n after  %v", before, after)
			}
		})
	}
}
