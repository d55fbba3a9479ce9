// Package importer turns a CSV or JSONL file into a refund batch. It is
// `refundq import` without the terminal: the command adds flags, a
// progress display and the summary, and the import benchmark calls Run
// directly so it measures exactly what the command does.
package importer

import (
	"context"
	"fmt"
	"os"

	"github.com/refundq/refundq/internal/batchfile"
	"github.com/refundq/refundq/producer"
)

// Options configure one import.
type Options struct {
	// Path is the CSV or JSONL file.
	Path string
	// BatchID names the batch; empty derives it from the file's content,
	// so running the same file again continues the same batch.
	BatchID string
	// AllOrNothing checks every row first and enqueues nothing if any is
	// rejected.
	AllOrNothing bool
	// Concurrency is how many groups of rows are written at once
	// (default producer.DefaultBatchConcurrency).
	Concurrency int
	// RejectsPath receives every problem as CSV; empty writes no file.
	RejectsPath string
	// Progress follows the import; nil shows nothing.
	Progress Progress
}

// Progress follows an import through its passes: "check" (only with
// AllOrNothing) and "import".
type Progress interface {
	// Start begins a pass over about total rows (an estimate from the
	// file's line count).
	Start(pass string, total int)
	// Set reports the rows finished so far; calls never overlap.
	Set(done int)
	// Finish ends the pass.
	Finish()
}

// Result is what an import did.
type Result struct {
	BatchID string
	producer.BatchReport
	// Rejects are the problems with the file's own text where known,
	// as written to the rejects file.
	Rejects []batchfile.RowError
	// Enqueued is false when AllOrNothing found a bad row.
	Enqueued bool
}

// Run imports the file. A rejected row never stops the import (unless
// AllOrNothing); an error does, and running the same file again then
// completes the batch.
func Run(ctx context.Context, p *producer.Producer, o Options) (Result, error) {
	f, err := inspect(o.Path)
	if err != nil {
		return Result{}, err
	}
	res := Result{BatchID: o.BatchID}
	if res.BatchID == "" {
		res.BatchID = f.batchID
	}
	opts := []producer.BatchOption{producer.BatchName(f.name)}
	if o.Concurrency > 0 {
		opts = append(opts, producer.Concurrency(o.Concurrency))
	}
	if o.AllOrNothing {
		rep, raw, err := pass(ctx, p, o, f, res.BatchID, "check", append(opts, producer.DryRun()))
		if err != nil || rep.Rejected > 0 {
			res.BatchReport, res.Rejects = rep, rejects(rep.Errors, raw)
			return res, writeRejects(o.RejectsPath, res.Rejects, err)
		}
	}
	rep, raw, err := pass(ctx, p, o, f, res.BatchID, "import", opts)
	res.BatchReport, res.Rejects, res.Enqueued = rep, rejects(rep.Errors, raw), true
	return res, writeRejects(o.RejectsPath, res.Rejects, err)
}

func pass(ctx context.Context, p *producer.Producer, o Options, f file, batchID, name string,
	opts []producer.BatchOption) (producer.BatchReport, map[int]string, error) {
	src, err := f.open()
	if err != nil {
		return producer.BatchReport{BatchID: batchID}, nil, err
	}
	defer src.close()
	if o.Progress != nil {
		o.Progress.Start(name, f.rows)
		defer o.Progress.Finish()
		opts = append(opts, producer.OnProgress(o.Progress.Set))
	}
	rep, err := p.EnqueueBatch(ctx, batchID, src.rows(), opts...)
	return rep, src.raw, err
}

// rejects pairs each problem with the text of its row.
func rejects(errs []producer.RowError, raw map[int]string) []batchfile.RowError {
	out := make([]batchfile.RowError, len(errs))
	for i, e := range errs {
		out[i] = batchfile.RowError{Line: e.Line, Field: e.Field, Reason: e.Reason, Raw: raw[e.Line]}
	}
	return out
}

// writeRejects writes the rejects file, even after a failed run, so what
// was found so far is not lost; runErr is returned first.
func writeRejects(path string, errs []batchfile.RowError, runErr error) error {
	if path == "" {
		return runErr
	}
	w, err := os.Create(path)
	if err == nil {
		err = batchfile.WriteRejects(w, errs)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
	}
	if runErr != nil {
		return runErr
	}
	if err != nil {
		return fmt.Errorf("importer: rejects file: %w", err)
	}
	return nil
}
