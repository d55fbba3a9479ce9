package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/refund"
)

func runStats(ctx context.Context, e *env, _ []string) error {
	return withOperator(e, func(op *operator.Operator) (*operator.Stats, error) { return op.Stats(ctx) },
		func(s *operator.Stats) { printStats(e, s) })
}

func printStats(e *env, s *operator.Stats) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "QUEUE\tPENDING\tACTIVE\tSCHEDULED\tRETRY\tARCHIVED\tCOMPLETED\tLATENCY\tDONE TODAY\tFAILED TODAY")
	for _, q := range s.Queues {
		paused := ""
		if q.Paused {
			paused = " (paused)"
		}
		fmt.Fprintf(tw, "%s%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%d\n", q.Queue, paused, q.Pending, q.Active,
			q.Scheduled, q.Retry, q.Archived, q.Completed, q.Latency.Round(time.Millisecond), q.Processed, q.Failed)
	}
	_ = tw.Flush()
	fmt.Fprintln(e.stdout)
	tw = tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REFUNDS\tCOUNT")
	for _, st := range operator.ListStates() {
		fmt.Fprintf(tw, "%s\t%d\n", st, s.States[st])
	}
	fmt.Fprintf(tw, "failed in the last hour\t%d\n", s.FailedLastHour)
	fmt.Fprintf(tw, "oldest pending\t%s\n", s.OldestPending.Round(time.Second))
	_ = tw.Flush()
	if s.States[refund.NeedsAttention] > 0 {
		fmt.Fprintln(e.stdout, "\nrefunds need attention: refundq list --state needs_attention")
	}
}
