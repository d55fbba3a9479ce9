package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/producer"
)

// benchRefund is refund i of a phase: a partial refund of its own order,
// keyed by an idempotency key as a checkout backend would send it.
func benchRefund(phase string, i int) producer.Refund {
	return producer.Refund{
		IdempotencyKey: fmt.Sprintf("%s-%d", phase, i),
		OrderID:        fmt.Sprintf("order-%06d", i+1),
		Amount:         "1.00",
	}
}

// enqueueAll enqueues n refunds from `goroutines` callers at once and
// returns their request_ids.
func enqueueAll(ctx context.Context, p *producer.Producer, phase string, n, goroutines int) ([]string, error) {
	ids := make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				rc, err := p.Enqueue(ctx, benchRefund(phase, i))
				if err != nil {
					errs <- fmt.Errorf("enqueue %d: %w", i, err)
					return
				}
				ids[i] = rc.RequestID
			}
		})
	}
	wg.Wait()
	close(errs)
	return ids, <-errs
}

// waitSettled waits until no refund is pending, by the state indexes, while
// checking that the worker is still alive.
func waitSettled(ctx context.Context, o *observer, w runner, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		pipe := o.rdb.Pipeline()
		for _, st := range refund.Pending() {
			pipe.ZCard(ctx, "refundq:state:"+string(st))
		}
		cmds, err := pipe.Exec(ctx)
		if err != nil {
			return fmt.Errorf("progress: %w", err)
		}
		var pending int64
		for _, c := range cmds {
			pending += c.(interface{ Val() int64 }).Val()
		}
		if pending == 0 {
			return nil
		}
		if err := w.exited(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d refunds still pending after %s; worker log %s", pending, timeout, w.logFile())
		}
		time.Sleep(50 * time.Millisecond) // polling Redis for progress
	}
}

// outcome is what the records say about a finished phase.
type outcome struct {
	recs []*refund.Record
}

// readRecords loads every refund of a phase and checks each succeeded with
// the expected number of status polls. A benchmark that does not check
// its results measures nothing.
func readRecords(ctx context.Context, o *observer, ids []string, polls int) (outcome, error) {
	st := store.New(o.rdb)
	var out outcome
	for start := 0; start < len(ids); start += 1000 {
		recs, err := st.GetMany(ctx, ids[start:min(start+1000, len(ids))])
		if err != nil {
			return out, err
		}
		for i, r := range recs {
			if r == nil {
				return out, fmt.Errorf("refund %s has no record", ids[start+i])
			}
			if r.State != refund.Succeeded {
				return out, fmt.Errorf("refund %s ended %s (%s), not succeeded", r.RequestID, r.State, r.Reason)
			}
			if r.Polls != polls {
				return out, fmt.Errorf("refund %s took %d status polls, want %d", r.RequestID, r.Polls, polls)
			}
		}
		out.recs = append(out.recs, recs...)
	}
	return out, nil
}

// steadyRate is the completion rate between the 10th and 90th percentile of
// finish times, which leaves out start-up and the tail.
func steadyRate(finished []time.Time) float64 {
	if len(finished) < 10 {
		return 0
	}
	ts := append([]time.Time(nil), finished...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	lo, hi := len(ts)/10, len(ts)*9/10
	d := ts[hi].Sub(ts[lo]).Seconds()
	if d <= 0 {
		return 0
	}
	return float64(hi-lo) / d
}

func (o outcome) finishTimes() []time.Time {
	out := make([]time.Time, len(o.recs))
	for i, r := range o.recs {
		out[i] = r.UpdatedAt
	}
	return out
}
