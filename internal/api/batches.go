package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/refundq/refundq/internal/batches"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

// batchView is schema Batch in docs/openapi.yaml.
type batchView struct {
	BatchID string `json:"batch_id"`
	Name    string `json:"name,omitempty"`
	// Status is the latest run's: running, complete, incomplete or
	// refused; Message says why when it is not complete.
	Status      string               `json:"status"`
	Message     string               `json:"message,omitempty"`
	CreatedAt   time.Time            `json:"created_at"`
	UpdatedAt   time.Time            `json:"updated_at"`
	CompletedAt *time.Time           `json:"completed_at"`
	Runs        int                  `json:"runs"`
	Rows        int                  `json:"rows"`
	Accepted    int                  `json:"accepted"`
	Duplicates  int                  `json:"duplicates"`
	Rejected    int                  `json:"rejected"`
	Total       int                  `json:"total"`
	Counts      map[refund.State]int `json:"counts"`
	ErrorsURL   string               `json:"errors_url,omitempty"`
	// Settled: the latest run read every row and every refund is terminal
	// or needs_attention, so nothing more will happen on its own.
	Settled bool `json:"settled"`
	// Hold is the batch's maker-checker record; nil for a batch that
	// never held anything.
	Hold *holdView `json:"hold,omitempty"`
}

// holdView is schema BatchHold.
type holdView struct {
	Held       bool       `json:"held"`
	Reason     string     `json:"reason,omitempty"`
	Makers     []string   `json:"makers"`
	ApprovedBy string     `json:"approved_by,omitempty"`
	ApprovedAt *time.Time `json:"approved_at,omitempty"`
	RejectedBy string     `json:"rejected_by,omitempty"`
	RejectedAt *time.Time `json:"rejected_at,omitempty"`
}

func viewHold(m *store.BatchMeta) *holdView {
	if !m.Held && len(m.Makers) == 0 {
		return nil
	}
	v := &holdView{Held: m.Held, Reason: m.HoldReason, Makers: append([]string{}, m.Makers...),
		ApprovedBy: m.ApprovedBy, RejectedBy: m.RejectedBy}
	if !m.ApprovedAt.IsZero() {
		t := m.ApprovedAt.UTC()
		v.ApprovedAt = &t
	}
	if !m.RejectedAt.IsZero() {
		t := m.RejectedAt.UTC()
		v.RejectedAt = &t
	}
	return v
}

// getBatch is GET /v1/batches/{batch_id}: what the batch's latest run did
// (or is doing) and how many of its refunds are in each state now.
func (s *Server) getBatch(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("batch_id")
	meta, rep, err := s.batchState(r.Context(), id)
	if err != nil {
		return err
	}
	counts := make(map[refund.State]int, len(refund.States()))
	for _, st := range refund.States() {
		counts[st] = 0
	}
	total := 0
	if meta != nil {
		if counts, err = batches.States(r.Context(), s.store, meta); err != nil {
			return err
		}
		delete(counts, "") // expired before the batch's index entry
		total = meta.Accepted
	}
	writeJSON(w, http.StatusOK, viewBatch(id, meta, rep, total, counts, time.Now()))
	return nil
}

// batchState reads a batch's metadata (written by the enqueueing pass)
// and its upload report (written from the moment an upload is accepted;
// none for `refundq import`). Either may be missing, not both.
func (s *Server) batchState(ctx context.Context, id string) (*store.BatchMeta, *store.BatchReport, error) {
	meta, err := s.store.Batch(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, nil, err
	}
	rep, rerr := s.store.Report(ctx, id)
	if rerr != nil && !errors.Is(rerr, store.ErrNotFound) {
		return nil, nil, rerr
	}
	if meta == nil && rep == nil {
		return nil, nil, newError(http.StatusNotFound, codeNotFound, "no batch has this id")
	}
	return meta, rep, nil
}

func viewBatch(id string, meta *store.BatchMeta, rep *store.BatchReport, total int, counts map[refund.State]int, now time.Time) batchView {
	v := batchView{BatchID: id, Total: total, Counts: counts, Status: store.ReportIncomplete}
	if meta != nil {
		v.Name, v.CreatedAt, v.UpdatedAt = meta.Name, meta.CreatedAt.UTC(), meta.UpdatedAt.UTC()
		v.Runs, v.Rows, v.Accepted, v.Duplicates, v.Rejected = meta.Runs, meta.Rows, meta.Accepted, meta.Duplicates, meta.Rejected
		v.Hold = viewHold(meta)
		if !meta.CompletedAt.IsZero() {
			done := meta.CompletedAt.UTC()
			v.CompletedAt = &done
			v.Status = store.ReportComplete
		}
	}
	if rep != nil {
		v.Status, v.Message, v.ErrorsURL = rep.State, rep.Message, batchPath(id)+"/errors"
		if meta == nil { // refused, or not yet begun enqueueing
			v.CreatedAt, v.UpdatedAt, v.Rows, v.Rejected = rep.StartedAt.UTC(), rep.UpdatedAt.UTC(), rep.Rows, rep.Rejected
		}
		if rep.State == store.ReportRunning && now.Sub(rep.UpdatedAt) > staleAfter {
			v.Status = store.ReportIncomplete
			v.Message = "the run stopped without finishing (its server stopped); rows written so far keep their " +
				"request_ids: send the same upload again to complete the batch"
		}
	}
	v.Settled = v.Status == store.ReportComplete && v.CompletedAt != nil
	for st, n := range counts {
		if n > 0 && !st.Settled() {
			v.Settled = false
		}
	}
	return v
}

// batchErrorsView is schema BatchErrors.
type batchErrorsView struct {
	BatchID    string     `json:"batch_id"`
	Status     string     `json:"status"`
	Total      int        `json:"total"`
	Offset     int        `json:"offset"`
	Errors     []rowError `json:"errors"`
	NextOffset *int       `json:"next_offset"`
}

// rowError is schema RowError.
type rowError struct {
	Line   int    `json:"line"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// Pages of GET /v1/batches/{id}/errors.
const (
	defaultErrorsPage = 1000
	maxErrorsPage     = 10000
)

// getBatchErrors is GET /v1/batches/{batch_id}/errors?offset=&limit=: the
// row problems of the latest upload run, in line order, a page at a time.
func (s *Server) getBatchErrors(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var fields []refund.FieldError
	offset := intParam(q, "offset", 0, 1<<31-1, &fields)
	limit := intParam(q, "limit", defaultErrorsPage, maxErrorsPage, &fields)
	if len(fields) > 0 {
		return validationError(fields)
	}
	id := r.PathValue("batch_id")
	rep, err := s.store.Report(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return newError(http.StatusNotFound, codeNotFound, "no uploaded batch has this id (batches of refundq import keep their report in their rejects file)")
	}
	if err != nil {
		return err
	}
	rows, err := s.store.ReportRows(r.Context(), id, offset, limit)
	if err != nil {
		return err
	}
	v := batchErrorsView{BatchID: id, Status: viewBatch(id, nil, rep, 0, nil, time.Now()).Status,
		Total: rep.Problems, Offset: offset, Errors: make([]rowError, len(rows))}
	for i, e := range rows {
		v.Errors[i] = rowError{Line: e.Line, Field: e.Field, Reason: e.Reason}
	}
	if next := offset + len(rows); next < rep.Problems {
		v.NextOffset = &next
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}
