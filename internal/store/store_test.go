package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
)

func newRecord(id string) *refund.Record {
	r := refund.Request{RequestID: id, OrderID: "o-1", Amount: "10.00", Metadata: map[string]string{"k": "v"}}.Normalize()
	return &refund.Record{Request: r, ParamHash: r.ParamHash(), State: refund.Queued, Source: "test", Queue: "q"}
}

// started starts an empty Redis and a store on it.
func started(t *testing.T, opts ...store.Option) (*store.Redis, *redis.Client, context.Context) {
	t.Helper()
	rdb := testenv.StartRedis(t).Client()
	return store.New(rdb, opts...), rdb, context.Background()
}

// created starts a Redis holding one queued refund, id.
func created(t *testing.T, id string, opts ...store.Option) (*store.Redis, context.Context) {
	t.Helper()
	s, _, ctx := started(t, opts...)
	_, _, err := s.Create(ctx, newRecord(id))
	testenv.Must(t, err)
	return s, ctx
}

func TestCreateIsIdempotentAndRoundTrips(t *testing.T) {
	s, _, ctx := started(t, store.WithMaxEvents(5))
	id := "828cf71d-a447-4a67-a149-c1df8bc197ca"
	got, created, err := s.Create(ctx, newRecord(id))
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	again, created, err := s.Create(ctx, newRecord(id))
	if err != nil || created || again.ParamHash != got.ParamHash || !again.CreatedAt.Equal(got.CreatedAt.Truncate(time.Millisecond)) {
		t.Fatalf("second create: %+v created=%v %v", again, created, err)
	}
	if again.Metadata["k"] != "v" || again.Merchant != refund.DefaultMerchant || again.Amount != "10.00" {
		t.Fatalf("round trip lost fields: %+v", again)
	}
	ids, _ := s.ByOrder(ctx, refund.DefaultMerchant, "o-1")
	if len(ids) != 1 || ids[0] != id {
		t.Fatalf("order index %v", ids)
	}
}

func TestTransitionIsACompareAndSet(t *testing.T) {
	id := "00000000-0000-4000-8000-000000000001"
	s, ctx := created(t, id, store.WithMaxEvents(5))

	// Many racers, one winner.
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 20 {
		wg.Go(func() {
			_, err := s.Transition(ctx, id, store.Change{From: []refund.State{refund.Queued}, To: refund.Submitting, Attempts: 1, Event: "submit"})
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d racers moved queued → submitting, want exactly 1", wins)
	}
	rec, err := s.Transition(ctx, id, store.Change{From: []refund.State{refund.Submitting}, To: refund.Succeeded,
		RequestStatus: "success", Event: "status"})
	if err != nil || rec.State != refund.Succeeded || rec.Attempts != 1 || rec.RequestStatus != "success" {
		t.Fatalf("transition: %+v: %v", rec, err)
	}
	// A terminal refund never moves back.
	_, err = s.Transition(ctx, id, store.Change{From: []refund.State{refund.Submitting, refund.Unknown}, To: refund.Unknown})
	var te *refund.TransitionError
	if !errors.As(err, &te) || te.From != refund.Succeeded {
		t.Fatalf("late writer: %v, want a TransitionError from succeeded", err)
	}
	// Edges outside the graph are refused before touching Redis.
	if _, err := s.Transition(ctx, id, store.Change{From: []refund.State{refund.Succeeded}, To: refund.Queued}); !errors.As(err, &te) {
		t.Fatalf("illegal edge: %v", err)
	}
	if _, err := s.Transition(ctx, "missing", store.Change{From: []refund.State{refund.Queued}, To: refund.Canceled}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing record: %v", err)
	}
}

func TestEventLogIsBounded(t *testing.T) {
	id := "00000000-0000-4000-8000-000000000002"
	s, ctx := created(t, id, store.WithMaxEvents(5))
	_, _ = s.Transition(ctx, id, store.Change{From: []refund.State{refund.Queued}, To: refund.Submitting, Event: "submit"})
	_, _ = s.Transition(ctx, id, store.Change{From: []refund.State{refund.Submitting}, To: refund.Processing, Event: "status"})
	for i := range 10 {
		_, err := s.Transition(ctx, id, store.Change{From: []refund.State{refund.Processing}, To: refund.Processing, Polls: 1,
			Event: "poll", Detail: fmt.Sprint(i)})
		testenv.Must(t, err)
	}
	// The acceptance always leads: it is read off the record, not stored.
	evs, _ := s.Events(ctx, id)
	if len(evs) != 6 || evs[0].Type != "accepted" || evs[1].Detail != "5" || evs[5].Detail != "9" {
		t.Fatalf("events %+v, want accepted and the newest 5", evs)
	}
	rec, _ := s.Get(ctx, id)
	if rec.Polls != 10 {
		t.Fatalf("polls %d", rec.Polls)
	}
}

func TestLockHasOneHolder(t *testing.T) {
	s, _, ctx := started(t)
	tok, ok, err := s.Lock(ctx, "r1", time.Minute)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if _, ok, _ := s.Lock(ctx, "r1", time.Minute); ok {
		t.Fatal("second holder got the lock")
	}
	testenv.Must(t, s.Unlock(ctx, "r1", "someone-else"))
	if _, ok, _ := s.Lock(ctx, "r1", time.Minute); ok {
		t.Fatal("a stranger's unlock freed the lock")
	}
	testenv.Must(t, s.Unlock(ctx, "r1", tok))
	if _, ok, _ := s.Lock(ctx, "r1", time.Minute); !ok {
		t.Fatal("lock not free after its holder's unlock")
	}
}

// A record that does not decode is reported, not read as zeros: a counter
// that is not a number, metadata that is not JSON, an event that is not an
// event. A record from a newer refundq reads as its version alone.
func TestDecodeErrorsSurface(t *testing.T) {
	s, rdb, ctx := started(t)
	for field, value := range map[string]string{"attempts": "two", "metadata": "{not json", "first_sent_at": "yesterday"} {
		id := "00000000-0000-4000-8000-0000000000e1"
		_, _, err := s.Create(ctx, newRecord(id))
		testenv.Must(t, err)
		testenv.Must(t, rdb.HSet(ctx, "refundq:{"+id+"}", field, value).Err())
		if _, err := s.Get(ctx, id); !errors.Is(err, store.ErrCorrupt) {
			t.Errorf("%s %q: %v, want ErrCorrupt", field, value, err)
		}
		testenv.Must(t, rdb.FlushAll(ctx).Err())
	}
	id := "00000000-0000-4000-8000-0000000000e2"
	_, _, err := s.Create(ctx, newRecord(id))
	testenv.Must(t, err)
	testenv.Must(t, rdb.RPush(ctx, "refundq:{"+id+"}:events", "not an event").Err())
	if _, err := s.Events(ctx, id); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("events: %v, want ErrCorrupt", err)
	}
	testenv.Must(t, rdb.HSet(ctx, "refundq:{"+id+"}", "v", "99", "attempts", "a shape of the future").Err())
	if rec, err := s.Get(ctx, id); err != nil || rec.Version != 99 || rec.RequestID != id {
		t.Errorf("a newer record: %+v %v, want its version and id", rec, err)
	}
}
