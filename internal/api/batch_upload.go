package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/intake"
	"github.com/refundq/refundq/internal/redisconn"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/producer"
)

// batchFormats maps the accepted Content-Types to file formats.
var batchFormats = map[string]intake.Format{
	"text/csv":             intake.CSV,
	"application/x-ndjson": intake.JSONL,
	"application/jsonl":    intake.JSONL,
}

// batchUploadView is schema BatchUpload in docs/openapi.yaml.
type batchUploadView struct {
	BatchID   string `json:"batch_id"`
	Status    string `json:"status"`
	Rows      int    `json:"rows"`
	ErrorsURL string `json:"errors_url"`
}

type batchParams struct {
	id, name     string
	format       intake.Format
	allOrNothing bool
	hold         bool
}

// finishTimeout bounds recording how a batch run ended, after its own
// context may have ended.
const finishTimeout = 5 * time.Second

// createBatch is POST /v1/batches: a CSV or JSONL file of refunds, the same
// files `refundq import` reads, through the same intake path. The body is
// read and checked (rows counted, the batch id derived from what the rows
// say), and the answer, 202 with the batch id, comes before a row is
// written: enqueueing goes on in the background, and the batch and its
// full row report can then be fetched at GET /v1/batches/{id} and
// /v1/batches/{id}/errors, however long it takes and whatever happens to
// this connection. A body the server cannot hold now (see
// WithBatchMemory) gets 503 with Retry-After.
func (s *Server) createBatch(w http.ResponseWriter, r *http.Request) error {
	p, err := s.batchParams(r)
	if err != nil {
		return err
	}
	if r.ContentLength > s.batchBodyLimit {
		return &http.MaxBytesError{Limit: s.batchBodyLimit}
	}
	hold, err := s.reserveUpload(r.ContentLength)
	if err != nil {
		return err
	}
	defer hold.release() // a no-op once the run has taken it over
	body, err := readBody(w, r, s.batchBodyLimit)
	if err != nil {
		return err
	}
	hold.shrink(uploadCost(int64(len(body))))
	plan, err := intake.Check(r.Context(), intake.Bytes(body), intake.CheckOptions{
		Format: p.format, Name: p.name, BatchID: p.id, SizeHint: int64(len(body))})
	if intake.IsInputError(err) {
		return newError(http.StatusBadRequest, codeInvalidFile, err.Error())
	}
	if err != nil {
		return err
	}
	// The check pass of a large body can outlast the write timeout, which
	// runs from the end of the headers; the reply still gets its own.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.timeouts.Write))
	view := batchUploadView{BatchID: plan.BatchID, Status: store.ReportRunning, Rows: plan.Rows,
		ErrorsURL: batchPath(plan.BatchID) + "/errors"}
	w.Header().Set("Location", batchPath(plan.BatchID))
	h := s.policy.Hold(plan.Size, p.hold, actor(r))
	run := hold.take()
	err = s.runs.start(plan.BatchID, plan.ContentID(), func() error {
		err := s.store.StartReport(r.Context(), plan.BatchID, plan.Rows, plan.ContentID(), staleAfter)
		switch { // the run is on another server
		case errors.Is(err, store.ErrReportRunning):
			return errRunning
		case errors.Is(err, store.ErrReportBusy):
			return errBusy
		}
		return err
	}, func(ctx context.Context) {
		defer run.release()
		s.runBatch(ctx, plan, p.allOrNothing, h)
	})
	switch {
	case errors.Is(err, errRunning):
		run.release()
		writeJSON(w, http.StatusAccepted, view) // the same upload, still being enqueued
		return nil
	case errors.Is(err, errBusy):
		run.release()
		return newError(http.StatusConflict, codeBatchBusy, fmt.Sprintf("batch %s is being enqueued from an upload with other rows; "+
			"nothing of this upload was enqueued: send it again once that run has finished (GET %s)", plan.BatchID, batchPath(plan.BatchID)))
	case errors.Is(err, errClosed):
		run.release()
		return newError(http.StatusServiceUnavailable, codeUnavailable, "the server is shutting down; send the upload to another instance")
	case err != nil:
		run.release()
		s.log.Warn("batch not accepted: redis unavailable", zap.String("batch_id", plan.BatchID), zap.Error(err))
		return newError(http.StatusServiceUnavailable, codeUnavailable,
			"the batch could not be recorded right now; nothing was enqueued; send the same upload again")
	}
	s.log.Info("batch accepted", zap.String("batch_id", plan.BatchID), zap.Int("rows", plan.Rows),
		zap.Int("unreadable", plan.Unreadable), zap.Bool("all_or_nothing", p.allOrNothing), zap.Bool("held", h.All),
		zap.String("by", h.By))
	writeJSON(w, http.StatusAccepted, view)
	return nil
}

func batchPath(id string) string { return "/v1/batches/" + url.PathEscape(id) }

