package batchfile_test

import (
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/batchfile"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		name string
		peek string
		want batchfile.Format
	}{
		{"refunds.csv", `{"looks":"like json"}`, batchfile.CSV},
		{"REFUNDS.CSV", "", batchfile.CSV},
		{"refunds.jsonl", "order_id,amount", batchfile.JSONL},
		{"refunds.ndjson", "", batchfile.JSONL},
		{"refunds.JSON", "", batchfile.JSONL},
		{"/tmp/dir.csv/refunds.jsonl", "", batchfile.JSONL},
		{"upload", `{"order_id":"A1"}`, batchfile.JSONL},
		{"", "\ufeff \r\n\t{\"order_id\":\"A1\"}", batchfile.JSONL},
		{"refunds.txt", "order_id,amount\n", batchfile.CSV},
		{"", "\ufefforder_id;amount", batchfile.CSV},
		{"", "", batchfile.CSV},
		{"-", "   ", batchfile.CSV},
	}
	for _, tt := range tests {
		if got := batchfile.Detect(tt.name, []byte(tt.peek)); got != tt.want {
			t.Errorf("Detect(%q, %q) = %v, want %v", tt.name, tt.peek, got, tt.want)
		}
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		f  batchfile.Format
		in string
	}{
		{batchfile.CSV, "order_id\nA1\n"},
		{batchfile.JSONL, `{"order_id":"A1"}`},
	} {
		r, err := batchfile.New(tc.f, strings.NewReader(tc.in))
		if err != nil {
			t.Fatalf("%v: %v", tc.f, err)
		}
		rows, _, _ := readAll(t, r)
		if len(rows) != 1 || rows[0].Request.OrderID != "A1" {
			t.Errorf("%v: rows %v", tc.f, rows)
		}
	}
	if _, err := batchfile.New(batchfile.Format(0), strings.NewReader("")); err == nil {
		t.Error("New accepted the zero Format")
	}
}

func TestFormatString(t *testing.T) {
	if batchfile.CSV.String() != "csv" || batchfile.JSONL.String() != "jsonl" || batchfile.Format(9).String() != "Format(9)" {
		t.Error("unexpected Format names")
	}
}
