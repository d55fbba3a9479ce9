package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

func runStatus(ctx context.Context, e *env, args []string) error {
	rdb, err := redisClient(e.cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	s := store.New(rdb)
	rec, err := s.Get(ctx, args[0])
	if err != nil {
		return err
	}
	events, err := s.Events(ctx, args[0])
	if err != nil {
		return err
	}
	printRecord(e, rec, events)
	return nil
}

func printRecord(e *env, rec *refund.Record, events []refund.Event) {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("request_id", rec.RequestID)
	row("state", string(rec.State))
	row("merchant", rec.Merchant)
	row("order_id", rec.OrderID)
	row("transaction_id", rec.TransactionID)
	row("amount", orFull(rec.Amount))
	row("request_status", rec.RequestStatus)
	row("provider_code", rec.ProviderCode)
	row("provider_message", rec.ProviderMessage)
	row("reason", rec.Reason)
	row("reason_code", string(rec.ReasonCode))
	row("held_by", rec.HeldBy)
	row("attempts", fmt.Sprint(rec.Attempts))
	row("polls", fmt.Sprint(rec.Polls))
	row("acknowledged", yes(rec.Acknowledged, "yes: the provider has it; it is never sent again automatically"))
	row("first_sent_at", stamp(rec.FirstSentAt))
	row("last_sent_at", stamp(rec.LastSentAt))
	row("not_found_since", stamp(rec.NotFoundSince))
	if cb := rec.Callback; cb.State != "" {
		row("callback", fmt.Sprintf("%s after %d attempts", cb.State, cb.Attempts))
		row("callback_last_error", cb.LastError)
	}
	row("created_at", rec.CreatedAt.UTC().Format(time.RFC3339Nano))
	row("updated_at", rec.UpdatedAt.UTC().Format(time.RFC3339Nano))
	_ = tw.Flush()
	if rec.State == refund.NeedsAttention {
		fmt.Fprintf(e.stdout, "\nwhat to do: %s\n", adviceFor(rec))
	}
	fmt.Fprintln(e.stdout, "\nevents:")
	for _, ev := range events {
		fmt.Fprintf(e.stdout, "  %s  %-15s %-16s %s\n", ev.At.UTC().Format("15:04:05.000"), ev.Type, ev.To, ev.Detail)
	}
}

// adviceFor is the runbook's advice for a parked refund, with its id.
func adviceFor(rec *refund.Record) string {
	return rec.ReasonCode.AdviceFor(rec.RequestID)
}

func yes(b bool, s string) string {
	if b {
		return s
	}
	return ""
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func orFull(amount string) string {
	if amount == "" {
		return "full"
	}
	return amount
}
