package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/refund"
)

func runReconcile(ctx context.Context, e *env, args []string) error {
	id, err := oneID(args, "refundq reconcile REQUEST_ID")
	if err != nil {
		return err
	}
	ps, err := operatorProviders(e)
	if err != nil {
		return err
	}
	reconcile := func(op *operator.Operator) (*operator.Reconciliation, error) {
		return op.Reconcile(ctx, id, operatorName(e))
	}
	report := func(r *operator.Reconciliation) { printReconciliation(e, r) }
	return withOperator(e, reconcile, report, operator.WithProviders(ps), operator.WithSettleWindow(e.cfg.SettleWindow))
}

// printReconciliation shows the provider's answer and what it means. It
// never claims that no money moved: "not found" may be a lagging status
// endpoint, and a refund the provider acknowledged is never resent.
func printReconciliation(e *env, r *operator.Reconciliation) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "provider answer:")
	if a := r.Answer; a != nil {
		for _, kv := range [][2]string{{"status", a.Status}, {"request_status", a.RequestStatus},
			{"transaction_id", a.TransactionID}, {"fin_document_id", a.FinDocumentID}, {"dt", a.DT}} {
			if kv[1] != "" {
				fmt.Fprintf(tw, "  %s\t%s\n", kv[0], kv[1])
			}
		}
	} else if r.Err != nil {
		fmt.Fprintf(tw, "  meaning\t%s\n", freedompay.KindOf(r.Err))
		fmt.Fprintf(tw, "  error\t%v\n", r.Err)
	}
	_ = tw.Flush()
	switch {
	case r.Applied && r.Record.State != r.Before:
		fmt.Fprintf(e.stdout, "%s → %s: %s.\n", r.Before, r.Record.State, r.Verdict)
	default:
		fmt.Fprintf(e.stdout, "The refund stays %s: %s.\n", r.Record.State, r.Verdict)
	}
	if r.Record.State == refund.NeedsAttention {
		fmt.Fprintf(e.stdout, "What to do: %s\n", adviceFor(r.Record))
	}
}
