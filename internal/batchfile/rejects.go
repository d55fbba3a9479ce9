package batchfile

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
)

// WriteRejects writes errs as CSV with a line,field,reason,raw header: one
// row per problem, so a merchant can fix a file by walking it top to bottom
// and a spreadsheet can sort or filter it.
func WriteRejects(w io.Writer, errs []RowError) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"line", "field", "reason", "raw"}); err != nil {
		return fmt.Errorf("batchfile: write rejects: %w", err)
	}
	for _, e := range errs {
		if err := cw.Write([]string{strconv.Itoa(e.Line), e.Field, e.Reason, e.Raw}); err != nil {
			return fmt.Errorf("batchfile: write rejects: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("batchfile: write rejects: %w", err)
	}
	return nil
}
