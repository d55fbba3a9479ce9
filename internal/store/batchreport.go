package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// A batch report is what the latest run over an uploaded batch found: its
// state and counts (a hash) and every row problem (a list, in line
// order). It is written while the run goes on, so it can be fetched
// during the run and long after it, for the batch's retention, whatever
// happened to the connection that uploaded it. Both keys share a hash tag,
// so they live in one Redis Cluster slot and change in one MULTI.
func reportKey(id string) string     { return prefix + "batchreport:{" + id + "}" }
func reportRowsKey(id string) string { return prefix + "batchreport:{" + id + "}:rows" }

// Report states.
const (
	ReportRunning  = "running"
	ReportComplete = "complete"
	// ReportIncomplete: the run stopped early (Redis went away, the
	// server shut down) or its process died; running the batch again
	// completes it.
	ReportIncomplete = "incomplete"
	// ReportRefused: all-or-nothing found bad rows; nothing was enqueued.
	ReportRefused = "refused"
)

// Batch report hash fields.
const (
	rState      = "state"
	rMessage    = "message"
	rStartedAt  = "started_at"
	rUpdatedAt  = "updated_at"
	rFinishedAt = "finished_at"
	rRows       = "rows"
	rAccepted   = "accepted"
	rDuplicates = "duplicates"
	rRejected   = "rejected"
)

// BatchReport is the stored state of a batch's latest run.
type BatchReport struct {
	State   string
	Message string
	// UpdatedAt moves at least every few seconds while a run is alive,
	// so a reader can tell a dead run from a slow one.
	StartedAt, UpdatedAt, FinishedAt     time.Time
	Rows, Accepted, Duplicates, Rejected int
	// Problems is the number of row problems stored.
	Problems int
}

// ReportRow is one stored row problem.
type ReportRow struct {
	Line   int    `json:"line"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// ErrReportRunning is returned by StartReport while another run of the
// same content as the batch, in this process or another, is alive;
// ErrReportBusy while a run of other content under the same batch id is.
var (
	ErrReportRunning = errors.New("store: a run of this batch is going")
	ErrReportBusy    = errors.New("store: a run of this batch id with other content is going")
)

// StartReport begins the report of a new run over batch id with rows
// rows of content (an id of what the rows say), dropping the previous run's. A running report updated within
// alive belongs to a run still going, perhaps on another server behind the
// same load balancer: it is left alone and ErrReportRunning returned, so
// two runs never share, or wipe, one report.
func (s *Redis) StartReport(ctx context.Context, id string, rows int, content string, alive time.Duration) error {
	now := s.now()
	res, err := s.runScript(ctx, startReportScript, []string{reportKey(id), reportRowsKey(id)},
		ms(now), ms(now.Add(-alive)), rows, s.retention.Milliseconds(), content)
	if err != nil {
		return fmt.Errorf("store: start report %s: %w", id, err)
	}
	switch n, _ := res.(int64); n {
	case 1:
		return nil
	case 0:
		return fmt.Errorf("%w: %s", ErrReportRunning, id)
	case 2:
		return fmt.Errorf("%w: %s", ErrReportBusy, id)
	}
	return fmt.Errorf("store: start report %s: unexpected reply %v", id, res)
}

// AppendReport adds row problems to the report of batch id.
func (s *Redis) AppendReport(ctx context.Context, id string, rows []ReportRow) error {
	vals := make([]any, len(rows))
	for i, r := range rows {
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("store: report %s: %w", id, err)
		}
		vals[i] = b
	}
	pipe := s.rdb.TxPipeline()
	if len(vals) > 0 {
		pipe.RPush(ctx, reportRowsKey(id), vals...)
		pipe.PExpire(ctx, reportRowsKey(id), s.retention)
	}
	pipe.HSet(ctx, reportKey(id), rUpdatedAt, ms(s.now()))
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: report %s: %w", id, err)
	}
	return nil
}

// FinishReport records how the run over batch id ended.
func (s *Redis) FinishReport(ctx context.Context, id string, r BatchReport) error {
	now := ms(s.now())
	pipe := s.rdb.TxPipeline()
	pipe.HSet(ctx, reportKey(id), rState, r.State, rMessage, r.Message, rUpdatedAt, now, rFinishedAt, now,
		rRows, r.Rows, rAccepted, r.Accepted, rDuplicates, r.Duplicates, rRejected, r.Rejected)
	pipe.PExpire(ctx, reportKey(id), s.retention)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: finish report %s: %w", id, err)
	}
	return nil
}

// Report returns the report of batch id, or ErrNotFound.
func (s *Redis) Report(ctx context.Context, id string) (*BatchReport, error) {
	pipe := s.rdb.Pipeline()
	hc := pipe.HGetAll(ctx, reportKey(id))
	lc := pipe.LLen(ctx, reportRowsKey(id))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: report %s: %w", id, err)
	}
	h := hc.Val()
	if len(h) == 0 {
		return nil, ErrNotFound
	}
	n := func(f string) int { v, _ := strconv.Atoi(h[f]); return v }
	return &BatchReport{State: h[rState], Message: h[rMessage], StartedAt: parseMS(h[rStartedAt]),
		UpdatedAt: parseMS(h[rUpdatedAt]), FinishedAt: parseMS(h[rFinishedAt]), Rows: n(rRows),
		Accepted: n(rAccepted), Duplicates: n(rDuplicates), Rejected: n(rRejected), Problems: int(lc.Val())}, nil
}

// ReportRows returns up to limit row problems of batch id from offset.
func (s *Redis) ReportRows(ctx context.Context, id string, offset, limit int) ([]ReportRow, error) {
	if limit <= 0 {
		return nil, nil
	}
	vals, err := s.rdb.LRange(ctx, reportRowsKey(id), int64(offset), int64(offset+limit-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: report rows %s: %w", id, err)
	}
	out := make([]ReportRow, len(vals))
	for i, v := range vals {
		if err := json.Unmarshal([]byte(v), &out[i]); err != nil {
			return nil, fmt.Errorf("store: report rows %s: %w", id, err)
		}
	}
	return out, nil
}
