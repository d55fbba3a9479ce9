package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/refundq/refundq/internal/refund"
)

func TestDecodeRefundKeepsAmountText(t *testing.T) {
	for body, want := range map[string]string{
		`{"amount":0.1}`:                     "0.1", // a float64 would be 0.1000000000000000055...
		`{"amount":10.50}`:                   "10.50",
		`{"amount":"10.50"}`:                 "10.50",
		`{"amount":1e3}`:                     "1e3", // kept for Validate to refuse, not turned into 1000
		`{"amount":1E400}`:                   "1E400",
		`{"amount":12345678901234567890.12}`: "12345678901234567890.12",
	} {
		req, err := decodeRefund([]byte(body))
		if err != nil || req.Amount != want {
			t.Errorf("%s: amount %q, err %v; want %q", body, req.Amount, err, want)
		}
	}
}

func TestDecodeRefundReportsEveryMemberProblem(t *testing.T) {
	_, err := decodeRefund([]byte(`{"amout":"1","order_id":5,"order_id":"x","metadata":[],"amount":true,"":1}`))
	var ve *refund.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want a ValidationError", err)
	}
	var got []string
	for _, f := range ve.Fields {
		got = append(got, f.Field)
	}
	want := []string{"amout", "order_id", "order_id", "metadata", "amount", "body"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
}

func TestDecodeRefundBoundsErrors(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("{")
	for i := range 10 * maxDecodeErrors {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"k` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":1`)
	}
	b.WriteString("}")
	_, err := decodeRefund(b.Bytes())
	var ve *refund.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != maxDecodeErrors {
		t.Fatalf("err = %v, want exactly %d field errors", err, maxDecodeErrors)
	}
}

// FuzzDecodeRefund checks the request parser never panics, that what it
// accepts survives a round trip, that an amount is never rewritten (no
// float64 on the way), and that its errors have the promised shape.
func FuzzDecodeRefund(f *testing.F) {
	for _, seed := range []string{
		`{"idempotency_key":"k","order_id":"o-1","amount":"10.50","description":"Возврат","metadata":{"a":"b"}}`,
		`{"request_id":"828cf71d-a447-4a67-a149-c1df8bc197ca","transaction_id":"txn-1","amount":10.5}`,
		`{"amount":0.1}`, `{"amount":1e3}`, `{"amount":-0}`, `{"amount":null}`, `{"amount":"\u0031"}`,
		`{"amout":"1"}`, `{"order_id":"a","order_id":"b"}`, `{"metadata":{"a":1}}`, `{"callback_url":null}`,
		`{}`, `[]`, ``, `{`, `{"a":1} x`, `{"\u0000":1}`, "{\"order_id\":\"\xff\"}", ` { "order_id" : "o" } `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeRefund(body)
		if err != nil {
			checkDecodeError(t, err)
			return
		}
		if req.Amount != "" && !bytes.Contains(body, []byte(req.Amount)) && !bytes.Contains(body, []byte(`\`)) {
			t.Fatalf("amount %q is not text from the body %q", req.Amount, body)
		}
		again, err := decodeRefund(mustJSON(t, req))
		if err != nil {
			t.Fatalf("re-decoding %+v: %v", req, err)
		}
		if len(req.Metadata) == 0 {
			req.Metadata = nil // omitempty drops an empty object
		}
		if !reflect.DeepEqual(again, req) {
			t.Fatalf("round trip changed the request:\n%+v\n%+v", req, again)
		}
	})
}

func checkDecodeError(t *testing.T, err error) {
	var (
		ae *apiError
		ve *refund.ValidationError
	)
	switch {
	case errors.As(err, &ae):
		if ae.Code != codeInvalidJSON || ae.Message == "" {
			t.Fatalf("unexpected apiError %+v", ae)
		}
	case errors.As(err, &ve):
		if len(ve.Fields) == 0 || len(ve.Fields) > maxDecodeErrors {
			t.Fatalf("%d field errors", len(ve.Fields))
		}
		for _, f := range ve.Fields {
			if f.Field == "" || f.Reason == "" || len(f.Field) > maxKeyShown {
				t.Fatalf("bad field error %+v", f)
			}
		}
	default:
		t.Fatalf("unexpected error type %T: %v", err, err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
