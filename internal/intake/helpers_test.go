package intake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// open returns the Reader for in, failing the test on an error.
func open(t testing.TB, f Format, in string) Reader {
	t.Helper()
	rd, _, err := newReader(context.Background(), strings.NewReader(in), f, "")
	if err != nil {
		t.Fatalf("open %q: %v", in, err)
	}
	return rd
}

// readAll drains r, failing the test on a fatal error or a reader that does
// not make progress. Outcomes are rendered as "LINE order_id" for rows that
// read cleanly and "LINE !field" for the first problem of the others,
// which keeps table tests readable.
func readAll(t testing.TB, r Reader) (rows []Row, outcomes []string) {
	t.Helper()
	for range 100000 {
		row, err := r.Next()
		switch {
		case errors.Is(err, io.EOF):
			return rows, outcomes
		case err != nil:
			t.Fatalf("fatal error: %v", err)
		}
		rows = append(rows, row)
		switch {
		case row.Problem != nil:
			outcomes = append(outcomes, fmt.Sprintf("%d !%s", row.Line, row.Problem.Field))
		case len(row.Fields) > 0:
			outcomes = append(outcomes, fmt.Sprintf("%d !%s", row.Line, row.Fields[0].Field))
		default:
			outcomes = append(outcomes, fmt.Sprintf("%d %s", row.Line, row.Request.OrderID))
		}
	}
	t.Fatal("reader did not reach io.EOF")
	return nil, nil
}

func equal(a, b []string) bool {
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

// problems renders every problem of every row as "LINE field".
func problems(rows []Row) []string {
	var out []string
	for _, r := range rows {
		for _, e := range r.Errors() {
			out = append(out, fmt.Sprintf("%d %s", e.Line, e.Field))
		}
	}
	return out
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
