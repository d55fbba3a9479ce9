package main

import (
	"context"
	"fmt"
)

func runCancel(ctx context.Context, e *env, args []string) error {
	id, err := oneID(args, "refundq cancel REQUEST_ID")
	if err != nil {
		return err
	}
	op, done, err := openOperator(e)
	if err != nil {
		return err
	}
	defer done()
	rec, err := op.Cancel(ctx, id, operatorName(e))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s canceled; it was never sent to the provider.\n", rec.RequestID)
	return nil
}
