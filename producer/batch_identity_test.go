package producer

import (
	"testing"

	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/refund"
)

// FuzzNormalAmount holds normalAmount to what refund.ParseAmount accepts
// and decimal writes, the normalisation Request.Normalize applies, so a
// row's id and its stored amount agree on what an amount is.
func FuzzNormalAmount(f *testing.F) {
	for _, s := range []string{"10", "10.5", "010.50", "0.01", "0", "00.00", "99999999999.99", "1.", ".5", "1e3", "-1", " 1", "१"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := normalAmount(s)
		_, err := refund.ParseAmount(s)
		valid := err == nil || err.Error() == "must be greater than 0" || err.Error() == "must be less than 10000000000"
		if ok != valid {
			t.Fatalf("normalAmount(%q) ok=%v, ParseAmount says %v", s, ok, err)
		}
		if !ok {
			return
		}
		d, derr := decimal.NewFromString(s)
		if derr != nil || d.StringFixed(2) != got {
			t.Fatalf("normalAmount(%q) = %q, decimal says %q (%v)", s, got, d.StringFixed(2), derr)
		}
	})
}

func TestCanonicalRowIgnoresHowARowIsWritten(t *testing.T) {
	base := Refund{OrderID: "o-1", Amount: "10.5", Metadata: map[string]string{"a": "1", "b": "2"}}
	same := Refund{Merchant: "default", OrderID: "o-1", Amount: "010.50", Metadata: map[string]string{"b": "2", "a": "1"}}
	if CanonicalRow(base) != CanonicalRow(same) || BatchRowID(base) != BatchRowID(same) {
		t.Error("the same row written two ways differs")
	}
	for name, other := range map[string]Refund{
		"amount":      {OrderID: "o-1", Amount: "10.51", Metadata: base.Metadata},
		"full":        {OrderID: "o-1", Metadata: base.Metadata},
		"merchant":    {Merchant: "m2", OrderID: "o-1", Amount: "10.5", Metadata: base.Metadata},
		"description": {OrderID: "o-1", Amount: "10.5", Description: "x", Metadata: base.Metadata},
		"metadata":    {OrderID: "o-1", Amount: "10.5", Metadata: map[string]string{"a": "1", "b": "3"}},
		"shifted":     {OrderID: "o-1", TransactionID: "", Amount: "10.5", Metadata: map[string]string{"a": "1\x00b", "": "2"}},
	} {
		if BatchRowID(other) == BatchRowID(base) {
			t.Errorf("%s: another refund got the same request_id", name)
		}
	}
	keyed := Refund{OrderID: "o-1", Amount: "1", IdempotencyKey: "k"}
	if BatchRowID(keyed) != refund.DeriveRequestID(refund.DefaultMerchant, "k") {
		t.Error("a keyed row's id is not Enqueue's")
	}
	if given := (Refund{RequestID: "828cf71d-a447-4a67-a149-c1df8bc197ca", IdempotencyKey: "k"}); BatchRowID(given) != given.RequestID {
		t.Error("a given request_id was replaced")
	}
}
