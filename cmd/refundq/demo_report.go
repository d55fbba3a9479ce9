package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/refund"
)

// report prints the final table and the ledger audit, and fails when a
// refund is unsettled or the audit finds a violation.
func report(ctx context.Context, e *env, st *demoStack, ids []string, settled bool) error {
	ledger := st.sim.Ledger()
	byID := map[string]fpsim.LedgerRequest{}
	for _, r := range ledger.Requests {
		byID[r.RequestID] = r
	}
	var problems []string
	fmt.Fprintln(e.stdout, "\nfinal state:")
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "request_id\torder/txn\tamount\tstate\tattempts\tpolls\trequest_status\tprovider executions")
	for _, id := range ids {
		rec, err := st.store.Get(ctx, id)
		if err != nil {
			return err
		}
		exec := byID[id].Executions
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%s\t%d\n", id, orderOrTxn(rec), orFull(rec.Amount), rec.State,
			rec.Attempts, rec.Polls, rec.RequestStatus, exec)
		problems = append(problems, checkRecord(rec, exec)...)
	}
	_ = tw.Flush()
	problems = append(problems, printLedger(e, ledger)...)
	if !settled {
		problems = append(problems, "not every refund settled before the demo's time limit")
	}
	if len(problems) > 0 {
		for _, p := range problems {
			fmt.Fprintln(e.stdout, "VIOLATION:", p)
		}
		return errors.New("demo audit failed")
	}
	fmt.Fprintln(e.stdout, "\naudit clean: every refund terminal, no request_id executed twice, no transaction over-refunded")
	return nil
}

// checkRecord compares one refund with what the provider actually did.
func checkRecord(rec *refund.Record, executions int) []string {
	switch {
	case !rec.State.Terminal():
		return []string{fmt.Sprintf("%s ended in %s", rec.RequestID, rec.State)}
	case rec.State == refund.Succeeded && executions != 1:
		return []string{fmt.Sprintf("%s succeeded with %d executions", rec.RequestID, executions)}
	case rec.State == refund.Failed && rec.RequestStatus != "error" && executions != 0:
		return []string{fmt.Sprintf("%s failed but was executed %d times", rec.RequestID, executions)}
	}
	return nil
}

func printLedger(e *env, l fpsim.Ledger) []string {
	fmt.Fprintln(e.stdout, "\nsimulator ledger:")
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "transaction\tamount\trefunded\tpending")
	for _, t := range l.Transactions {
		if !t.Refunded.IsZero() || !t.Pending.IsZero() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.TransactionID, t.Amount.StringFixed(2), t.Refunded.StringFixed(2), t.Pending.StringFixed(2))
		}
	}
	_ = tw.Flush()
	return l.Audit()
}

func orderOrTxn(rec *refund.Record) string {
	if rec.OrderID != "" {
		return rec.OrderID
	}
	return rec.TransactionID
}
