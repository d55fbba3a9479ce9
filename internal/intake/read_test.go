package intake

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// A failing read is fatal and sticky in both formats, after the rows
// before it, and is not mistaken for a bad file.
func TestReadErrorIsFatalAndSticky(t *testing.T) {
	boom := errors.New("connection reset")
	for _, tc := range []struct {
		f          Format
		head, rows string
	}{
		{CSV, "order_id,amount\n", "A1,10\n"},
		{JSONL, "", `{"order_id":"A1","amount":1}` + "\n"},
	} {
		good := tc.head + strings.Repeat(tc.rows, 20000) // past what is looked at first
		rd, _, err := newReader(context.Background(), io.MultiReader(strings.NewReader(good), iotest.ErrReader(boom)), tc.f, "")
		if err != nil {
			t.Fatal(err)
		}
		for range 20000 {
			if row, err := rd.Next(); err != nil || row.Request.OrderID != "A1" {
				t.Fatalf("%v: row %v, %v", tc.f, row, err)
			}
		}
		for range 2 {
			if _, err := rd.Next(); !errors.Is(err, boom) {
				t.Fatalf("%v: err = %v, want fatal wrapping %v", tc.f, err, boom)
			}
		}
		if _, _, err := newReader(context.Background(), iotest.ErrReader(boom), tc.f, ""); !errors.Is(err, boom) || IsInputError(err) {
			t.Errorf("%v: a failing first read: %v, want the read error, not an input error", tc.f, err)
		}
	}
}
