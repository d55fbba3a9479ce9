package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/refundq/refundq/internal/refund"
)

func runList(ctx context.Context, e *env, _ []string) error {
	if e.cfg.ListLimit < 1 {
		return fmt.Errorf("--limit must be at least 1")
	}
	op, done, err := openOperator(e)
	if err != nil {
		return err
	}
	defer done()
	recs, err := op.List(ctx, refund.State(e.cfg.ListState), int64(e.cfg.ListLimit))
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REQUEST_ID\tMERCHANT\tORDER\tAMOUNT\tSTATE\tREASON\tUPDATED")
	for _, r := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.RequestID, orDash(r.Merchant), orDash(r.OrderID),
			orFull(r.Amount), r.State, orDash(reason(r)), r.UpdatedAt.UTC().Format(time.RFC3339))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(recs) == e.cfg.ListLimit {
		fmt.Fprintf(e.stderr, "showing the first %d; raise --limit for more\n", len(recs))
	}
	return nil
}

// reason is why a refund is where it is, with the provider's own words for
// a rejection.
func reason(r *refund.Record) string {
	parts := []string{}
	if r.Reason != "" {
		parts = append(parts, r.Reason)
	}
	if r.ProviderCode != "" || r.ProviderMessage != "" {
		parts = append(parts, strings.TrimSpace("provider "+r.ProviderCode+" "+r.ProviderMessage))
	}
	return strings.Join(parts, ": ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
