package intake

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/refundq/refundq/internal/hold"
	"github.com/refundq/refundq/producer"
)

// Progress follows an import through its passes: "read" (Check), then
// "check" (only for all-or-nothing) and "import" (Run).
type Progress interface {
	// Start begins a pass over total rows; total is 0 when unknown.
	Start(pass string, total int)
	// Set reports the rows finished so far; calls never overlap.
	Set(done int)
	// Finish ends the pass.
	Finish()
}

// CheckOptions configure Check.
type CheckOptions struct {
	// Format of the content; zero detects it from Name and the first
	// bytes.
	Format Format
	// Name is where the content came from, such as a file name: a hint
	// for the format, and the batch's name.
	Name string
	// BatchID names the batch; empty derives it from the content, so the
	// same content always continues the same batch.
	BatchID string
	// SizeHint is the content's size in bytes if known, to size memory.
	SizeHint int64
	// Progress follows the read; nil shows nothing.
	Progress Progress
}

// Plan is what a first read of the content found, before anything is
// written: enough to name the batch and enqueue it in flat memory.
type Plan struct {
	// BatchID is the given id or the one derived from the content.
	BatchID string
	Format  Format
	Name    string
	// Rows is the number of records; Unreadable of them cannot be read
	// at all or have values of the wrong kind (validation and Redis find
	// the rest of the bad rows when the batch runs).
	Rows, Unreadable int
	// Size is the rows and their amounts, for a hold policy (see
	// package hold); rows that cannot be read do not count.
	Size hold.Size

	src       Source
	contentID string
	// earlier are the ids an earlier refundq gave the same bytes.
	earlier []string
	repeats *repeats
}

// Check reads the content once, without Redis: it refuses input that is
// not a refund file at all (*InputError), counts rows, derives the batch
// id from what the rows say, and notes which request_ids may repeat.
// This is the one intake path: `refundq import` and POST /v1/batches
// both Check and then Run, so the two cannot disagree about a file.
func Check(ctx context.Context, src Source, o CheckOptions) (*Plan, error) {
	if o.BatchID != "" && !producer.ValidBatchID(o.BatchID) {
		return nil, fmt.Errorf("intake: batch id %q: use %s", o.BatchID, producer.BatchIDRule)
	}
	pl := &Plan{Format: o.Format, Name: o.Name, src: src, repeats: newRepeats(o.SizeHint)}
	raw := sha256.New()
	rd, closer, err := pl.open(ctx, raw)
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	if o.Progress != nil {
		o.Progress.Start("read", 0)
		defer o.Progress.Finish()
	}
	var d digest
	for {
		row, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		d.add(row)
		// Validation waits for Run; an invalid row's id in the filter
		// costs nothing but a little room.
		if row.Problem != nil || len(row.Fields) > 0 {
			pl.Unreadable++
		} else {
			pl.repeats.add(producer.BatchRowID(producer.Refund(row.Request)))
			pl.Size.Add(row.Request.Amount)
		}
		if o.Progress != nil && d.rows%256 == 0 {
			o.Progress.Set(d.rows)
		}
	}
	if o.Progress != nil {
		o.Progress.Set(d.rows)
	}
	if d.rows == 0 {
		return nil, noRows(pl.Format)
	}
	pl.Rows, pl.contentID, pl.BatchID = d.rows, d.batchID(), o.BatchID
	pl.earlier = earlierBatchIDs(raw.Sum(nil))
	pl.Size.Rows = d.rows
	if pl.BatchID == "" {
		pl.BatchID = pl.contentID
	}
	return pl, nil
}

func noRows(f Format) error {
	if f == CSV {
		return inputErrorf("the file has a header row but no refund rows")
	}
	return inputErrorf("the file has no refund rows")
}

// ContentID names what the rows say, whatever the batch is called: two
// contents with one ContentID hold the same refunds.
func (pl *Plan) ContentID() string { return pl.contentID }

// earlierBatchIDs are the batch ids refundq gave content before batch
// ids came from what the rows say: `refundq import` took a digest of the
// file's bytes, POST /v1/batches one of the body's.
func earlierBatchIDs(sum []byte) []string {
	return []string{"file-" + hex.EncodeToString(sum)[:20], "api-" + hex.EncodeToString(sum[:16])}
}

