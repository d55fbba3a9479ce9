package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"iter"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/batchfile"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/producer"
)

// maxRowErrors bounds the row errors in one reply. A 100k-row file of bad
// rows would otherwise answer with megabytes of JSON; the counts stay exact.
const maxRowErrors = 1000

// batchIDPattern mirrors producer.EnqueueBatch's rule, checked here so a
// bad id is the client's 400 rather than an opaque 500 (EnqueueBatch's
// error for it is not typed).
var batchIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// batchFormats maps the accepted Content-Types to file formats.
var batchFormats = map[string]batchfile.Format{
	"text/csv":             batchfile.CSV,
	"application/x-ndjson": batchfile.JSONL,
	"application/jsonl":    batchfile.JSONL,
}

// rowError is schema RowError in docs/openapi.yaml.
type rowError struct {
	Line   int    `json:"line"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// batchReportView is schema BatchReport.
type batchReportView struct {
	BatchID         string     `json:"batch_id"`
	Accepted        int        `json:"accepted"`
	Duplicates      int        `json:"duplicates"`
	Rejected        int        `json:"rejected"`
	Errors          []rowError `json:"errors"`
	ErrorsTruncated bool       `json:"errors_truncated"`
}

type batchParams struct {
	id, name     string
	format       batchfile.Format
	allOrNothing bool
}

// createBatch is POST /v1/batches: a CSV or JSONL file of refunds, the same
// files `refundq import` reads. Valid rows are queued on the bulk queue and
// every bad row is reported by line; with all_or_nothing=true one bad row
// stops the whole file and nothing is written.
//
// The batch id defaults to a digest of the body, so re-sending the same
// file after a timeout or a dropped connection completes the batch
// instead of starting another.
func (s *Server) createBatch(w http.ResponseWriter, r *http.Request) error {
	p, err := s.batchParams(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, s.batchBodyLimit)
	if err != nil {
		return err
	}
	if p.id == "" {
		sum := sha256.Sum256(body)
		p.id = "api-" + hex.EncodeToString(sum[:16])
	}
	log := s.log.With(zap.String("batch_id", p.id))
	if p.allOrNothing {
		rep, err := s.enqueueBatch(r, p, body, producer.DryRun())
		if err != nil {
			return err
		}
		if rep.Rejected > 0 {
			log.Info("batch refused: rows are invalid and all_or_nothing is set", zap.Int("rejected", rep.Rejected))
			return rowsRejected(rep)
		}
	}
	rep, err := s.enqueueBatch(r, p, body)
	if err != nil {
		return err
	}
	log.Info("batch enqueued", zap.Int("accepted", rep.Accepted), zap.Int("duplicates", rep.Duplicates),
		zap.Int("rejected", rep.Rejected))
	w.Header().Set("Location", "/v1/batches/"+url.PathEscape(p.id))
	status := http.StatusOK // nothing new: a repeat of a finished upload
	if rep.Accepted > 0 {
		status = http.StatusAccepted
	}
	writeJSON(w, status, viewBatchReport(rep))
	return nil
}

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
	if p.id != "" && !batchIDPattern.MatchString(p.id) {
		fields = append(fields, refund.FieldError{Field: "batch_id",
			Reason: "must be 1-128 characters of A-Z a-z 0-9 . _ : -, starting with a letter or digit"})
	}
	if v := q.Get("all_or_nothing"); v != "" {
		if p.allOrNothing, err = strconv.ParseBool(v); err != nil {
			fields = append(fields, refund.FieldError{Field: "all_or_nothing", Reason: "must be true or false"})
		}
	}
	if len(fields) > 0 {
		return batchParams{}, validationError(fields)
	}
	return p, nil
}

// enqueueBatch runs the body through producer.EnqueueBatch. A file whose
// header is unusable fails as a whole, before any row.
func (s *Server) enqueueBatch(r *http.Request, p batchParams, body []byte, opts ...producer.BatchOption) (producer.BatchReport, error) {
	rd, err := batchfile.New(p.format, bytes.NewReader(body))
	if err != nil {
		return producer.BatchReport{}, newError(http.StatusBadRequest, codeInvalidFile,
			strings.TrimPrefix(err.Error(), "batchfile: "))
	}
	if p.name != "" {
		opts = append(opts, producer.BatchName(p.name))
	}
	rep, err := s.producer.EnqueueBatch(r.Context(), p.id, batchRows(rd), opts...)
	if err != nil {
		// EnqueueBatch recorded the run as incomplete; every row it wrote
		// keeps its request_id, so the same request completes the batch.
		s.log.Warn("batch stopped early", zap.String("batch_id", p.id), zap.Int("accepted", rep.Accepted), zap.Error(err))
		return rep, newError(http.StatusServiceUnavailable, codeUnavailable,
			"the batch stopped early (Redis unavailable or the request ended); send the same request again to complete it")
	}
	return rep, nil
}

// batchRows adapts a batchfile.Reader to EnqueueBatch's rows: a row that
// cannot be read becomes a row carrying its errors, so it is reported with
// the others instead of stopping the batch.
func batchRows(rd batchfile.Reader) iter.Seq2[producer.BatchRow, error] {
	return func(yield func(producer.BatchRow, error) bool) {
		for {
			row, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			var next producer.BatchRow
			var re *batchfile.RowError
			switch {
			case errors.As(err, &re):
				errs := []producer.RowError{{Line: re.Line, Field: re.Field, Reason: re.Reason}}
				next, err = producer.BatchRow{Line: re.Line, Errs: errs}, nil
			case err == nil:
				next = producer.BatchRow{Line: row.Line, Refund: row.Request}
			}
			if !yield(next, err) || err != nil {
				return
			}
		}
	}
}

func viewBatchReport(rep producer.BatchReport) batchReportView {
	v := batchReportView{BatchID: rep.BatchID, Accepted: rep.Accepted, Duplicates: rep.Duplicates,
		Rejected: rep.Rejected, Errors: viewRowErrors(rep.Errors)}
	v.ErrorsTruncated = len(rep.Errors) > len(v.Errors)
	return v
}

func viewRowErrors(errs []producer.RowError) []rowError {
	out := make([]rowError, 0, min(len(errs), maxRowErrors))
	for _, e := range errs[:min(len(errs), maxRowErrors)] {
		out = append(out, rowError{Line: e.Line, Field: e.Field, Reason: e.Reason})
	}
	return out
}

// rowsRejected is the all_or_nothing refusal: a 400 whose rows say what
// to fix.
func rowsRejected(rep producer.BatchReport) *apiError {
	e := newError(http.StatusBadRequest, codeRowsRejected,
		strconv.Itoa(rep.Rejected)+" rows are invalid and all_or_nothing is set; nothing was enqueued")
	e.Rows = viewRowErrors(rep.Errors)
	return e
}
