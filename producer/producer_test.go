package producer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

// Enqueue refuses bad input with an error naming the field, and nothing at
// all reaches Redis. internal/refund's table tests every rule; this checks
// that Enqueue applies them before it writes.
func TestBadInputIsRejectedAndNothingIsWritten(t *testing.T) {
	rdb := testenv.StartRedis(t).Client()
	p := producer.NewFromClient(rdb)
	for field, r := range map[string]producer.Refund{
		"request_id":   {OrderID: "order-1", Amount: "10.00"},
		"amount":       {IdempotencyKey: "k-1", OrderID: "order-1", Amount: "1e3"},
		"description":  {IdempotencyKey: "k-1", OrderID: "order-1", Amount: "10.00", Description: strings.Repeat("x", 256)},
		"callback_url": {IdempotencyKey: "k-1", OrderID: "order-1", CallbackURL: "http://example.com/hook"},
	} {
		t.Run(field, func(t *testing.T) {
			_, err := p.Enqueue(context.Background(), r)
			var ve *producer.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			if !hasField(ve, field) {
				t.Fatalf("error %q does not name %s", err, field)
			}
		})
	}
	if n, err := rdb.DBSize(context.Background()).Result(); err != nil || n != 0 {
		t.Fatalf("Redis holds %d keys after only invalid input (%v), want 0", n, err)
	}
}

func hasField(ve *producer.ValidationError, field string) bool {
	for _, f := range ve.Fields {
		if f.Field == field && f.Reason != "" {
			return true
		}
	}
	return false
}
