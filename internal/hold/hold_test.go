package hold

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

func TestPolicyHoldsBigBatches(t *testing.T) {
	p := Policy{BatchRows: 100, BatchAmount: decimal.NewFromInt(5000)}
	for _, c := range []struct {
		size Size
		held bool
		why  string
	}{
		{Size{Rows: 100, Total: decimal.NewFromInt(5000)}, false, ""},
		{Size{Rows: 101}, true, "101 rows"},
		{Size{Rows: 3, Total: decimal.RequireFromString("5000.01")}, true, "total of 5000.01"},
		{Size{Rows: 3, Full: 1}, true, "full refunds"},
	} {
		held, why := p.Batch(c.size)
		if held != c.held || !strings.Contains(why, c.why) {
			t.Errorf("%+v: held %v (%q), want %v (%q)", c.size, held, why, c.held, c.why)
		}
	}
	if held, _ := (Policy{}).Batch(Size{Rows: 1 << 30, Full: 9}); held {
		t.Error("the zero policy holds a batch")
	}
	h := Policy{}.Hold(Size{Rows: 1}, true, "alice")
	if !h.All || h.By != "alice" {
		t.Errorf("an asked-for hold: %+v", h)
	}
}

func TestSizeAddsReadableAmounts(t *testing.T) {
	var s Size
	for _, a := range []string{"10", "0.50", "", "1e3", "abc"} {
		s.Add(a)
	}
	if !s.Total.Equal(decimal.RequireFromString("10.50")) || s.Full != 1 {
		t.Fatalf("size %+v, want 10.50 and 1 full", s)
	}
}
