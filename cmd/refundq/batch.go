package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/refundq/refundq/internal/intake"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

// batchChunk bounds one pipelined read of batch members.
const batchChunk = 1000

func runBatch(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: refundq batch ID [--wait] [--out results.csv]")
	}
	rdb, err := redisClient(e.cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	s := store.New(rdb)
	id := args[0]
	meta, err := s.Batch(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("batch %s not found", id)
	}
	if err != nil {
		return err
	}
	ids, err := s.ByBatch(ctx, id)
	if err != nil {
		return err
	}
	if e.cfg.BatchWait {
		if ids, err = waitBatch(ctx, e, s, id, ids); err != nil {
			return err
		}
		if meta, err = s.Batch(ctx, id); err != nil {
			return err
		}
	}
	counts, err := countStates(ctx, s, ids)
	if err != nil {
		return err
	}
	printBatch(e, meta, counts)
	if e.cfg.BatchOut != "" {
		return writeResults(ctx, s, ids, e.cfg.BatchOut)
	}
	return nil
}

func countStates(ctx context.Context, s *store.Redis, ids []string) (map[refund.State]int, error) {
	counts := map[refund.State]int{}
	for i := 0; i < len(ids); i += batchChunk {
		states, err := s.States(ctx, ids[i:min(i+batchChunk, len(ids))])
		if err != nil {
			return nil, err
		}
		for _, st := range states {
			counts[st]++
		}
	}
	return counts, nil
}

// waitBatch polls until every refund of the batch is settled. It only
// re-reads the refunds not yet settled, and the member list only when its
// size changes (an import still running), so following a 100k batch
// costs Redis little. It returns the final member list.
func waitBatch(ctx context.Context, e *env, s *store.Redis, id string, ids []string) ([]string, error) {
	pr := newProgress(e.stderr, "refunds", progressEvery)
	pr.Start("settled", len(ids))
	defer pr.Finish()
	open := ids
	for {
		var err error
		if open, err = unsettled(ctx, s, open); err != nil {
			return nil, err
		}
		pr.Set(len(ids) - len(open))
		if len(open) == 0 {
			return ids, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(e.cfg.BatchInterval):
		}
		n, err := s.BatchSize(ctx, id)
		if err != nil {
			return nil, err
		}
		if n != len(ids) {
			if ids, err = s.ByBatch(ctx, id); err != nil {
				return nil, err
			}
			open = ids
			pr.Start("settled", len(ids))
		}
	}
}

func unsettled(ctx context.Context, s *store.Redis, ids []string) ([]string, error) {
	var open []string
	for i := 0; i < len(ids); i += batchChunk {
		chunk := ids[i:min(i+batchChunk, len(ids))]
		states, err := s.States(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for j, st := range states {
			// A record gone past retention will never settle.
			if st != "" && !st.Settled() {
				open = append(open, chunk[j])
			}
		}
	}
	return open, nil
}

func printBatch(e *env, m *store.BatchMeta, counts map[refund.State]int) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "batch\t%s\n", m.ID)
	if m.Name != "" {
		fmt.Fprintf(tw, "file\t%s\n", m.Name)
	}
	fmt.Fprintf(tw, "created\t%s\n", m.CreatedAt.UTC().Format(time.RFC3339))
	status := "complete"
	if m.CompletedAt.IsZero() {
		status = "incomplete: the import is running or was interrupted; run it again to complete it"
	}
	fmt.Fprintf(tw, "import\t%s (%d runs; last read %d rows, %d rejected)\n", status, m.Runs, m.Rows, m.Rejected)
	fmt.Fprintf(tw, "refunds\t%d\n", m.Accepted)
	for _, st := range refund.States {
		if n := counts[st]; n > 0 {
			fmt.Fprintf(tw, "  %s\t%d\n", st, n)
		}
	}
	if n := counts[""]; n > 0 {
		fmt.Fprintf(tw, "  expired\t%d\n", n)
	}
	_ = tw.Flush()
}

// writeResults writes one row per refund, ordered by order and
// transaction so it lines up with the imported file. Cells are made safe
// for a spreadsheet (intake.SafeCell): an order id such as =SUM(1) is a
// valid provider string, and a provider's reason is text from outside.
func writeResults(ctx context.Context, s *store.Redis, ids []string, path string) error {
	var recs []*refund.Record
	for i := 0; i < len(ids); i += batchChunk {
		got, err := s.GetMany(ctx, ids[i:min(i+batchChunk, len(ids))])
		if err != nil {
			return err
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
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"request_id", "order_id", "transaction_id", "amount", "state", "request_status", "provider_code", "reason"})
	for _, r := range recs {
		row := []string{r.RequestID, r.OrderID, r.TransactionID, r.Amount, string(r.State), r.RequestStatus, r.ProviderCode, r.Reason}
		for i := range row {
			row[i] = intake.SafeCell(row[i])
		}
		_ = w.Write(row)
	}
	w.Flush()
	if err := errors.Join(w.Error(), f.Close()); err != nil {
		return fmt.Errorf("results file: %w", err)
	}
	return nil
}
