package producer

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/tasks"
)

// rowChecker validates rows in batch order and fixes their request_ids.
// It runs on one goroutine: derived ids and in-batch repeats depend on
// the order of rows, and must come out the same on every run.
type rowChecker struct {
	batchID string
	source  string
	// seen maps each request_id to the first row that used it.
	seen map[string]seenRow
	// nth counts earlier rows with the same derivation key.
	nth map[string]int
}

type seenRow struct {
	line      int
	paramHash string
}

func newRowChecker(batchID, source string) *rowChecker {
	return &rowChecker{batchID: batchID, source: source, seen: map[string]seenRow{}, nth: map[string]int{}}
}

// rowOutcome is what checking one row decided before anything is written.
type rowOutcome int

const (
	rowWrite rowOutcome = iota
	rowRepeat
	rowReject
)

// CheckBatchRow returns the problems EnqueueBatch would reject r for
// without looking at Redis: Enqueue's validation, except that a batch row
// may have neither request_id nor idempotency_key. It returns nil for a
// valid row.
func CheckBatchRow(line int, r Refund) []RowError {
	if err := refund.Validate(withPlaceholderID(r)); err != nil {
		return rowErrors(line, err)
	}
	return nil
}

// withPlaceholderID gives a keyless row a stand-in request_id: Validate
// demands a key, which the batch derives later from the normalized
// fields (so "10" and "10.00" give the same id).
func withPlaceholderID(r Refund) Refund {
	if r.RequestID == "" && r.IdempotencyKey == "" {
		r.RequestID = uuid.Nil.String()
	}
	return r
}

// check validates r and returns the record to write, or why not.
func (c *rowChecker) check(line int, r Refund) (*refund.Record, rowOutcome, []RowError) {
	keyless := r.RequestID == "" && r.IdempotencyKey == ""
	if errs := CheckBatchRow(line, r); errs != nil {
		return nil, rowReject, errs
	}
	r = withPlaceholderID(r).Normalize()
	rec := &refund.Record{Request: r, ParamHash: r.ParamHash(), State: refund.Queued,
		Source: c.source, BatchID: c.batchID, Queue: tasks.QueueBulk}
	if keyless {
		// Derived ids are unique within the batch by construction. A
		// given request_id equal to one (copied from a results file) is
		// still caught, by the store, as a repeat or a conflict.
		rec.RequestID = c.derive(r)
		return rec, rowWrite, nil
	}
	first, ok := c.seen[r.RequestID]
	switch {
	case !ok:
		c.seen[r.RequestID] = seenRow{line: line, paramHash: rec.ParamHash}
		return rec, rowWrite, nil
	case first.paramHash == rec.ParamHash:
		return nil, rowRepeat, nil
	}
	return nil, rowReject, []RowError{{Line: line, Field: "request_id",
		Reason: fmt.Sprintf("request_id %s is also used by line %d with different parameters", r.RequestID, first.line)}}
}

// derive gives a row without request_id or idempotency_key an id that is
// the same on every run of the batch. The count of earlier identical rows
// keeps two equal refunds in one batch apart, while removing or fixing
// other rows before a re-run does not shift the ids of the rest.
func (c *rowChecker) derive(r Refund) string {
	// NUL separators cannot occur in valid fields, so no two rows share a
	// key by accident, and no idempotency key (printable only) collides.
	key := "batch\x00" + c.batchID + "\x00" + r.OrderID + "\x00" + r.TransactionID + "\x00" + r.Amount
	n := c.nth[key]
	c.nth[key] = n + 1
	return refund.DeriveRequestID(r.Merchant, key+"\x00"+strconv.Itoa(n))
}

func rowErrors(line int, err error) []RowError {
	var v *refund.ValidationError
	if !errors.As(err, &v) || len(v.Fields) == 0 {
		return []RowError{{Line: line, Field: "request", Reason: err.Error()}}
	}
	out := make([]RowError, len(v.Fields))
	for i, f := range v.Fields {
		out[i] = RowError{Line: line, Field: f.Field, Reason: f.Reason}
	}
	return out
}
