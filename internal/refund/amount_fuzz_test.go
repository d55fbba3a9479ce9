package refund_test

import (
	"testing"

	"github.com/refundq/refundq/internal/refund"
	"github.com/shopspring/decimal"
)

// FuzzParseAmount checks the promises money handling rests on: whatever
// ParseAmount accepts is positive, below the cap, has at most two fraction
// digits, and survives the StringFixed(2) rendering Normalize sends to the
// provider without changing value.
func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{
		"1", "10.50", "0.01", "0.1", "9999999999.99", "10000000000", "0", "0.00", "-1", "+1",
		"1.234", "1e3", "1E3", ".5", "5.", "01.50", " 1", "1 ", "1,50", "NaN", "Inf", "0x10",
		"١٢", "1_000", "", "99999999999", "00000000001.00",
	} {
		f.Add(s)
	}
	maxAmount := decimal.New(1, 10)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := refund.ParseAmount(s)
		if err != nil {
			return
		}
		if !d.IsPositive() {
			t.Fatalf("%q accepted as %s, not > 0", s, d)
		}
		if d.GreaterThanOrEqual(maxAmount) {
			t.Fatalf("%q accepted as %s, not below the cap", s, d)
		}
		if d.Exponent() < -2 || !d.Round(2).Equal(d) {
			t.Fatalf("%q accepted as %s with more than 2 decimals", s, d)
		}
		fixed := d.StringFixed(2)
		back, err := refund.ParseAmount(fixed)
		if err != nil {
			t.Fatalf("%q → %q no longer parses: %v", s, fixed, err)
		}
		if !back.Equal(d) || back.StringFixed(2) != fixed {
			t.Fatalf("%q → %q → %s does not round-trip", s, fixed, back)
		}
	})
}
