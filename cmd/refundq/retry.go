package main

import (
	"context"
	"fmt"
)

func runRetry(ctx context.Context, e *env, args []string) error {
	id, err := oneID(args, "refundq retry REQUEST_ID")
	if err != nil {
		return err
	}
	op, done, err := openOperator(e)
	if err != nil {
		return err
	}
	defer done()
	rec, err := op.Retry(ctx, id, operatorName(e))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s is %s again and its poll chain is queued.\n"+
		"A worker asks the provider about this same request_id first, and submits it (same request_id) only if the provider never received it.\n"+
		"Follow it with: refundq status %s\n", rec.RequestID, rec.State, rec.RequestID)
	return nil
}
