package main

import (
	"context"
	"fmt"

	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/refund"
)

func runCancel(ctx context.Context, e *env, args []string) error {
	return runOnRecord(ctx, e, args, "refundq cancel REQUEST_ID", (*operator.Operator).Cancel, func(rec *refund.Record) {
		fmt.Fprintf(e.stdout, "%s canceled; it was never sent to the provider.\n", rec.RequestID)
	})
}
