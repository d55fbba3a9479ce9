package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

// stateChunk bounds one pipelined state read, so a 100k-refund batch is
// read in a few round trips without one giant reply buffered in Redis.
const stateChunk = 5000

// batchView is schema Batch in docs/openapi.yaml.
type batchView struct {
	BatchID     string                 `json:"batch_id"`
	Name        string                 `json:"name,omitempty"`
	CreatedAt   time.Time              `json:"created_at"`
	UpdatedAt   time.Time              `json:"updated_at"`
	CompletedAt *time.Time             `json:"completed_at"`
	Runs        int                    `json:"runs"`
	Rows        int                    `json:"rows"`
	Accepted    int                    `json:"accepted"`
	Duplicates  int                    `json:"duplicates"`
	Rejected    int                    `json:"rejected"`
	Total       int                    `json:"total"`
	Counts      map[refund.State]int64 `json:"counts"`
	// Settled: the latest run read every row and every refund is terminal
	// or needs_attention, so nothing more will happen on its own.
	Settled bool `json:"settled"`
}

// getBatch is GET /v1/batches/{batch_id}: what the batch's runs did and how
// many of its refunds are in each state now.
func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("batch_id")
	meta, err := s.store.Batch(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return newError(http.StatusNotFound, codeNotFound, "no batch has this id")
	}
	if err != nil {
		return err
	}
	ids, err := s.store.ByBatch(r.Context(), id)
	if err != nil {
		return err
	}
	counts, err := s.countStates(r.Context(), ids)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewBatch(meta, len(ids), counts))
	return nil
}

// countStates counts the refunds of ids by state. Every state is present,
// zero or not, so clients need no default.
func (s *Server) countStates(ctx context.Context, ids []string) (map[refund.State]int64, error) {
	counts := make(map[refund.State]int64, len(refund.States))
	for _, st := range refund.States {
		counts[st] = 0
	}
	for len(ids) > 0 {
		n := min(len(ids), stateChunk)
		states, err := s.store.States(ctx, ids[:n])
		if err != nil {
			return nil, err
		}
		for _, st := range states {
			if st != "" { // expired before its batch index
				counts[st]++
			}
		}
		ids = ids[n:]
	}
	return counts, nil
}

func viewBatch(meta *store.BatchMeta, total int, counts map[refund.State]int64) batchView {
	v := batchView{
		BatchID: meta.ID, Name: meta.Name, CreatedAt: meta.CreatedAt.UTC(), UpdatedAt: meta.UpdatedAt.UTC(),
		Runs: meta.Runs, Rows: meta.Rows, Accepted: meta.Accepted, Duplicates: meta.Duplicates, Rejected: meta.Rejected,
		Total: total, Counts: counts,
	}
	if !meta.CompletedAt.IsZero() {
		done := meta.CompletedAt.UTC()
		v.CompletedAt = &done
	}
	v.Settled = v.CompletedAt != nil
	for st, n := range counts {
		if n > 0 && !st.Settled() {
			v.Settled = false
		}
	}
	return v
}
