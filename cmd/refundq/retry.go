package main

import (
	"context"
	"fmt"

	"github.com/refundq/refundq/internal/ops"
	"github.com/refundq/refundq/internal/refund"
)

func runRetry(ctx context.Context, e *env, args []string) error {
	return runOnRecord(ctx, e, args, "refundq retry REQUEST_ID", (*ops.Operator).Retry, func(rec *refund.Record) {
		fmt.Fprintf(e.stdout, "%s is %s again and its poll chain is queued.\n"+
			"A worker asks the provider about this same request_id first, and submits it (same request_id) only if the provider never received it.\n"+
			"Follow it with: refundq status %s\n", rec.RequestID, rec.State, rec.RequestID)
	})
}
