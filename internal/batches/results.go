package batches

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"sort"

	"github.com/refundq/refundq/internal/intake"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

// resultsHeader is the header row of the results file.
var resultsHeader = []string{"request_id", "order_id", "transaction_id", "amount", "state", "request_status", "provider_code", "reason"}

// WriteResults writes batch id's results file to w: one CSV row per
// refund, ordered by order and transaction so it lines up with the
// imported file. Cells are made safe for a spreadsheet (intake.SafeCell):
// an order id such as =SUM(1) is a valid provider string, and a
// provider's reason is text from outside.
func WriteResults(ctx context.Context, s *store.Redis, id string, w io.Writer) error {
	ids, err := s.ByBatch(ctx, id)
	if err != nil {
		return fmt.Errorf("batches: %w", err)
	}
	var recs []*refund.Record
	for i := 0; i < len(ids); i += chunk {
		got, err := s.GetMany(ctx, ids[i:min(i+chunk, len(ids))])
		if err != nil {
			return fmt.Errorf("batches: %w", err)
		}
		for _, r := range got {
			if r != nil {
				recs = append(recs, r)
			}
		}
	}
	sort.Slice(recs, func(i, j int) bool {
		a, b := recs[i], recs[j]
		if a.OrderID != b.OrderID {
			return a.OrderID < b.OrderID
		}
		if a.TransactionID != b.TransactionID {
			return a.TransactionID < b.TransactionID
		}
		return a.RequestID < b.RequestID
	})
	cw := csv.NewWriter(w)
	_ = cw.Write(resultsHeader)
	for _, r := range recs {
		row := []string{r.RequestID, r.OrderID, r.TransactionID, r.Amount, string(r.State), r.RequestStatus, r.ProviderCode, r.Reason}
		for i := range row {
			row[i] = intake.SafeCell(row[i])
		}
		_ = cw.Write(row)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("batches: results: %w", err)
	}
	return nil
}
