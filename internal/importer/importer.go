// Package importer is `refundq import` without the terminal: it turns a
// path (a file, a pipe, a FIFO, or - for standard input) into an
// intake.Source, refuses what cannot be a file of rows, streams rejects
// to their file, and runs the batch through intake, the one intake path
// the HTTP API shares. The command adds flags, a progress display and the
// summary; the import benchmark calls Run directly so it measures exactly
// what the command does.
package importer

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/refundq/refundq/internal/hold"
	"github.com/refundq/refundq/internal/intake"
	"github.com/refundq/refundq/producer"
)

// Options configure one import.
type Options struct {
	// Path is the CSV or JSONL file; "-" reads standard input.
	Path string
	// BatchID names the batch; empty derives it from the content, so
	// importing the same content again continues the same batch.
	BatchID string
	// AllOrNothing checks every row first and enqueues nothing if any is
	// rejected.
	AllOrNothing bool
	// Concurrency is how many groups of rows are written at once
	// (default producer.DefaultBatchConcurrency).
	Concurrency int
	// RejectsPath receives every problem as CSV, as it is found; empty
	// writes no file. It is created before anything is read, and removed
	// again when there was no problem.
	RejectsPath string
	// OnReject, if set, also sees every problem.
	OnReject func(producer.RowError)
	// Progress follows the import; nil shows nothing.
	Progress intake.Progress
	// Hold, if set, decides from the first read's size which rows are
	// held for an approver (see hold.Policy.Hold).
	Hold func(hold.Size) producer.Hold
}

// Result is what an import did.
type Result struct {
	intake.Result
	// Rejects is the rejects file written, if any.
	Rejects string
	// Hold is how the batch's new rows were held.
	Hold producer.Hold
}

// RejectsError says the rejects file cannot be written; nothing was
// enqueued if it could not even be created.
type RejectsError struct {
	Path string
	Err  error
}

func (e *RejectsError) Error() string {
	return fmt.Sprintf("cannot write the rejects file %s: %v", e.Path, e.Err)
}

func (e *RejectsError) Unwrap() error { return e.Err }

// Run imports the file. A rejected row never stops the import (unless
// AllOrNothing); an error does. Result.Started says whether rows may have
// been written; if so, running the same import again completes the
// batch, since every row's request_id is fixed by the row alone.
func Run(ctx context.Context, p *producer.Producer, o Options) (Result, error) {
	in, err := openInput(ctx, o.Path)
	if err != nil {
		return Result{}, err
	}
	defer in.Close()
	rej, err := createRejects(o.RejectsPath, in)
	if err != nil {
		return Result{}, err
	}
	plan, err := intake.Check(ctx, in, intake.CheckOptions{Name: in.name, BatchID: o.BatchID,
		SizeHint: in.sizeHint, Progress: o.Progress})
	if err != nil {
		return Result{}, errors.Join(err, rej.finish())
	}
	var h producer.Hold
	if o.Hold != nil {
		h = o.Hold(plan.Size)
	}
	res, err := plan.Run(ctx, p, intake.RunOptions{AllOrNothing: o.AllOrNothing, Concurrency: o.Concurrency,
		Progress: o.Progress, Hold: h, OnReject: func(e producer.RowError) error {
			if o.OnReject != nil {
				o.OnReject(e)
			}
			return rej.write(e)
		}})
	out := Result{Result: res, Hold: h}
	if rej != nil && rej.n > 0 {
		out.Rejects = rej.path
	}
	if ferr := rej.finish(); err == nil {
		err = ferr
	}
	return out, err
}

// rejects is the rejects file, written as problems are found.
type rejects struct {
	path string
	f    *os.File
	w    *intake.RejectsWriter
	n    int
}

func createRejects(path string, in *input) (*rejects, error) {
	if path == "" {
		return nil, nil
	}
	if fi, err := os.Stat(path); err == nil {
		switch {
		case in.stat != nil && os.SameFile(fi, in.stat):
			return nil, &RejectsError{Path: path, Err: errors.New("it is the file being imported")}
		case !fi.Mode().IsRegular():
			// A FIFO nobody reads would block the import for ever.
			return nil, &RejectsError{Path: path, Err: errors.New("it exists and is not a regular file")}
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, &RejectsError{Path: path, Err: err}
	}
	w, err := intake.NewRejectsWriter(f)
	if err != nil {
		_ = f.Close()
		return nil, &RejectsError{Path: path, Err: err}
	}
	return &rejects{path: path, f: f, w: w}, nil
}

func (r *rejects) write(e producer.RowError) error {
	if r == nil {
		return nil
	}
	r.n++
	if err := r.w.Write(e); err != nil {
		return &RejectsError{Path: r.path, Err: err}
	}
	return nil
}

// finish flushes and closes the file, and removes it when it holds no
// problem: a clean import leaves nothing behind, and no stale report.
func (r *rejects) finish() error {
	if r == nil {
		return nil
	}
	err := errors.Join(r.w.Flush(), r.f.Close())
	if r.n == 0 {
		err = errors.Join(err, os.Remove(r.path))
	}
	if err != nil {
		return &RejectsError{Path: r.path, Err: err}
	}
	return nil
}
