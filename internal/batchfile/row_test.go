package batchfile_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/batchfile"
)

// collect runs the loop every caller runs: read, keep going past bad rows,
// validate the good ones, and gather every problem.
func collect(t *testing.T, r batchfile.Reader) (valid []int, rejects []batchfile.RowError) {
	t.Helper()
	rows, errs, _ := readAll(t, r)
	rejects = errs
	for _, row := range rows {
		if bad := batchfile.Validate(row); bad != nil {
			rejects = append(rejects, bad...)
			continue
		}
		valid = append(valid, row.Line)
	}
	return valid, rejects
}

func lineFields(errs []batchfile.RowError) map[int][]string {
	m := make(map[int][]string)
	for _, e := range errs {
		m[e.Line] = append(m[e.Line], e.Field)
	}
	return m
}

func TestSeveralBadRowsAreAllReported(t *testing.T) {
	csvFile := strings.Join([]string{
		"order_id,amount,merchant,idempotency_key,description",
		"A1,10.50,shop,k1,ok",
		"A 2,-3,Shop,k2,x",
		"A3,10",
		`"A4","1.234",shop,k4,"multi`,
		`line"`,
		"A6,5,shop,,desc",
		"A7,,shop,k7,full refund",
		`A8,1,shop,k8,bad "quote"`,
		"A9,1e3,shop,k9,",
	}, "\r\n") + "\r\n"
	jsonlFile := strings.Join([]string{
		`{"order_id":"A1","amount":10.50,"merchant":"shop","idempotency_key":"k1","description":"ok"}`,
		`{"order_id":"A 2","amount":-3,"merchant":"Shop","idempotency_key":"k2","description":"x"}`,
		`{"order_id":"A3","amount":10`,
		``,
		`{"order_id":"A4","amount":"1.234","merchant":"shop","idempotency_key":"k4"}`,
		`{"order_id":"A6","amount":5,"merchant":"shop"}`,
		`{"order_id":"A7","merchant":"shop","idempotency_key":"k7"}`,
		`{"order_id":"A8","amount":1,"merchant":"shop","idempotency_key":"k8","callback":"x"}`,
		`{"order_id":"A9","amount":1e3,"merchant":"shop","idempotency_key":"k9"}`,
	}, "\n")
	want := map[int][]string{
		3:  {"order_id", "merchant", "amount"},
		4:  {"row"},
		5:  {"amount", "description"}, // a newline is not printable
		7:  {"request_id"},
		9:  {"row"},
		10: {"amount"},
	}
	wantJSONL := map[int][]string{
		2: {"order_id", "merchant", "amount"},
		3: {"json"},
		5: {"amount"},
		6: {"request_id"},
		8: {"callback"},
		9: {"amount"},
	}

	r, err := batchfile.NewCSV(strings.NewReader(csvFile))
	if err != nil {
		t.Fatal(err)
	}
	valid, rejects := collect(t, r)
	if got := lineFields(rejects); !equalMaps(got, want) {
		t.Errorf("csv rejects %v\nwant %v", got, want)
	}
	if !equalInts(valid, []int{2, 8}) {
		t.Errorf("csv valid lines %v", valid)
	}

	valid, rejects = collect(t, batchfile.NewJSONL(strings.NewReader(jsonlFile)))
	if got := lineFields(rejects); !equalMaps(got, wantJSONL) {
		t.Errorf("jsonl rejects %v\nwant %v", got, wantJSONL)
	}
	if !equalInts(valid, []int{1, 7}) {
		t.Errorf("jsonl valid lines %v", valid)
	}
}

func TestValidate(t *testing.T) {
	if errs := batchfile.Validate(batchfile.Row{Line: 2}); len(errs) != 2 {
		t.Fatalf("empty request: %v", errs)
	}
	row := batchfile.Row{Line: 7, Raw: "raw text"}
	row.Request.OrderID, row.Request.IdempotencyKey, row.Request.Amount = "A1", "k", "0"
	errs := batchfile.Validate(row)
	if len(errs) != 1 {
		t.Fatalf("errs %v", errs)
	}
	if e := errs[0]; e.Line != 7 || e.Field != "amount" || e.Reason != "must be greater than 0" || e.Raw != "raw text" {
		t.Errorf("got %+v", e)
	}
	row.Request.Amount = "0.01"
	if errs := batchfile.Validate(row); errs != nil {
		t.Errorf("valid row: %v", errs)
	}
}

func TestRowErrorIsAnError(t *testing.T) {
	var err error = &batchfile.RowError{Line: 12, Field: "amount", Reason: "must be greater than 0"}
	if err.Error() != "line 12: amount: must be greater than 0" {
		t.Errorf("Error() = %q", err)
	}
	var re *batchfile.RowError
	if !errors.As(err, &re) || re.Line != 12 {
		t.Errorf("errors.As failed")
	}
}

func TestWriteRejects(t *testing.T) {
	var buf bytes.Buffer
	err := batchfile.WriteRejects(&buf, []batchfile.RowError{
		{Line: 3, Field: "amount", Reason: "must be greater than 0", Raw: "A1,0"},
		{Line: 5, Field: "row", Reason: "has 3 fields, the header has 2", Raw: "\"A,2\",1\nx"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "line,field,reason,raw\n" +
		"3,amount,must be greater than 0,\"A1,0\"\n" +
		"5,row,\"has 3 fields, the header has 2\",\"\"\"A,2\"\",1\nx\"\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestWriteRejectsEmptyStillHasHeader(t *testing.T) {
	var buf bytes.Buffer
	if err := batchfile.WriteRejects(&buf, nil); err != nil || buf.String() != "line,field,reason,raw\n" {
		t.Errorf("got %q, %v", buf.String(), err)
	}
}

func TestWriteRejectsReportsWriteErrors(t *testing.T) {
	err := batchfile.WriteRejects(failingWriter{}, []batchfile.RowError{{Line: 1, Field: "json", Reason: "x"}})
	if !errors.Is(err, errFull) {
		t.Errorf("err = %v", err)
	}
}

var errFull = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errFull }

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalMaps(a, b map[int][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !equal(v, b[k]) {
			return false
		}
	}
	return true
}
