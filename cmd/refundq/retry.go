package main

import (
	"context"
	"fmt"

	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/refund"
)

func runRetry(ctx context.Context, e *env, args []string) error {
	return runOnRecord(ctx, e, args, "refundq retry REQUEST_ID", (*operator.Operator).Retry, func(r *operator.Retried) {
		printRetried(e, r)
	})
}

func printRetried(e *env, r *operator.Retried) {
	rec, id := r.Record, r.Record.RequestID
	switch rec.State {
	case refund.Processing:
		fmt.Fprintf(e.stdout, "%s is processing again: the provider acknowledged this request_id, so a worker polls it; it is never sent again.\n", id)
	case refund.Queued:
		if r.Before == refund.Queued {
			fmt.Fprintf(e.stdout, "%s is queued and its submit task would never have run (%s); a worker submits it now.\n", id, r.Task)
		} else {
			fmt.Fprintf(e.stdout, "%s never reached the provider; it is queued again and a worker submits it with the same request_id.\n", id)
		}
	default:
		fmt.Fprintf(e.stdout, "%s is %s again and its poll chain is queued.\n"+
			"A worker asks the provider about this same request_id first, and sends it again (same request_id) only once\n"+
			"request status has answered not found for the whole settle window since the last send.\n", id, rec.State)
	}
	fmt.Fprintf(e.stdout, "Follow it with: refundq status %s\n", id)
}