func (s *Server) batchParams(r *http.Request) (batchParams, error) {
	mt, err := mediaType(r)
	if err != nil {
		return batchParams{}, err
	}
	f, ok := batchFormats[mt]
	if !ok {
		return batchParams{}, newError(http.StatusUnsupportedMediaType, codeMediaType,
			"send Content-Type: text/csv or application/x-ndjson")
	}
	q := r.URL.Query()
	p := batchParams{id: q.Get("batch_id"), name: q.Get("name"), format: f}
	var fields []refund.FieldError
	if p.id != "" && !producer.ValidBatchID(p.id) {
		fields = append(fields, refund.FieldError{Field: "batch_id", Reason: "must be " + producer.BatchIDRule})
	}
	p.allOrNothing = boolParam(q, "all_or_nothing", &fields)
	p.hold = boolParam(q, "hold", &fields)
	if len(fields) > 0 {
		return batchParams{}, validationError(fields)
	}
	return p, nil
}

// runBatch enqueues a checked upload and records its report as it goes.
func (s *Server) runBatch(ctx context.Context, plan *intake.Plan, allOrNothing bool, h producer.Hold) {
	id := plan.BatchID
	log := s.log.With(zap.String("batch_id", id))
	sink := newReportSink(ctx, s.store, id, s.maxProblems)
	stop := sink.heartbeat(ctx)
	res, err := plan.Run(ctx, s.producer, intake.RunOptions{AllOrNothing: allOrNothing, OnReject: sink.add, Hold: h})
	stop()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	if ferr := sink.flush(fctx); err == nil {
		err = ferr
	}
	rep := store.BatchReport{State: store.ReportComplete, Rows: res.Rows, Accepted: res.Accepted,
		Duplicates: res.Duplicates, Rejected: res.Rejected}
	counts := []zap.Field{zap.Int("rows", res.Rows), zap.Int("accepted", res.Accepted),
		zap.Int("duplicates", res.Duplicates), zap.Int("rejected", res.Rejected)}
	switch {
	case errors.Is(err, producer.ErrEarlierBatch), errors.Is(err, producer.ErrBatchDecided):
		rep.State, rep.Accepted, rep.Duplicates = store.ReportRefused, 0, 0
		rep.Message = err.Error() + "; nothing was enqueued, and sending the upload again cannot change that"
		log.Warn("batch refused", append(counts, zap.Error(err))...)
	case err != nil:
		rep.State, rep.Message = store.ReportIncomplete, stoppedMessage(ctx, err)
		log.Warn("batch stopped early", append(counts, zap.Error(err))...)
	case !res.Enqueued:
		rep.State, rep.Accepted, rep.Duplicates = store.ReportRefused, 0, 0
		rep.Message = fmt.Sprintf("%d of %d rows are invalid and all_or_nothing is set; nothing was enqueued", res.Rejected, res.Rows)
		log.Info("batch refused: rows are invalid and all_or_nothing is set", counts...)
	default:
		log.Info("batch enqueued", counts...)
	}
	if note := sink.omittedNote(); note != "" {
		rep.Message = strings.TrimPrefix(rep.Message+"; "+note, "; ")
	}
	if err := s.store.FinishReport(fctx, id, rep); err != nil {
		log.Error("batch report not recorded; GET shows the run as incomplete once its heartbeat is old", zap.Error(err))
	}
}

// stoppedMessage says why a run stopped and what to do, in words.
func stoppedMessage(ctx context.Context, err error) string {
	const again = "rows written so far keep their request_ids: send the same upload again to complete the batch"
	switch p := redisconn.Problem(err); {
	case ctx.Err() != nil:
		return "the server stopped before the batch was enqueued; " + again
	case errors.Is(err, producer.ErrNotReplicated):
		return "the Redis replicas did not confirm the batch in time, so a failover could lose it; " + again
	case p != "":
		return "Redis " + p + "; " + again
	}
	return "the batch stopped early (" + err.Error() + "); " + again
}

// reservation is memory held for one upload, from the first byte read to
// the last row enqueued.
type reservation struct {
	s *Server
	n int64
}

// uploadCost is what an upload of n bytes makes the process hold: the
// body, the intake's working memory (a Bloom filter of about a bit per
// byte), and as much again for the garbage that reading and enqueueing
// leave until the collector runs, which by default lets the heap grow to
// twice what is live. Measured: four 60 MB uploads at once raised the
// server's RSS by 461 MB, 1.9 times their bodies.
func uploadCost(n int64) int64 { return 2*n + n/8 }

// reserveUpload takes the memory an upload of length bytes may need (the
// body limit when the length is not declared), or refuses at once.
func (s *Server) reserveUpload(length int64) (*reservation, error) {
	n := uploadCost(s.batchBodyLimit)
	if length >= 0 {
		n = uploadCost(length)
	}
	if !s.inflight.TryAcquire(n) {
		e := newError(http.StatusServiceUnavailable, codeUnavailable,
			"too many batch uploads are in flight; send this one again later")
		e.retryAfter = retryAfterBusy
		return nil, e
	}
	return &reservation{s: s, n: n}, nil
}

// retryAfterBusy is the Retry-After of a busy answer, in seconds: about
// the time a large batch takes to enqueue.
const retryAfterBusy = 10

// shrink gives back what the body turned out not to need.
func (h *reservation) shrink(n int64) {
	if h != nil && n < h.n {
		h.s.inflight.Release(h.n - n)
		h.n = n
	}
}

// take moves the reservation to its new owner; h then holds nothing.
func (h *reservation) take() *reservation {
	out := &reservation{s: h.s, n: h.n}
	h.n = 0
	return out
}

func (h *reservation) release() {
	if h != nil && h.n > 0 {
		h.s.inflight.Release(h.n)
		h.n = 0
	}
}
