package store

import (
	"context"
	"fmt"
	"time"

	"github.com/refundq/refundq/internal/refund"
)

// Existing is what CreateMany or Peek found stored under a request_id.
type Existing struct {
	// Created is true when this CreateMany call wrote the record.
	Created bool
	// Found is false when Peek found no record.
	Found     bool
	ParamHash string
	State     refund.State
	Queue     string
	BatchID   string
}

// CreateMany is Create for many records in one round trip, for bulk
// imports, where a round trip per record would cap the rate. Each record
// is created exactly as Create would; the result says, per record, whether
// it was new and what is stored (for a repeat, the earlier record's
// parameters and state). A repeat with other parameters is not listed
// under the new row's order or batch, and a repeat of a refund that has
// moved on is not listed as queued again.
//
// On a single Redis (or Sentinel) one script call writes every record of a
// batch with its indexes: Lua work is cheap, command round trips are not.
// Redis Cluster refuses scripts whose keys live in different slots, so
// there each record goes through Create, pipelined by the caller's
// concurrency.
func (s *Redis) CreateMany(ctx context.Context, recs []*refund.Record) ([]Existing, error) {
	if s.cluster {
		return s.createEach(ctx, recs)
	}
	out := make([]Existing, len(recs))
	byBatch := map[string][]int{}
	for i, r := range recs {
		byBatch[r.BatchID] = append(byBatch[r.BatchID], i)
	}
	for batchID, idx := range byBatch {
		if err := s.createBatch(ctx, batchID, recs, idx, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Redis) createEach(ctx context.Context, recs []*refund.Record) ([]Existing, error) {
	out := make([]Existing, len(recs))
	for i, rec := range recs {
		stored, created, err := s.Create(ctx, rec)
		if err != nil {
			return nil, err
		}
		out[i] = Existing{Created: created, Found: true, ParamHash: stored.ParamHash, State: stored.State,
			Queue: stored.Queue, BatchID: stored.BatchID}
	}
	return out, nil
}

// existingFields are what Peek reads of a stored record.
var existingFields = []string{fParamHash, fState, fQueue, fBatchID}

func (s *Redis) createBatch(ctx context.Context, batchID string, recs []*refund.Record, idx []int, out []Existing) error {
	now := time.UnixMilli(s.now().UnixMilli())
	args := make([]any, 6, 6+40*len(idx))
	args[0], args[1], args[2], args[3], args[4], args[5] = now.UnixMilli(), statePrefix, orderPrefix, batchPrefix, metaPrefix, batchID
	for _, i := range idx {
		rec := recs[i]
		rec.CreatedAt, rec.UpdatedAt, rec.Version = now, now, refund.RecordVersion
		fields := encode(rec)
		args = append(args, rec.RequestID, rec.ParamHash, string(rec.State), rec.Merchant, rec.OrderID, len(fields))
		args = append(args, fields...)
	}
	res, err := s.runScript(ctx, createManyScript, []string{recordKey(recs[idx[0]].RequestID)}, args...)
	if err != nil {
		return fmt.Errorf("store: create: %w", err)
	}
	rows, ok := res.([]any)
	if !ok || len(rows) != len(idx) {
		return fmt.Errorf("store: create: %d results for %d records", len(rows), len(idx))
	}
	for j, i := range idx {
		row, _ := rows[j].([]any)
		switch {
		case len(row) == 1:
			r := recs[i]
			out[i] = Existing{Created: true, Found: true, ParamHash: r.ParamHash, State: r.State, Queue: r.Queue, BatchID: r.BatchID}
		case len(row) == 5:
			out[i] = existing(row[1:])
		default:
			return fmt.Errorf("store: create %s: unexpected script reply %v", recs[i].RequestID, rows[j])
		}
	}
	return nil
}
