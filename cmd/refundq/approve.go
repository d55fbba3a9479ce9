package main

import (
	"context"
	"fmt"

	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/refund"
)

func runApprove(ctx context.Context, e *env, args []string) error {
	return runOnRecord(ctx, e, args, "refundq approve REQUEST_ID", (*operator.Operator).ApproveRefund, func(rec *refund.Record) {
		fmt.Fprintf(e.stdout, "%s approved by %s: it is queued and a worker sends it.\n", rec.RequestID, operatorName(e))
	})
}

func runReject(ctx context.Context, e *env, args []string) error {
	return runOnRecord(ctx, e, args, "refundq reject REQUEST_ID", (*operator.Operator).RejectRefund, func(rec *refund.Record) {
		fmt.Fprintf(e.stdout, "%s rejected by %s: canceled, it was never sent.\n", rec.RequestID, operatorName(e))
	})
}
