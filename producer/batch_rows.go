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
// It runs on one goroutine: which of two repeated rows comes first
// depends on the order of rows, and must come out the same on every run.
type rowChecker struct {
	batchID string
	source  string
	hold    Hold
	// seen maps each request_id that may repeat to the first row that
	// used it.
	seen      map[string]seenRow
	mayRepeat func(string) bool
}

type seenRow struct {
	line      int
	paramHash string
}

func newRowChecker(batchID, source string, mayRepeat func(string) bool, hold Hold) *rowChecker {
	return &rowChecker{batchID: batchID, source: source, seen: map[string]seenRow{}, mayRepeat: mayRepeat, hold: hold}
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
	if r.RequestID == "" && r.IdempotencyKey == "" {
		// Validate demands a key; the batch derives one from the content.
		r.RequestID = uuid.Nil.String()
	}
	if err := refund.Validate(r.request()); err != nil {
		return rowErrors(line, err)
	}
	return nil
}

// check validates r and returns the record to write, or why not, and the
// field its request_id comes from.
func (c *rowChecker) check(line int, r Refund) (*refund.Record, rowOutcome, string, []RowError) {
	if errs := CheckBatchRow(line, r); errs != nil {
		return nil, rowReject, "", errs
	}
	id, from := batchRowID(r)
	r.RequestID = id
	req := r.request().Normalize()
	rec := &refund.Record{Request: req, ParamHash: req.ParamHash(), State: refund.Queued,
		Source: c.source, BatchID: c.batchID, Queue: tasks.QueueBulk}
	c.hold.apply(rec, c.source)
	if c.mayRepeat != nil && !c.mayRepeat(id) {
		return rec, rowWrite, from, nil
	}
	first, ok := c.seen[id]
	switch {
	case !ok:
		c.seen[id] = seenRow{line: line, paramHash: rec.ParamHash}
		return rec, rowWrite, from, nil
	case from == fromContent:
		return nil, rowReject, from, []RowError{{Line: line, Field: "row", Reason: "same content as line " +
			strconv.Itoa(first.line) + ": without request_id or idempotency_key it would be the same refund; " +
			"add an idempotency_key column to refund twice"}}
	case first.paramHash == rec.ParamHash:
		return nil, rowRepeat, from, nil
	}
	return nil, rowReject, from, []RowError{{Line: line, Field: from,
		Reason: fmt.Sprintf("%s is also used by line %d with different parameters", idText(req, from), first.line)}}
}

// idText names what fixed a row's request_id, for messages: the
// idempotency key when it did, so the operator looks at the right column.
func idText(r refund.Request, from string) string {
	if from == fromIdempotencyKey {
		return "idempotency_key " + strconv.Quote(r.IdempotencyKey) + " (request_id " + r.RequestID + ")"
	}
	return "request_id " + r.RequestID
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
