package producer_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

// Every kind of bad input gets an error naming the field, and nothing at
// all reaches Redis.
func TestBadInputIsRejectedAndNothingIsWritten(t *testing.T) {
	r := testenv.StartRedis(t)
	rdb := r.Client()
	p := producer.NewFromClient(rdb)
	ok := producer.Refund{IdempotencyKey: "k-1", OrderID: "order-1", Amount: "10.00"}
	cases := []struct {
		name  string
		edit  func(*producer.Refund)
		field string
	}{
		{"missing both ids", func(r *producer.Refund) { r.OrderID, r.TransactionID = "", "" }, "order_id"},
		{"missing request id and key", func(r *producer.Refund) { r.IdempotencyKey = "" }, "request_id"},
		{"amount zero", func(r *producer.Refund) { r.Amount = "0" }, "amount"},
		{"amount 0.00", func(r *producer.Refund) { r.Amount = "0.00" }, "amount"},
		{"negative amount", func(r *producer.Refund) { r.Amount = "-5.00" }, "amount"},
		{"NaN", func(r *producer.Refund) { r.Amount = "NaN" }, "amount"},
		{"infinity", func(r *producer.Refund) { r.Amount = "Inf" }, "amount"},
		{"exponent", func(r *producer.Refund) { r.Amount = "1e3" }, "amount"},
		{"three decimals", func(r *producer.Refund) { r.Amount = "10.005" }, "amount"},
		{"huge", func(r *producer.Refund) { r.Amount = "99999999999" }, "amount"},
		{"comma decimal", func(r *producer.Refund) { r.Amount = "10,50" }, "amount"},
		{"non-UUID request_id", func(r *producer.Refund) { r.RequestID = "refund-42" }, "request_id"},
		{"uppercase UUID", func(r *producer.Refund) { r.RequestID = "828CF71D-A447-4A67-A149-C1DF8BC197CA" }, "request_id"},
		{"oversized description", func(r *producer.Refund) { r.Description = strings.Repeat("x", 256) }, "description"},
		{"control characters", func(r *producer.Refund) { r.Description = "a\x00b" }, "description"},
		{"bad order id charset", func(r *producer.Refund) { r.OrderID = "order 1" }, "order_id"},
		{"bad merchant", func(r *producer.Refund) { r.Merchant = "Shop One" }, "merchant"},
		{"plain-http callback", func(r *producer.Refund) { r.CallbackURL = "http://example.com/hook" }, "callback_url"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := ok
			c.edit(&in)
			_, err := p.Enqueue(context.Background(), in)
			var ve *producer.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a *ValidationError", err)
			}
			if !hasField(ve, c.field) {
				t.Fatalf("error %q does not name %s", err, c.field)
			}
		})
	}
	if n, err := rdb.DBSize(context.Background()).Result(); err != nil || n != 0 {
		t.Fatalf("Redis holds %d keys after only invalid input (%v), want 0", n, err)
	}
}

func TestValidationReportsEveryField(t *testing.T) {
	_, err := producer.NewFromClient(nil).Enqueue(context.Background(), producer.Refund{Amount: "-1", Description: strings.Repeat("é", 300)})
	var ve *producer.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	for _, f := range []string{"request_id", "order_id", "amount", "description"} {
		if !hasField(ve, f) {
			t.Errorf("%q does not name %s", err, f)
		}
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
