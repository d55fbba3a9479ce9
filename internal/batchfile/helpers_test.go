package batchfile_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/refundq/refundq/internal/batchfile"
)

// readAll drains r, failing the test on a fatal error or a reader that does
// not make progress. Outcomes are rendered as "LINE order_id" for rows and
// "LINE !field" for row errors, which keeps table tests readable.
func readAll(t testing.TB, r batchfile.Reader) (rows []batchfile.Row, errs []batchfile.RowError, outcomes []string) {
	t.Helper()
	for range 100000 {
		row, err := r.Next()
		var re *batchfile.RowError
		switch {
		case errors.Is(err, io.EOF):
			return rows, errs, outcomes
		case errors.As(err, &re):
			errs = append(errs, *re)
			outcomes = append(outcomes, fmt.Sprintf("%d !%s", re.Line, re.Field))
		case err != nil:
			t.Fatalf("fatal error: %v", err)
		default:
			rows = append(rows, row)
			outcomes = append(outcomes, fmt.Sprintf("%d %s", row.Line, row.Request.OrderID))
		}
	}
	t.Fatal("reader did not reach io.EOF")
	return nil, nil, nil
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
