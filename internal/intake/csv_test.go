package intake

import (
	"bufio"
	"context"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

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
		{"escaped quote", "order_id,amount,description\nA1,1,\"say \"\"hi\"\"\"\nA2,1,x\n", []string{"2 A1", "3 A2"}},
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
		{"junk after a quote closed lines later", "order_id,amount\n\"A1\n\nA2,20\n\"x,1\nA3,30\n", []string{"2 !row", "6 A3"}},
		// An unclosed quote rejects its line only: reading resumes on the
		// next line instead of swallowing the rest of the file.
		{"unclosed quote at the end", "order_id,amount\nA1,10\n\"A2,20\nA3,30\nA4,40", []string{"2 A1", "3 !row", "4 A3", "5 A4"}},
		{"columns in any order, any case", " Amount ,ORDER_ID\n10,A1\n", []string{"2 A1"}},
		{"transaction_id alone", "transaction_id,amount\nT1,10\n", []string{"2 "}},
		{"repeated header", "order_id,amount\nA1,10\norder_id,amount\nA2,20\n", []string{"2 A1", "3 !row", "4 A2"}},
		{"repeated header with BOM and case", "order_id,amount\nA1,10\n\ufeffORDER_ID , Amount\nA2,20\n", []string{"2 A1", "3 !row", "4 A2"}},
		{"blank amounts", "order_id,amount\nA1,\nA2,  \nA3,\u00a0\nA4,\u200b\nA5,\"\"\n", []string{"2 !amount", "3 !amount", "4 !amount", "5 !amount", "6 !amount"}},
		{"the word full", "order_id,amount\nA1,full\nA2, FULL \n", []string{"2 A1", "3 A2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := readAll(t, open(t, CSV, tt.in))
			if !equal(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestCSVFieldValuesAreTrimmed(t *testing.T) {
	in := "merchant ; order_id;transaction_id;amount;description;request_id;idempotency_key\r\n" +
		" shop-1 ; A1 ;T1\u00a0; 10.50 ;  keep  my words\u200b  ; 828cf71d-a447-4a67-a149-c1df8bc197ca ; k1 \r\n"
	rows, _ := readAll(t, open(t, CSV, in))
	if len(rows) != 1 || rows[0].Errors() != nil {
		t.Fatalf("rows %+v", rows)
	}
	want := refund.Request{
		Merchant: "shop-1", OrderID: "A1", TransactionID: "T1", Amount: "10.50",
		Description: "keep  my words", RequestID: "828cf71d-a447-4a67-a149-c1df8bc197ca", IdempotencyKey: "k1",
	}
	if got := rows[0].Request; !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if rows[0].Raw != strings.TrimSuffix(strings.SplitN(in, "\r\n", 2)[1], "\r\n") {
		t.Errorf("raw %q", rows[0].Raw)
	}
}

func TestCSVQuotedFieldValues(t *testing.T) {
	in := "order_id,amount,description\n\"A,1\",1,\"line one\r\nline \"\"two\"\"\"\n"
	rows, _ := readAll(t, open(t, CSV, in))
	if len(rows) != 1 {
		t.Fatalf("rows %v", rows)
	}
	// As encoding/csv does, a quoted CRLF reads as LF.
	if got := rows[0].Request.Description; got != "line one\nline \"two\"" {
		t.Errorf("description %q", got)
	}
	if got := rows[0].Raw; got != "\"A,1\",1,\"line one\r\nline \"\"two\"\"\"" {
		t.Errorf("raw %q", got)
	}
}

func TestCSVProblemsCarryRawAndLines(t *testing.T) {
	in := "order_id,amount\r\nA1,10,x\r\n\"A2\r\nstill A2\r\n\"junk,1\r\nA3,,\r\n"
	rows, _ := readAll(t, open(t, CSV, in))
	if len(rows) != 3 {
		t.Fatalf("rows %+v", rows)
	}
	if e := rows[0].Errors()[0]; e.Line != 2 || e.Field != "row" || e.Reason != "has 3 fields, the header has 2" || e.Raw != "A1,10,x" {
		t.Errorf("got %+v", e)
	}
	if e := rows[1].Errors()[0]; e.Line != 3 || !strings.HasPrefix(e.Reason, "lines 3-5: text follows the closing quote") {
		t.Errorf("multi-line problem %+v", e)
	}
	if e := rows[2].Errors()[0]; e.Line != 6 || e.Field != "row" {
		t.Errorf("got %+v", e)
	}
}

func TestCSVRawIsTruncatedOnARuneBoundary(t *testing.T) {
	desc := strings.Repeat("Ж", 400) // 800 bytes
	rows, _ := readAll(t, open(t, CSV, "order_id,amount,description\nA1,1,"+desc+"\n"))
	if len(rows) != 1 || rows[0].Request.Description != desc {
		t.Fatalf("rows %v", rows)
	}
	if raw := rows[0].Raw; len(raw) > 512 || len(raw) < 510 || !utf8.ValidString(raw) {
		t.Errorf("raw is %d bytes, valid UTF-8 %v", len(raw), utf8.ValidString(raw))
	}
}

// A record over 1 MiB is one rejected row, and the rows after it are
// read: an unclosed quote early in a large file costs neither memory nor
// the good rows after it.
func TestCSVRecordLimit(t *testing.T) {
	var b strings.Builder
	b.WriteString("order_id,amount,description\nA1,1,ok\nA2,1,\"never closed\n")
	for i := range 40000 { // 40000 lines of about 30 bytes: over 1 MiB
		b.WriteString("B" + strings.Repeat("x", 20) + strconv.Itoa(i) + ",1,ok\n")
	}
	huge := "H," + strings.Repeat("y", 2<<20) + ",1\n"
	b.WriteString(huge + "A3,1,ok\n")
	rows, out := readAll(t, open(t, CSV, b.String()))
	if len(rows) != 40000+4 {
		t.Fatalf("%d rows: %v ... %v", len(rows), out[:3], out[len(out)-3:])
	}
	if out[0] != "2 A1" || out[1] != "3 !row" || !contains(rows[1].Problem.Reason, "longer than the 1048576 byte limit") {
		t.Errorf("first rows %v, %+v", out[:2], rows[1].Problem)
	}
	if out[2] != "4 Bxxxxxxxxxxxxxxxxxxxx0" || out[len(out)-1] != "40005 A3" || out[len(out)-2] != "40004 !row" {
		t.Errorf("rows after the limit: %v ... %v", out[2], out[len(out)-2:])
	}
	if len(rows[1].Raw) > maxRaw || len(rows[len(rows)-2].Raw) > maxRaw {
		t.Error("raw of an oversized record is not truncated")
	}
}

// Unclosed quotes that each hold a megabyte are read twice at most up to
// the budget, then reading goes on where they stop: a file built for it
// cannot make reading quadratic.
func TestCSVResyncBudget(t *testing.T) {
	var b strings.Builder
	b.WriteString("order_id,amount\n")
	line := "\"" + strings.Repeat("z", 1000) + "\n"
	for range 100 * 1100 { // 110 MB: every line opens a quote, none closes
		b.WriteString(line)
	}
	s := newCSVScanner(bufio.NewReader(strings.NewReader(b.String())), ',')
	if _, err := s.next(); err != nil { // the header
		t.Fatal(err)
	}
	records := 0
	for {
		_, err := s.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		records++
	}
	if s.budget < 0 || records < 64 || records > 110000 {
		t.Errorf("%d records, budget left %d", records, s.budget)
	}
}

func TestCSVHeaderErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty file", "", "the file is empty"},
		{"BOM only", "\ufeff", "the file is empty"},
		{"blank lines only", "\n\r\n\n", "the file is empty"},
		{"unknown column", "order_id,amout\n", `unknown column "amout" in the header (known: order_id, transaction_id, amount, description, request_id, idempotency_key, merchant)`},
		{"unknown columns", "order_id; Foo ;bar\n", `unknown columns "Foo", "bar" in the header`},
		{"unknown before missing", "oder_id,amount\n", `unknown column "oder_id"`},
		{"duplicate", "order_id,amount,order_id\n", `duplicate column "order_id"`},
		{"duplicate ignoring case", "order_id,AMOUNT, amount\n", `duplicate column "amount"`},
		{"no payment column", "amount,description\n", "needs an order_id or a transaction_id column"},
		{"no amount column", "order_id,description\n", "needs an amount column: write each refund's amount, such as 10.50, or full"},
		{"empty column name", "order_id,amount,\n", "header column 3 has no name"},
		{"bad quote in header", "order_id,\"amount\n", "the header row (line 1) cannot be read"},
		{"binary", "order_id\x00,amount\n", "NUL byte at offset 8"},
		{"not UTF-8", "order_\xffid,amount\n", "not UTF-8 text"},
		{"workbook", "PK\x03\x04rest", "Excel workbook"},
		{"UTF-16", "\xff\xfeo\x00r\x00", "UTF-16"},
		{"endless first line", strings.Repeat("order_id", 10000), "first line is longer than 65536 bytes: this is not a CSV file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := newReader(context.Background(), strings.NewReader(tt.in), CSV, "")
			if !IsInputError(err) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want an InputError containing %q", err, tt.want)
			}
		})
	}
}

func TestCSVReadsFromASlowReader(t *testing.T) {
	in := iotest.OneByteReader(strings.NewReader("order_id;amount\n\"A;1\";10\nA2;20\n"))
	rd, _, err := newReader(context.Background(), in, CSV, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, got := readAll(t, rd); !equal(got, []string{"2 A;1", "3 A2"}) {
		t.Errorf("got %q", got)
	}
}
