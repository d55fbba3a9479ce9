package refund

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// valid is a request every case below breaks in one way.
func valid() Request {
	return Request{IdempotencyKey: "k-1", OrderID: "order-1", Amount: "10.00"}
}

// Every kind of bad input gets an error naming the field it is about.
func TestValidateNamesTheBadField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Request)
		field string
	}{
		{"missing both ids", func(r *Request) { r.OrderID, r.TransactionID = "", "" }, "order_id"},
		{"missing request id and key", func(r *Request) { r.IdempotencyKey = "" }, "request_id"},
		{"amount zero", func(r *Request) { r.Amount = "0" }, "amount"},
		{"amount 0.00", func(r *Request) { r.Amount = "0.00" }, "amount"},
		{"negative amount", func(r *Request) { r.Amount = "-5.00" }, "amount"},
		{"NaN", func(r *Request) { r.Amount = "NaN" }, "amount"},
		{"infinity", func(r *Request) { r.Amount = "Inf" }, "amount"},
		{"exponent", func(r *Request) { r.Amount = "1e3" }, "amount"},
		{"three decimals", func(r *Request) { r.Amount = "10.005" }, "amount"},
		{"huge", func(r *Request) { r.Amount = "99999999999" }, "amount"},
		{"at the cap", func(r *Request) { r.Amount = "10000000000" }, "amount"},
		{"comma decimal", func(r *Request) { r.Amount = "10,50" }, "amount"},
		{"thousands separator", func(r *Request) { r.Amount = "1,000.00" }, "amount"},
		{"non-UUID request_id", func(r *Request) { r.RequestID = "refund-42" }, "request_id"},
		{"uppercase UUID", func(r *Request) { r.RequestID = "828CF71D-A447-4A67-A149-C1DF8BC197CA" }, "request_id"},
		{"braced UUID", func(r *Request) { r.RequestID = "{828cf71d-a447-4a67-a149-c1df8bc197ca}" }, "request_id"},
		{"oversized idempotency key", func(r *Request) { r.IdempotencyKey = strings.Repeat("k", 201) }, "idempotency_key"},
		{"control character in key", func(r *Request) { r.IdempotencyKey = "k\n1" }, "idempotency_key"},
		{"oversized description", func(r *Request) { r.Description = strings.Repeat("x", 256) }, "description"},
		{"control characters", func(r *Request) { r.Description = "a\x00b" }, "description"},
		{"invalid UTF-8", func(r *Request) { r.Description = "a\xffb" }, "description"},
		{"bad order id charset", func(r *Request) { r.OrderID = "order 1" }, "order_id"},
		{"oversized order id", func(r *Request) { r.OrderID = strings.Repeat("o", 65) }, "order_id"},
		{"bad transaction id charset", func(r *Request) { r.TransactionID = "txn;1" }, "transaction_id"},
		{"bad merchant", func(r *Request) { r.Merchant = "Shop One" }, "merchant"},
		{"oversized merchant", func(r *Request) { r.Merchant = strings.Repeat("m", 33) }, "merchant"},
		{"plain-http callback", func(r *Request) { r.CallbackURL = "http://example.com/hook" }, "callback_url"},
		{"relative callback", func(r *Request) { r.CallbackURL = "/hook" }, "callback_url"},
		{"ftp callback", func(r *Request) { r.CallbackURL = "ftp://example.com/hook" }, "callback_url"},
		{"too many metadata keys", func(r *Request) { r.Metadata = metadata(21) }, "metadata"},
		{"empty metadata key", func(r *Request) { r.Metadata = map[string]string{"": "v"} }, "metadata"},
		{"oversized metadata value", func(r *Request) { r.Metadata = map[string]string{"k": strings.Repeat("v", 501)} }, "metadata"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := valid()
			tc.edit(&r)
			var ve *ValidationError
			if err := Validate(r); !errors.As(err, &ve) {
				t.Fatalf("Validate(%+v) = %v, want a *ValidationError", r, err)
			}
			if got := fieldsOf(ve); !slices.Contains(got, tc.field) {
				t.Fatalf("error %q names %v, not %s", ve, got, tc.field)
			}
		})
	}
}

// What a merchant may legitimately send passes.
func TestValidateAcceptsWhatMerchantsSend(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Request)
	}{
		{"order id and key", func(*Request) {}},
		{"transaction id only", func(r *Request) { r.OrderID, r.TransactionID = "", "txn-000001" }},
		{"request id instead of key", func(r *Request) { r.IdempotencyKey, r.RequestID = "", "828cf71d-a447-4a67-a149-c1df8bc197ca" }},
		{"full refund", func(r *Request) { r.Amount = "" }},
		{"whole amount", func(r *Request) { r.Amount = "10" }},
		{"one fraction digit", func(r *Request) { r.Amount = "0.5" }},
		{"just under the cap", func(r *Request) { r.Amount = "9999999999.99" }},
		{"Cyrillic and Kazakh description", func(r *Request) { r.Description = "Возврат за заказ, қайтару" }},
		{"description at the limit", func(r *Request) { r.Description = strings.Repeat("é", 255) }},
		{"provider charset in ids", func(r *Request) { r.OrderID = "A-z_0.9/+=^&|,~!@#$*()`" }},
		{"named merchant", func(r *Request) { r.Merchant = "shop_1-kz" }},
		{"https callback", func(r *Request) { r.CallbackURL = "https://shop.example/hooks/refunds?token=x" }},
		{"http callback on localhost", func(r *Request) { r.CallbackURL = "http://localhost:8080/hook" }},
		{"metadata at the limit", func(r *Request) { r.Metadata = metadata(20) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := valid()
			tc.edit(&r)
			if err := Validate(r); err != nil {
				t.Fatalf("Validate(%+v) = %v, want nil", r, err)
			}
		})
	}
}

// One error names every bad field, so a caller fixes them all at once.
func TestValidationReportsEveryField(t *testing.T) {
	var ve *ValidationError
	if err := Validate(Request{Amount: "-1", Description: strings.Repeat("é", 300)}); !errors.As(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	got := fieldsOf(ve)
	for _, f := range []string{"request_id", "order_id", "amount", "description"} {
		if !slices.Contains(got, f) {
			t.Errorf("%q does not name %s", ve, f)
		}
	}
}

// fieldsOf lists the fields ve names with a reason.
func fieldsOf(ve *ValidationError) []string {
	var out []string
	for _, f := range ve.Fields {
		if f.Reason != "" {
			out = append(out, f.Field)
		}
	}
	return out
}

func metadata(n int) map[string]string {
	m := make(map[string]string, n)
	for i := range n {
		m[fmt.Sprint("key-", i)] = "value"
	}
	return m
}
