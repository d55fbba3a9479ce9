package store_test

import (
	"context"
	"testing"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
)

// A queued refund is one record and its indexes: the acceptance is read
// off the record, so no event list exists until something happens to it.
func TestAcceptanceIsReadOffTheRecord(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client()
	s := store.New(rdb)
	ctx := context.Background()
	id := "00000000-0000-4000-8000-0000000000b1"
	rec, _, err := s.Create(ctx, newRecord(id))
	testenv.Must(t, err)
	eventsKey := "refundq:{" + id + "}:events"
	if rdb.Exists(ctx, eventsKey).Val() != 0 {
		t.Fatal("a queued refund has an event list")
	}
	evs, err := s.Events(ctx, id)
	testenv.Must(t, err)
	if len(evs) != 1 || evs[0].Type != "accepted" || evs[0].To != refund.Queued || evs[0].Detail != "test" ||
		evs[0].At.UnixMilli() != rec.CreatedAt.UnixMilli() {
		t.Fatalf("events of a queued refund: %+v", evs)
	}
	// The first stored event may come from AddEvent: it must live exactly
	// as long as the record, which is kept for good while unsettled.
	testenv.Must(t, s.AddEvent(ctx, id, refund.Event{Type: "rate_limited"}))
	if ttl := rdb.PTTL(ctx, eventsKey).Val(); ttl != -1 {
		t.Fatalf("event list of an unsettled refund expires (%v)", ttl)
	}
	evs, _ = s.Events(ctx, id)
	if len(evs) != 2 || evs[0].Type != "accepted" || evs[1].Type != "rate_limited" {
		t.Fatalf("events %+v", evs)
	}
	if evs, _ := s.Events(ctx, "00000000-0000-4000-8000-0000000000b2"); len(evs) != 0 {
		t.Fatalf("a refund that does not exist has events %+v", evs)
	}
}

func TestOrderIndexListsEveryRefundOfAnOrder(t *testing.T) {
	s, _, ctx := started(t)
	ids := []string{"00000000-0000-4000-8000-0000000000b3", "00000000-0000-4000-8000-0000000000b4"}
	for _, id := range ids {
		_, _, err := s.Create(ctx, newRecord(id)) // both refund order o-1
		testenv.Must(t, err)
	}
	got, err := s.ByOrder(ctx, refund.DefaultMerchant, "o-1")
	testenv.Must(t, err)
	if len(got) != 2 || !(got[0] == ids[0] && got[1] == ids[1] || got[0] == ids[1] && got[1] == ids[0]) {
		t.Fatalf("order o-1 lists %v, want %v", got, ids)
	}
}
