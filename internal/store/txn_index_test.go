package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
)

// Refunds are found by transaction_id, one by one or from a batch, and a
// terminal refund's entry goes when its record does, like the order index.
func TestTransactionIndex(t *testing.T) {
	s, _, ctx := started(t, store.WithRetention(time.Second))
	single, batched, done := "00000000-0000-4000-8000-0000000000d1", "00000000-0000-4000-8000-0000000000d2", "00000000-0000-4000-8000-0000000000d3"
	for _, id := range []string{single, done} {
		rec := newRecord(id)
		rec.TransactionID = "txn-1"
		_, _, err := s.Create(ctx, rec)
		testenv.Must(t, err)
	}
	rec := newRecord(batched)
	rec.TransactionID, rec.BatchID = "txn-1", "b-txn"
	_, err := s.CreateMany(ctx, []*refund.Record{rec})
	testenv.Must(t, err)
	ids, err := s.ByTransaction(ctx, refund.DefaultMerchant, "txn-1")
	testenv.Must(t, err)
	slices.Sort(ids)
	if want := []string{single, batched, done}; !slices.Equal(ids, want) {
		t.Fatalf("by transaction: %v, want %v", ids, want)
	}
	if ids, _ := s.ByTransaction(ctx, "other-merchant", "txn-1"); len(ids) != 0 {
		t.Fatalf("another merchant's transaction lists %v", ids)
	}
	move(t, s, done, refund.Queued, refund.Canceled)
	testenv.WaitFor(t, 10*time.Second, "the canceled record to expire", func() bool {
		_, err := s.Get(ctx, done)
		return err == store.ErrNotFound
	})
	ids, err = s.ByTransaction(ctx, refund.DefaultMerchant, "txn-1")
	testenv.Must(t, err)
	slices.Sort(ids)
	if want := []string{single, batched}; !slices.Equal(ids, want) {
		t.Fatalf("after expiry: %v, want %v", ids, want)
	}
}
