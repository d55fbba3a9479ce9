package intake

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/refund"
)

func TestDecodeKeepsAmountText(t *testing.T) {
	for body, want := range map[string]string{
		`{"amount":0.1}`:                     "0.1", // a float64 would be 0.1000000000000000055...
		`{"amount":10.50}`:                   "10.50",
		`{"amount":"10.50"}`:                 "10.50",
		`{"amount":1e3}`:                     "1e3", // kept for Validate to refuse, not turned into 1000
		`{"amount":1E400}`:                   "1E400",
		`{"amount":12345678901234567890.12}`: "12345678901234567890.12",
	} {
		req, fields, err := DecodeJSON([]byte(body), Single)
		if err != nil || fields != nil || req.Amount != want {
			t.Errorf("%s: amount %q, %v, %v; want %q", body, req.Amount, fields, err, want)
		}
	}
}

// In a single refund an absent amount is a full refund, as the provider
// documents; nothing else is: not "", null, blanks, NBSP, or "full".
func TestDecodeSingleAmounts(t *testing.T) {
	if req, fields, err := DecodeJSON([]byte(`{"order_id":"o"}`), Single); err != nil || fields != nil || req.Amount != "" {
		t.Fatalf("absent amount: %+v %v %v", req, fields, err)
	}
	for _, amount := range []string{`""`, `null`, `"  "`, `"\u00a0"`, `"\t"`, `"full"`, `true`, `[]`} {
		_, fields, err := DecodeJSON([]byte(`{"order_id":"o","amount":`+amount+`}`), Single)
		if err != nil || len(fields) != 1 || fields[0].Field != "amount" || !strings.Contains(fields[0].Reason, "leave amount out for a full refund") {
			t.Errorf("amount %s: %v %v, want an amount error saying how to ask for a full refund", amount, fields, err)
		}
	}
	// Non-blank text that is not a number reaches Validate, which names
	// the amount too.
	for _, amount := range []string{`" 10"`, `"10\u00a0"`, `"ten"`, `"1,50"`} {
		req, fields, err := DecodeJSON([]byte(`{"order_id":"o","amount":`+amount+`}`), Single)
		ve, _ := refund.Validate(req).(*refund.ValidationError)
		if err != nil || fields != nil || ve == nil || ve.Fields[len(ve.Fields)-1].Field != "amount" {
			t.Errorf("amount %s: %v %v, validate %v", amount, fields, err, ve)
		}
	}
}

func TestDecodeReportsEveryMemberProblem(t *testing.T) {
	_, fields, err := DecodeJSON([]byte(`{"amout":"1","order_id":5,"order_id":"x","metadata":[],"amount":true,"":1}`), Single)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fields {
		got = append(got, f.Field)
	}
	if want := []string{"amout", "order_id", "order_id", "metadata", "amount", "body"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
}

func TestDecodeBoundsErrors(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("{")
	for i := range 10 * maxDecodeErrors {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":1`)
	}
	b.WriteString("}")
	if _, fields, _ := DecodeJSON(b.Bytes(), Line); len(fields) != maxDecodeErrors {
		t.Fatalf("%d field errors, want exactly %d", len(fields), maxDecodeErrors)
	}
}

func TestDecodeSyntaxErrors(t *testing.T) {
	for _, body := range []string{``, `[]`, `{`, `{"a":1} x`, "{\"order_id\":\"\xff\"}", `"str"`} {
		if _, _, err := DecodeJSON([]byte(body), Single); err == nil {
			t.Errorf("%q: no syntax error", body)
		}
	}
}

func TestMergeFieldsKeepsDecodedFirst(t *testing.T) {
	got := MergeFields([]refund.FieldError{{Field: "amount", Reason: "appears more than once"}},
		[]refund.FieldError{{Field: "order_id", Reason: "is required"}, {Field: "amount", Reason: "bad"}})
	if len(got) != 2 || got[0].Reason != "appears more than once" || got[1].Field != "order_id" {
		t.Errorf("got %v", got)
	}
}

// FuzzDecodeJSON checks the decoder never panics, that what it accepts
// survives a round trip, that an amount is never rewritten (no float64 on
// the way) and never blank, and that its errors have the promised shape.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"idempotency_key":"k","order_id":"o-1","amount":"10.50","description":"Возврат","metadata":{"a":"b"}}`,
		`{"request_id":"828cf71d-a447-4a67-a149-c1df8bc197ca","transaction_id":"txn-1","amount":10.5}`,
		`{"amount":0.1}`, `{"amount":1e3}`, `{"amount":-0}`, `{"amount":null}`, `{"amount":"\u0031"}`, `{"amount":"full"}`,
		`{"amount":" \u00a0"}`, `{"amout":"1"}`, `{"order_id":"a","order_id":"b"}`, `{"metadata":{"a":1}}`, `{"callback_url":null}`,
		`{}`, `[]`, ``, `{`, `{"a":1} x`, `{"\u0000":1}`, "{\"order_id\":\"\xff\"}", ` { "order_id" : "o" } `,
	} {
		f.Add([]byte(seed), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, line bool) {
		m := Single
		if line {
			m = Line
		}
		req, fields, err := DecodeJSON(body, m)
		if err != nil {
			return
		}
		if len(fields) > maxDecodeErrors {
			t.Fatalf("%d field errors", len(fields))
		}
		for _, f := range fields {
			if f.Field == "" || f.Reason == "" || len(f.Field) > maxKeyShown {
				t.Fatalf("bad field error %+v", f)
			}
		}
		if len(fields) > 0 {
			return
		}
		if req.Amount != "" && trim(req.Amount) == "" {
			t.Fatalf("blank amount %q accepted", req.Amount)
		}
		if m == Line && req.Amount == "" && !bytes.Contains(bytes.ToLower(body), []byte("full")) && !bytes.Contains(body, []byte(`\`)) {
			t.Fatalf("a full refund from %q, which does not say full", body)
		}
		if m == Single && req.Amount != "" && !bytes.Contains(body, []byte(req.Amount)) && !bytes.Contains(body, []byte(`\`)) {
			t.Fatalf("amount %q is not text from the body %q", req.Amount, body)
		}
		if m == Line && req.Amount == "" {
			return // "full" does not round-trip through omitempty
		}
		again, fields, err := DecodeJSON(mustJSON(t, req), m)
		if err != nil || fields != nil {
			t.Fatalf("re-decoding %+v: %v %v", req, fields, err)
		}
		if len(req.Metadata) == 0 {
			req.Metadata = nil // omitempty drops an empty object
		}
		if !reflect.DeepEqual(again, req) {
			t.Fatalf("round trip changed the request:\n%+v\n%+v", req, again)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
