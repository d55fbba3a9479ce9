package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/refundq/refundq/internal/ops"
	"github.com/refundq/refundq/internal/refund"
)

func runReconcile(ctx context.Context, e *env, args []string) error {
	id, err := oneID(args, "refundq reconcile REQUEST_ID")
	if err != nil {
		return err
	}
	ps, err := providers(e)
	if err != nil {
		return err
	}
	op, done, err := openOperator(e, ops.WithProviders(ps))
	if err != nil {
		return err
	}
	defer done()
	r, err := op.Reconcile(ctx, id, operatorName(e))
	if err != nil {
		return err
	}
	printReconciliation(e, id, r)
	return nil
}

func printReconciliation(e *env, id string, r *ops.Reconciliation) {
	if r.NotFound {
		fmt.Fprintf(e.stdout, "The provider has never received request_id %s: no money moved.\n", id)
		fmt.Fprintf(e.stdout, "The refund stays %s.", r.Before)
		if r.Before == refund.NeedsAttention || r.Before == refund.Unknown {
			fmt.Fprintf(e.stdout, " To send it with this same request_id: refundq retry %s", id)
		}
		fmt.Fprintln(e.stdout)
		return
	}
	a := r.Answer
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "provider answer:")
	for _, kv := range [][2]string{{"status", a.Status}, {"request_status", a.RequestStatus},
		{"transaction_id", a.TransactionID}, {"fin_document_id", a.FinDocumentID}, {"dt", a.DT},
		{"error_code", a.ErrorCode}, {"message", a.Message}} {
		if kv[1] != "" {
			fmt.Fprintf(tw, "  %s\t%s\n", kv[0], kv[1])
		}
	}
	_ = tw.Flush()
	switch {
	case !r.Applied:
		fmt.Fprintf(e.stdout, "The refund is %s; the answer does not change it.\n", r.Before)
	case r.Record.State == refund.Processing:
		fmt.Fprintf(e.stdout, "%s → processing: the provider still has it in progress; polling resumed and the deadline restarted.\n", r.Before)
	default:
		fmt.Fprintf(e.stdout, "%s → %s.\n", r.Before, r.Record.State)
	}
}
