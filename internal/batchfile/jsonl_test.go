package batchfile_test

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/refundq/refundq/internal/batchfile"
	"github.com/refundq/refundq/internal/refund"
)

func TestJSONLLines(t *testing.T) {
	long := `{"order_id":"L","description":"` + strings.Repeat("x", 100<<10) + `"}`
	huge := `{"order_id":"H","description":"` + strings.Repeat("y", 1<<20) + `"}`
	tests := []struct {
		name string
		in   string
		want []string // "LINE order_id" or "LINE !field"
	}{
		{"plain", `{"order_id":"A1"}` + "\n" + `{"order_id":"A2"}` + "\n", []string{"1 A1", "2 A2"}},
		{"no trailing newline", `{"order_id":"A1"}`, []string{"1 A1"}},
		{"empty input", "", nil},
		{"BOM on first line", "\ufeff" + `{"order_id":"A1"}` + "\n", []string{"1 A1"}},
		{"CRLF", `{"order_id":"A1"}` + "\r\n" + `{"order_id":"A2"}` + "\r\n", []string{"1 A1", "2 A2"}},
		{"blank lines counted", "\n" + `{"order_id":"A1"}` + "\n \t\n\r\n" + `{"order_id":"A2"}` + "\n\n", []string{"2 A1", "5 A2"}},
		{"unknown key", `{"order_id":"A1","amout":"1"}` + "\n" + `{"order_id":"A2"}`, []string{"1 !amout", "2 A2"}},
		{"empty or odd keys", `{"":1}` + "\n" + `{"a b":1}` + "\n" + `{"order_id":"A3","order_id":"A3"}`, []string{"1 !json", "2 !json", "3 !order_id"}},
		{"repeated key", `{"amount":"1","order_id":"A1","amount":"1000"}`, []string{"1 !amount"}},
		{"malformed", "{\"order_id\":\"A1\"\n{bad}\n[1,2]\n\"str\"\n{} {}\n{\"order_id\":\"A2\"}", []string{"1 !json", "2 !json", "3 !json", "4 !json", "5 !json", "6 A2"}},
		{"trailing comma", `{"order_id":"A1",}`, []string{"1 !json"}},
		{"object split over lines", "{\n\"order_id\":\"A1\"\n}\n", []string{"1 !json", "2 !json", "3 !json"}},
		{"wrong types", `{"order_id":7}` + "\n" + `{"metadata":{"k":1}}` + "\n" + `{"amount":true}` + "\n" + `{"amount":null}`, []string{"1 !order_id", "2 !metadata", "3 !amount", "4 !amount"}},
		{"null means absent", `{"order_id":"A1","description":null,"metadata":null,"callback_url":null}`, []string{"1 A1"}},
		{"invalid UTF-8", "{\"order_id\":\"A1\",\"description\":\"\xff\"}\n{\"order_id\":\"A2\"}", []string{"1 !json", "2 A2"}},
		{"line over 64 KiB", long + "\n" + `{"order_id":"A2"}`, []string{"1 L", "2 A2"}},
		{"line over 1 MiB", `{"order_id":"A1"}` + "\n" + huge + "\n" + `{"order_id":"A3"}`, []string{"1 A1", "2 !json", "3 A3"}},
		{"line over 1 MiB at EOF", huge, []string{"1 !json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, got := readAll(t, batchfile.NewJSONL(strings.NewReader(tt.in)))
			if !equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestJSONLAmountKeepsTheLiteralText(t *testing.T) {
	tests := []struct{ json, want string }{
		{`"10.50"`, "10.50"},
		{`10.50`, "10.50"},
		{`10.5`, "10.5"},
		{`0.1`, "0.1"},
		{` 7 `, "7"},
		{`9999999999.99`, "9999999999.99"},
		{`12345678901234567890.123`, "12345678901234567890.123"}, // float64 would mangle it
		{`1e3`, "1e3"},   // left for refund.Validate to reject
		{`-5`, "-5"},     // likewise
		{`""`, ""},       // an empty string is a full refund, as in CSV
		{`"abc"`, "abc"}, // Validate's job
	}
	for _, tt := range tests {
		line := `{"order_id":"A1","amount":` + tt.json + `}`
		rows, errs, _ := readAll(t, batchfile.NewJSONL(strings.NewReader(line)))
		if len(rows) != 1 || len(errs) != 0 {
			t.Errorf("%s: rows %v errs %v", tt.json, rows, errs)
			continue
		}
		if got := rows[0].Request.Amount; got != tt.want {
			t.Errorf("%s: amount %q, want %q", tt.json, got, tt.want)
		}
	}
}

func TestJSONLFieldValues(t *testing.T) {
	line := `{"request_id":"828cf71d-a447-4a67-a149-c1df8bc197ca","idempotency_key":"k1","merchant":"shop",` +
		`"order_id":"A1","transaction_id":"T1","amount":10.50,"description":"  Возврат  ",` +
		`"callback_url":"https://example.com/cb","metadata":{"crm":"42"}}`
	rows, errs, _ := readAll(t, batchfile.NewJSONL(strings.NewReader(line+"\n")))
	if len(rows) != 1 || len(errs) != 0 {
		t.Fatalf("rows %v errs %v", rows, errs)
	}
	want := refund.Request{
		RequestID: "828cf71d-a447-4a67-a149-c1df8bc197ca", IdempotencyKey: "k1", Merchant: "shop",
		OrderID: "A1", TransactionID: "T1", Amount: "10.50", Description: "  Возврат  ",
		CallbackURL: "https://example.com/cb", Metadata: map[string]string{"crm": "42"},
	}
	if !reflect.DeepEqual(rows[0].Request, want) {
		t.Errorf("got %+v\nwant %+v", rows[0].Request, want)
	}
	if rows[0].Raw != line {
		t.Errorf("raw %q", rows[0].Raw)
	}
}

func TestJSONLErrorDetails(t *testing.T) {
	huge := `{"order_id":"H","description":"` + strings.Repeat("y", 1<<20) + `"}`
	in := `{"order_id":"A1","amout":"1"}` + "\n" + huge + "\n" + "{oops\n"
	_, errs, _ := readAll(t, batchfile.NewJSONL(strings.NewReader(in)))
	if len(errs) != 3 {
		t.Fatalf("errs %v", errs)
	}
	if e := errs[0]; !strings.HasPrefix(e.Reason, `key "amout" is unknown (known: order_id,`) || e.Raw != `{"order_id":"A1","amout":"1"}` {
		t.Errorf("unknown key: %+v", e)
	}
	if e := errs[1]; e.Line != 2 || len(e.Raw) != 512 || !strings.HasPrefix(e.Raw, `{"order_id":"H"`) || !strings.Contains(e.Reason, "1048576") {
		t.Errorf("long line: line %d, reason %q, raw %d bytes", e.Line, e.Reason, len(e.Raw))
	}
	if e := errs[2]; e.Line != 3 || !strings.HasPrefix(e.Reason, "malformed JSON: ") || e.Raw != "{oops" {
		t.Errorf("malformed: %+v", e)
	}
	if got := errs[2].Error(); !strings.HasPrefix(got, "line 3: json: malformed JSON") {
		t.Errorf("Error() = %q", got)
	}
}

func TestJSONLReadErrorIsFatalAndSticky(t *testing.T) {
	boom := errors.New("connection reset")
	in := io.MultiReader(strings.NewReader(`{"order_id":"A1"}`+"\n"+`{"order_id":"A2"`), iotest.ErrReader(boom))
	r := batchfile.NewJSONL(in)
	if row, err := r.Next(); err != nil || row.Request.OrderID != "A1" {
		t.Fatalf("first row %v, %v", row, err)
	}
	for range 2 {
		_, err := r.Next()
		var re *batchfile.RowError
		if !errors.Is(err, boom) || errors.As(err, &re) {
			t.Fatalf("err = %v, want fatal wrapping %v", err, boom)
		}
	}
}
