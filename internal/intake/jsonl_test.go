package intake

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/refund"
)

func TestJSONLQuirks(t *testing.T) {
	long := `{"order_id":"L","amount":1,"description":"` + strings.Repeat("x", 70<<10) + `"}`
	huge := `{"order_id":"H","amount":1,"description":"` + strings.Repeat("y", 1<<20) + `"}`
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"plain", `{"order_id":"A1","amount":1}` + "\n" + `{"order_id":"A2","amount":"2"}` + "\n", []string{"1 A1", "2 A2"}},
		{"no trailing newline", `{"order_id":"A1","amount":1}`, []string{"1 A1"}},
		{"empty input", "", nil},
		{"BOM on the first line", "\ufeff" + `{"order_id":"A1","amount":1}` + "\n", []string{"1 A1"}},
		{"BOM on a later line (files joined)", `{"order_id":"A1","amount":1}` + "\n\ufeff" + `{"order_id":"A2","amount":1}`, []string{"1 A1", "2 A2"}},
		{"CRLF", `{"order_id":"A1","amount":1}` + "\r\n" + `{"order_id":"A2","amount":1}` + "\r\n", []string{"1 A1", "2 A2"}},
		{"blank lines counted", "\n" + `{"order_id":"A1","amount":1}` + "\n \t\n\r\n\u00a0\n" + `{"order_id":"A2","amount":1}` + "\n\n", []string{"2 A1", "6 A2"}},
		{"unknown key", `{"order_id":"A1","amount":1,"amout":"1"}` + "\n" + `{"order_id":"A2","amount":1}`, []string{"1 !amout", "2 A2"}},
		{"empty or odd keys", `{"":1}` + "\n" + `{"a b":1}` + "\n" + `{"order_id":"A3","order_id":"A3"}`, []string{"1 !json", "2 !json", "3 !order_id"}},
		{"repeated key", `{"amount":"1","order_id":"A1","amount":"1000"}`, []string{"1 !amount"}},
		{"malformed", "{\"order_id\":\"A1\"\n{bad}\n[1,2]\n\"str\"\n{} {}\n{\"order_id\":\"A2\",\"amount\":1}", []string{"1 !json", "2 !json", "3 !json", "4 !json", "5 !json", "6 A2"}},
		{"trailing comma", `{"order_id":"A1",}`, []string{"1 !json"}},
		{"object split over lines", "{\n\"order_id\":\"A1\"\n}\n", []string{"1 !json", "2 !json", "3 !json"}},
		{"wrong types", `{"order_id":7,"amount":1}` + "\n" + `{"amount":1,"metadata":{"k":1}}` + "\n" + `{"amount":true}`, []string{"1 !order_id", "2 !metadata", "3 !amount"}},
		{"null means absent, except amount", `{"order_id":"A1","amount":1,"description":null,"metadata":null,"callback_url":null}` + "\n" + `{"order_id":"A2","amount":null}`, []string{"1 A1", "2 !amount"}},
		{"invalid UTF-8", "{\"order_id\":\"A1\",\"amount\":1}\n{\"order_id\":\"A1\",\"description\":\"\xff\"}\n{\"order_id\":\"A2\",\"amount\":1}", []string{"1 A1", "2 !json", "3 A2"}},
		{"line over 64 KiB", long + "\n" + `{"order_id":"A2","amount":1}`, []string{"1 L", "2 A2"}},
		{"line over 1 MiB", `{"order_id":"A1","amount":1}` + "\n" + huge + "\n" + `{"order_id":"A3","amount":1}`, []string{"1 A1", "2 !json", "3 A3"}},
		{"line over 1 MiB at EOF", `{"order_id":"A1","amount":1}` + "\n" + huge, []string{"1 A1", "2 !json"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := readAll(t, open(t, JSONL, tt.in)); !equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// A blank amount is never a full refund, in any spelling; a file asks
// for one with "full", and every amount error says how.
func TestJSONLAmounts(t *testing.T) {
	tests := []struct{ json, want string }{
		{`"10.50"`, "10.50"},
		{`10.50`, "10.50"},
		{`10.5`, "10.5"},
		{`" 10.50 "`, "10.50"}, // trimmed, as a CSV cell is
		{`9999999999.99`, "9999999999.99"},
		{`12345678901234567890.123`, "12345678901234567890.123"}, // float64 would mangle it; Validate refuses it
		{`1e3`, "1e3"},   // left for Validate to refuse
		{`-5`, "-5"},     // likewise
		{`"abc"`, "abc"}, // likewise
		{`"full"`, ""},
		{`"FULL"`, ""},
		{`""`, "!is blank"},
		{`"   "`, "!is blank"},
		{`"\u00a0"`, "!is blank"},
		{`"\u200b"`, "!is blank"},
		{`null`, "!is null"},
		{`true`, "!must be a JSON string or number"},
		{`{}`, "!must be a JSON string or number"},
		{``, "!is missing"},
	}
	for _, tt := range tests {
		line := `{"order_id":"A1","amount":` + tt.json + `}`
		if tt.json == "" {
			line = `{"order_id":"A1"}`
		}
		rows, _ := readAll(t, open(t, JSONL, line))
		if len(rows) != 1 || rows[0].Problem != nil {
			t.Fatalf("%s: rows %+v", tt.json, rows)
		}
		r := rows[0]
		if bad, ok := strings.CutPrefix(tt.want, "!"); ok {
			if len(r.Fields) != 1 || r.Fields[0].Field != "amount" || !strings.HasPrefix(r.Fields[0].Reason, bad) ||
				!strings.Contains(r.Fields[0].Reason, "or full for a full refund") {
				t.Errorf("%s: fields %+v, want amount %q with how to ask for a full refund", tt.json, r.Fields, bad)
			}
			continue
		}
		if len(r.Fields) != 0 || r.Request.Amount != tt.want {
			t.Errorf("%s: amount %q, fields %v; want %q", tt.json, r.Request.Amount, r.Fields, tt.want)
		}
	}
}

func TestJSONLFieldValues(t *testing.T) {
	line := `{"request_id":"828cf71d-a447-4a67-a149-c1df8bc197ca","idempotency_key":" k1","merchant":"shop",` +
		`"order_id":"A1\u00a0","transaction_id":"T1","amount":10.50,"description":"  Возврат  ",` +
		`"callback_url":"https://example.com/cb","metadata":{"crm":" 42 "}}`
	rows, _ := readAll(t, open(t, JSONL, line+"\n"))
	if len(rows) != 1 || rows[0].Errors() != nil {
		t.Fatalf("rows %+v", rows)
	}
	want := refund.Request{
		RequestID: "828cf71d-a447-4a67-a149-c1df8bc197ca", IdempotencyKey: "k1", Merchant: "shop",
		OrderID: "A1", TransactionID: "T1", Amount: "10.50", Description: "Возврат",
		CallbackURL: "https://example.com/cb", Metadata: map[string]string{"crm": " 42 "},
	}
	if !reflect.DeepEqual(rows[0].Request, want) {
		t.Errorf("got %+v\nwant %+v", rows[0].Request, want)
	}
	if rows[0].Raw != line {
		t.Errorf("raw %q", rows[0].Raw)
	}
}

// Every problem of a line is reported: the decoder's and validation's.
func TestJSONLReportsEveryProblemOfALine(t *testing.T) {
	line := `{"order_id":"bad id","amount":"","amout":"5","merchant":"Shop One","idempotency_key":"k","callback_url":"http://x.example"}`
	rows, _ := readAll(t, open(t, JSONL, line))
	want := []string{"1 amount", "1 amout", "1 order_id", "1 merchant", "1 callback_url"}
	if got := problems(rows); !equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	for _, e := range rows[0].Errors() {
		if e.Raw != line {
			t.Errorf("%s: raw %q", e.Field, e.Raw)
		}
	}
}

func TestJSONLErrorDetails(t *testing.T) {
	huge := `{"order_id":"H","description":"` + strings.Repeat("y", 1<<20) + `"}`
	in := `{"order_id":"A1","amount":1,"amout":"1"}` + "\n" + huge + "\n" + "{oops\n"
	rows, _ := readAll(t, open(t, JSONL, in))
	if len(rows) != 3 {
		t.Fatalf("rows %v", rows)
	}
	if e := rows[0].Errors()[0]; !strings.HasPrefix(e.Reason, `is not a known field (known: order_id,`) || e.Raw != `{"order_id":"A1","amount":1,"amout":"1"}` {
		t.Errorf("unknown key: %+v", e)
	}
	if e := rows[1].Errors()[0]; e.Line != 2 || len(e.Raw) != 512 || !strings.HasPrefix(e.Raw, `{"order_id":"H"`) || !strings.Contains(e.Reason, "1048576") {
		t.Errorf("long line: line %d, reason %q, raw %d bytes", e.Line, e.Reason, len(e.Raw))
	}
	if e := rows[2].Errors()[0]; e.Line != 3 || !strings.HasPrefix(e.Reason, "malformed JSON: ") || e.Raw != "{oops" || e.Field != "json" {
		t.Errorf("malformed: %+v", e)
	}
}

func TestJSONLRefusesBinaryAtOnce(t *testing.T) {
	for name, in := range map[string]string{
		"NUL":      "{\"order_id\":\"A1\"}\n\x00\x00\x00",
		"not UTF8": "{\"order_id\":\"\xfe\xff\"}\n",
		"gzip":     "\x1f\x8b\x08\x00",
	} {
		if _, _, err := newReader(context.Background(), strings.NewReader(in), JSONL, ""); !IsInputError(err) {
			t.Errorf("%s: err = %v, want an InputError", name, err)
		}
	}
}
