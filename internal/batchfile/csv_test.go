package batchfile_test

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/refundq/refundq/internal/batchfile"
	"github.com/refundq/refundq/internal/refund"
)

func TestCSVQuirks(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // "LINE order_id" or "LINE !field"
	}{
		{"plain", "order_id,amount\nA1,10\nA2,20\n", []string{"2 A1", "3 A2"}},
		{"no trailing newline", "order_id,amount\nA1,10", []string{"2 A1"}},
		{"header only", "order_id,amount\n", nil},
		{"BOM", "\ufefforder_id,amount\nA1,10\n", []string{"2 A1"}},
		{"semicolon", "order_id;amount;description\nA1;10,50;x\n", []string{"2 A1"}},
		{"semicolon with BOM and CRLF", "\ufefforder_id;amount\r\nA1;10\r\nA2;20\r\n", []string{"2 A1", "3 A2"}},
		{"CRLF", "order_id,amount\r\nA1,10\r\nA2,20\r\n", []string{"2 A1", "3 A2"}},
		{"quoted delimiter", "order_id,amount\n\"A,1\",10\nA2,20\n", []string{"2 A,1", "3 A2"}},
		{"quoted semicolon", "order_id;amount\n\"A;1\";10\n", []string{"2 A;1"}},
		{"escaped quote", "order_id,description\nA1,\"say \"\"hi\"\"\"\nA2,x\n", []string{"2 A1", "3 A2"}},
		{
			"quoted newlines keep later line numbers",
			"order_id,description,amount\nA1,\"two\nlines\",1\nA2,\"three\r\nphysical\nlines\",2\nA3,x,3\n",
			[]string{"2 A1", "4 A2", "7 A3"},
		},
		{"quoted newline in first field", "order_id,amount\n\"A\n1\",10\nA2,20\n", []string{"2 A\n1", "4 A2"}},
		{
			"blank lines skipped but counted",
			"order_id,amount\n\nA1,10\n\r\n   \n,\n , \nA2,20\n",
			[]string{"3 A1", "8 A2"},
		},
		{"blank lines before header", "\n\norder_id,amount\nA1,10\n", []string{"4 A1"}},
		{"too few fields", "order_id,amount,description\nA1,10\nA2,20,x\n", []string{"2 !row", "3 A2"}},
		{"too many fields", "order_id,amount\nA1,10,extra\nA2,20\n", []string{"2 !row", "3 A2"}},
		{"bare quote", "order_id,amount\nA\"1,10\nA2,20\n", []string{"2 !row", "3 A2"}},
		{"junk after closing quote", "order_id,amount\n\"A1\"x,10\nA2,20\n", []string{"2 !row", "3 A2"}},
		{"unterminated quote swallows the rest", "order_id,amount\nA1,10\n\"A2,20\nA3,30\n", []string{"2 A1", "3 !row"}},
		{"columns in any order, any case", " Amount ,ORDER_ID\n10,A1\n", []string{"2 A1"}},
		{"transaction_id alone", "transaction_id,amount\nT1,10\n", []string{"2 "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := batchfile.NewCSV(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("NewCSV: %v", err)
			}
			_, _, got := readAll(t, r)
			if !equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestCSVFieldValues(t *testing.T) {
	in := "merchant ; order_id;transaction_id;amount;description;request_id;idempotency_key\r\n" +
		" shop-1 ; A1 ;T1 ; 10.50 ;  keep my spaces  ; 828cf71d-a447-4a67-a149-c1df8bc197ca ; k1 \r\n"
	r, err := batchfile.NewCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	rows, errs, _ := readAll(t, r)
	if len(rows) != 1 || len(errs) != 0 {
		t.Fatalf("rows %v errs %v", rows, errs)
	}
	want := refund.Request{
		Merchant: "shop-1", OrderID: "A1", TransactionID: "T1", Amount: "10.50",
		Description: "  keep my spaces  ", RequestID: "828cf71d-a447-4a67-a149-c1df8bc197ca", IdempotencyKey: "k1",
	}
	if got := rows[0].Request; !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if rows[0].Raw != " shop-1 ; A1 ;T1 ; 10.50 ;  keep my spaces  ; 828cf71d-a447-4a67-a149-c1df8bc197ca ; k1 " {
		t.Errorf("raw %q", rows[0].Raw)
	}
}

func TestCSVQuotedFieldValues(t *testing.T) {
	in := "order_id,description\n\"A,1\",\"line one\r\nline \"\"two\"\"\"\n"
	r, err := batchfile.NewCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, _ := readAll(t, r)
	if len(rows) != 1 {
		t.Fatalf("rows %v", rows)
	}
	// encoding/csv folds a quoted CRLF to LF.
	if got := rows[0].Request.Description; got != "line one\nline \"two\"" {
		t.Errorf("description %q", got)
	}
	if got := rows[0].Raw; got != "\"A,1\",\"line one\r\nline \"\"two\"\"\"" {
		t.Errorf("raw %q", got)
	}
}

func TestCSVRowErrorCarriesRaw(t *testing.T) {
	r, err := batchfile.NewCSV(strings.NewReader("order_id,amount\r\nA1,10,x\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, errs, _ := readAll(t, r)
	if len(errs) != 1 {
		t.Fatalf("errs %v", errs)
	}
	want := batchfile.RowError{Line: 2, Field: "row", Reason: "has 3 fields, the header has 2", Raw: "A1,10,x"}
	if errs[0] != want {
		t.Errorf("got %+v\nwant %+v", errs[0], want)
	}
	if got := errs[0].Error(); got != "line 2: row: has 3 fields, the header has 2" {
		t.Errorf("Error() = %q", got)
	}
}

func TestCSVRawIsTruncatedOnARuneBoundary(t *testing.T) {
	desc := strings.Repeat("Ж", 400) // 800 bytes
	r, err := batchfile.NewCSV(strings.NewReader("order_id,description\nA1," + desc + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, _ := readAll(t, r)
	if len(rows) != 1 || rows[0].Request.Description != desc {
		t.Fatalf("rows %v", rows)
	}
	if raw := rows[0].Raw; len(raw) > 512 || len(raw) < 510 || !utf8.ValidString(raw) {
		t.Errorf("raw is %d bytes, valid UTF-8 %v", len(raw), utf8.ValidString(raw))
	}
}

func TestCSVHeaderErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty file", "", "header row is required"},
		{"BOM only", "\ufeff", "header row is required"},
		{"blank lines only", "\n\r\n\n", "header row is required"},
		{"unknown column", "order_id,amout\n", `unknown column "amout" (known: order_id, transaction_id, amount, description, request_id, idempotency_key, merchant)`},
		{"unknown columns", "order_id; Foo ;bar\n", `unknown columns "Foo", "bar" (known: `},
		{"unknown before missing", "oder_id,amount\n", `unknown column "oder_id"`},
		{"duplicate", "order_id,amount,order_id\n", `duplicate column "order_id"`},
		{"duplicate ignoring case", "order_id,AMOUNT, amount\n", `duplicate column "amount"`},
		{"no payment column", "amount,description\n", "needs an order_id or a transaction_id column"},
		{"empty column name", "order_id,amount,\n", "header column 3 has no name"},
		{"bad quote in header", "order_id,\"amount\n", "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := batchfile.NewCSV(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestCSVReadErrorIsFatalAndSticky(t *testing.T) {
	boom := errors.New("disk on fire")
	in := io.MultiReader(strings.NewReader("order_id,amount\nA1,10\n"), iotest.ErrReader(boom))
	r, err := batchfile.NewCSV(in)
	if err != nil {
		t.Fatal(err)
	}
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

func TestCSVHeaderReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	_, err := batchfile.NewCSV(iotest.ErrReader(boom))
	if !errors.Is(err, boom) {
		t.Errorf("err = %v", err)
	}
}

func TestCSVReadsHeaderOnceFromASlowReader(t *testing.T) {
	in := iotest.OneByteReader(strings.NewReader("order_id;amount\n\"A;1\";10\nA2;20\n"))
	r, err := batchfile.NewCSV(in)
	if err != nil {
		t.Fatal(err)
	}
	_, _, got := readAll(t, r)
	if want := []string{"2 A;1", "3 A2"}; !equal(got, want) {
		t.Errorf("got %q want %q", got, want)
	}
}