// open starts a pass over the content; raw, when not nil, receives every
// byte read.
func (pl *Plan) open(ctx context.Context, raw io.Writer) (Reader, io.Closer, error) {
	rc, err := pl.src.Open(ctx)
	if err != nil {
		return nil, nil, err
	}
	var r io.Reader = rc
	if raw != nil {
		r = io.TeeReader(rc, raw)
	}
	rd, f, err := newReader(ctx, r, pl.Format, pl.Name)
	if err != nil {
		rc.Close()
		return nil, nil, err
	}
	pl.Format = f
	return rd, rc, nil
}

// RunOptions configure Run.
type RunOptions struct {
	// AllOrNothing checks every row first (a dry run against Redis) and
	// enqueues nothing if any is rejected.
	AllOrNothing bool
	// Concurrency is how many groups of rows are written at once
	// (default producer.DefaultBatchConcurrency).
	Concurrency int
	// OnReject receives every problem, in line order, as it is found;
	// nil keeps them in Result.Errors.
	OnReject func(producer.RowError) error
	// Progress follows the passes; nil shows nothing.
	Progress Progress
	// Hold holds the batch's new rows for an approver (see hold.Policy,
	// which decides it from the plan's Size).
	Hold producer.Hold
}

// Result is what Run did.
type Result struct {
	BatchID string
	producer.BatchReport
	Rows int
	// Started is set once the enqueueing pass began: rows may be written.
	Started bool
	// Enqueued is false when AllOrNothing found a bad row; nothing was
	// written then.
	Enqueued bool
}

// Run enqueues the batch the plan describes. A rejected row never stops
// it (unless AllOrNothing); an error does, and running the same content
// again then completes the batch, since every row's request_id is fixed
// by the row alone.
func (pl *Plan) Run(ctx context.Context, p *producer.Producer, o RunOptions) (Result, error) {
	res := Result{BatchID: pl.BatchID, Rows: pl.Rows}
	opts := []producer.BatchOption{producer.BatchName(pl.Name), producer.RepeatsOnly(pl.repeats.may),
		producer.EarlierBatchIDs(pl.earlier...)}
	if o.Concurrency > 0 {
		opts = append(opts, producer.Concurrency(o.Concurrency))
	}
	if o.OnReject != nil {
		opts = append(opts, producer.OnReject(o.OnReject))
	}
	opts = append(opts, producer.BatchHold(o.Hold))
	if o.AllOrNothing {
		rep, err := pl.pass(ctx, p, "check", o.Progress, append(opts, producer.DryRun()))
		if err != nil || rep.Rejected > 0 {
			res.BatchReport = rep
			return res, err
		}
	}
	res.Started = true
	rep, err := pl.pass(ctx, p, "import", o.Progress, opts)
	res.BatchReport, res.Enqueued = rep, true
	return res, err
}

// pass reads the content again and runs it through EnqueueBatch. It
// returns ErrChanged when the content no longer reads as it did in Check.
func (pl *Plan) pass(ctx context.Context, p *producer.Producer, name string, pr Progress,
	opts []producer.BatchOption) (producer.BatchReport, error) {
	rd, closer, err := pl.open(ctx, nil)
	if err != nil {
		return producer.BatchReport{BatchID: pl.BatchID}, err
	}
	defer closer.Close()
	if pr != nil {
		pr.Start(name, pl.Rows)
		defer pr.Finish()
		opts = append(opts, producer.OnProgress(pr.Set))
	}
	var d digest
	rows := func(yield func(producer.BatchRow, error) bool) {
		for {
			row, err := rd.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(producer.BatchRow{}, err)
				return
			}
			d.add(row)
			if !yield(row.batchRow(), nil) {
				return
			}
		}
	}
	rep, err := p.EnqueueBatch(ctx, pl.BatchID, rows, opts...)
	if err == nil && (d.rows != pl.Rows || d.batchID() != pl.contentID) {
		err = ErrChanged
	}
	return rep, err
}
