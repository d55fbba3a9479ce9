package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Batch metadata fields of maker-checker (see HoldBatch, DecideBatch).
const (
	bHold       = "hold"
	bHoldReason = "hold_reason"
	bMakers     = "makers"
	bApprovedBy = "approved_by"
	bApprovedAt = "approved_at"
	bRejectedBy = "rejected_by"
	bRejectedAt = "rejected_at"
)

// HoldBatch records, before any row of a run is written, that the run
// holds rows of batch id for approval: all of them when whole is set (a
// held batch), else only those over the single-refund threshold. maker
// joins the names that may not approve the batch.
func (s *Redis) HoldBatch(ctx context.Context, id, maker string, whole bool, reason string) error {
	w := "0"
	if whole {
		w = "1"
	}
	if _, err := s.runScript(ctx, holdBatchScript, []string{batchMetaKey(id)}, maker, w, reason); err != nil {
		return fmt.Errorf("store: hold batch %s: %w", id, err)
	}
	return nil
}

// Decision is an approver's verdict on held refunds.
type Decision string

const (
	Approved Decision = "approved"
	Rejected Decision = "rejected"
)

// Why DecideBatch refused.
var (
	// ErrNothingHeld: the batch was not held and holds no refund.
	ErrNothingHeld = errors.New("store: the batch holds nothing for approval")
)

// MakerError refuses a decision by a name that made the batch.
type MakerError struct{ Maker string }

func (e *MakerError) Error() string {
	return fmt.Sprintf("%s imported or created held refunds of this batch; another approver must decide it", e.Maker)
}

// DecidedError refuses a decision opposite to the one that stands.
type DecidedError struct {
	Decision Decision
	By       string
	At       time.Time
}

func (e *DecidedError) Error() string {
	return fmt.Sprintf("the batch was already %s by %s at %s", e.Decision, e.By, e.At.UTC().Format(time.RFC3339))
}

// DecideBatch records by's decision on batch id, or refuses it: ErrNotFound,
// ErrNothingHeld, a *MakerError or a *DecidedError. again is true when the
// same decision already stood (by whoever made it): the caller is then
// resuming it.
func (s *Redis) DecideBatch(ctx context.Context, id string, d Decision, by string) (again bool, err error) {
	res, err := s.runScript(ctx, decideBatchScript, []string{batchMetaKey(id)}, string(d), by, ms(s.now()))
	if err != nil {
		return false, fmt.Errorf("store: decide batch %s: %w", id, err)
	}
	flat, ok := res.([]any)
	if !ok || len(flat) == 0 {
		return false, fmt.Errorf("store: decide batch %s: unexpected reply %v", id, res)
	}
	str := func(i int) string {
		if i >= len(flat) {
			return ""
		}
		v, _ := flat[i].(string)
		return v
	}
	switch flat[0] {
	case int64(1):
		return false, nil
	case int64(-2):
		return false, ErrNothingHeld
	case int64(-1):
		return false, ErrNotFound
	case int64(-3):
		return false, &MakerError{Maker: str(1)}
	case int64(-4):
		return false, &DecidedError{Decision: Decision(str(1)), By: str(2), At: parseMS(str(3))}
	case int64(2):
		return true, nil
	}
	return false, fmt.Errorf("store: decide batch %s: unexpected reply %v", id, flat)
}

// holdFields reads the maker-checker fields of batch metadata.
func holdFields(m *BatchMeta, f *fieldReader) {
	h := f.h
	m.Held = h[bHold] == "1"
	m.HoldReason = h[bHoldReason]
	if h[bMakers] != "" {
		m.Makers = strings.Split(h[bMakers], ",")
	}
	m.ApprovedBy, m.ApprovedAt = h[bApprovedBy], f.time(bApprovedAt)
	m.RejectedBy, m.RejectedAt = h[bRejectedBy], f.time(bRejectedAt)
}
