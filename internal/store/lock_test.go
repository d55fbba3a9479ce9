package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
)

func TestLockAndGetTakesTheLockAndReadsTheRecord(t *testing.T) {
	id := "00000000-0000-4000-8000-0000000000a1"
	s, ctx := created(t, id)
	token, rec, err := s.LockAndGet(ctx, id, time.Minute)
	if err != nil || token == "" || rec.RequestID != id || rec.State != refund.Queued {
		t.Fatalf("first: token %q rec %+v: %v", token, rec, err)
	}
	// A second caller gets the record but not the lock.
	other, rec, err := s.LockAndGet(ctx, id, time.Minute)
	if err != nil || other != "" || rec == nil || rec.RequestID != id {
		t.Fatalf("second: token %q rec %+v: %v", other, rec, err)
	}
	if err := s.Unlock(ctx, id, token); err != nil {
		t.Fatal(err)
	}
	if again, _, err := s.LockAndGet(ctx, id, time.Minute); err != nil || again == "" {
		t.Fatalf("after unlock: token %q: %v", again, err)
	}
}

// Taking the lock of a refund that does not exist says so and leaves no
// lock behind, whichever way a worker takes it.
func TestLockingAMissingRecordLeavesNoLock(t *testing.T) {
	r := testenv.StartRedis(t)
	s := store.New(r.Client())
	ctx := context.Background()
	for name, lock := range map[string]func(id string) error{
		"LockAndGet": func(id string) error { _, _, err := s.LockAndGet(ctx, id, time.Minute); return err },
		"Claim": func(id string) error {
			_, err := s.Claim(ctx, id, time.Minute, refund.DefaultMerchant, sendChange())
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			id := refund.DeriveRequestID(refund.DefaultMerchant, "missing-"+name)
			if err := lock(id); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("missing record: %v, want ErrNotFound", err)
			}
			if n := r.Client().Exists(ctx, "refundq:{"+id+"}:lock").Val(); n != 0 {
				t.Fatal("a lock was left behind for a refund that does not exist")
			}
		})
	}
}

func TestTransitionReleasesTheLockOnlyWhenItApplies(t *testing.T) {
	id := "00000000-0000-4000-8000-0000000000a3"
	s, ctx := created(t, id)
	token, _, err := s.LockAndGet(ctx, id, time.Minute)
	if err != nil || token == "" {
		t.Fatalf("lock: %q %v", token, err)
	}
	locked := func() bool {
		t.Helper()
		tok, _, err := s.LockAndGet(ctx, id, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if tok != "" {
			_ = s.Unlock(ctx, id, tok)
		}
		return tok == ""
	}
	// Refused: the lock stays with its holder.
	_, err = s.Transition(ctx, id, store.Change{From: []refund.State{refund.Processing}, To: refund.Succeeded, Unlock: token})
	var te *refund.TransitionError
	if !errors.As(err, &te) || !locked() {
		t.Fatalf("refused change: %v; lock held: %v", err, locked())
	}
	// Someone else's token frees nothing.
	if _, err := s.Transition(ctx, id, store.Change{From: []refund.State{refund.Queued}, To: refund.Submitting, Unlock: "not-the-token"}); err != nil || !locked() {
		t.Fatalf("foreign token: %v; lock held: %v", err, locked())
	}
	// Applied with the holder's token: released in the same call.
	if _, err := s.Transition(ctx, id, store.Change{From: []refund.State{refund.Submitting}, To: refund.Processing, Unlock: token}); err != nil || locked() {
		t.Fatalf("applied change: %v; lock still held: %v", err, locked())
	}
}

func TestRefusedTransitionLeavesTheIndexesAsTheyWere(t *testing.T) {
	id := "00000000-0000-4000-8000-0000000000a4"
	s, ctx := created(t, id)
	listed := func(st refund.State) bool {
		t.Helper()
		ids, err := s.ListState(ctx, st, 10)
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(ids, id)
	}
	// The index update travels with the compare-and-set; a refusal must
	// take back the entry it wrote for the state the refund never reached.
	_, err := s.Transition(ctx, id, store.Change{From: []refund.State{refund.Submitting}, To: refund.Processing})
	var te *refund.TransitionError
	if !errors.As(err, &te) {
		t.Fatalf("want a refusal, got %v", err)
	}
	if listed(refund.Processing) || !listed(refund.Queued) {
		t.Fatalf("after a refused change: listed processing %v, queued %v", listed(refund.Processing), listed(refund.Queued))
	}
	if _, err := s.Transition(ctx, id, store.Change{From: []refund.State{refund.Queued}, To: refund.Submitting}); err != nil {
		t.Fatal(err)
	}
	if listed(refund.Queued) || !listed(refund.Submitting) {
		t.Fatalf("after an applied change: listed queued %v, submitting %v", listed(refund.Queued), listed(refund.Submitting))
	}
	missing := "00000000-0000-4000-8000-0000000000a5"
	if _, err := s.Transition(ctx, missing, store.Change{From: []refund.State{refund.Queued}, To: refund.Submitting}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("missing record: %v", err)
	}
	if ids, _ := s.ListState(ctx, refund.Submitting, 10); slices.Contains(ids, missing) {
		t.Fatal("a refund that does not exist was indexed")
	}
}

func TestTransitionAfterTheScriptCacheIsEmptied(t *testing.T) {
	r := testenv.StartRedis(t)
	s := store.New(r.Client())
	ctx := context.Background()
	id := "00000000-0000-4000-8000-0000000000a6"
	if _, _, err := s.Create(ctx, newRecord(id)); err != nil {
		t.Fatal(err)
	}
	// As after a Redis restart: the pipelined EVALSHA gets NOSCRIPT.
	if err := r.Client().ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Transition(ctx, id, store.Change{From: []refund.State{refund.Queued}, To: refund.Submitting})
	if err != nil || rec.State != refund.Submitting {
		t.Fatalf("transition after SCRIPT FLUSH: %+v %v", rec, err)
	}
	if ids, _ := s.ListState(ctx, refund.Submitting, 10); !slices.Contains(ids, id) {
		t.Fatal("not indexed as submitting")
	}
}
