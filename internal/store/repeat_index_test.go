package store_test

import (
	"testing"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
)

// A repeat Create of a refund that has left queued must not list it as
// queued again: nothing would ever take it out, and the queued count and
// the oldest-pending age would be wrong for good.
func TestRepeatCreateDoesNotRelistAMovedRefund(t *testing.T) {
	id := "5f0e2a4c-1b7d-4c3e-9a8f-0d6b2e4c8a10"
	s, ctx := created(t, id)
	_, err := s.Transition(ctx, id, store.Change{From: []refund.State{refund.Queued}, To: refund.Submitting, Event: "submit"})
	testenv.Must(t, err)

	rec, created, err := s.Create(ctx, newRecord(id))
	if err != nil || created || rec.State != refund.Submitting {
		t.Fatalf("repeat: %v %v %v", rec, created, err)
	}
	queued, err := s.ListState(ctx, refund.Queued, 10)
	testenv.Must(t, err)
	submitting, err := s.ListState(ctx, refund.Submitting, 10)
	testenv.Must(t, err)
	if len(queued) != 0 || len(submitting) != 1 {
		t.Fatalf("after a repeat: queued index %v, submitting index %v", queued, submitting)
	}
}
