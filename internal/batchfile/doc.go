// Package batchfile reads bulk refund files — CSV exported from a
// spreadsheet or JSONL written by a program — one record at a time.
//
// It is shared by `refundq import FILE`, POST /v1/batches and
// producer.EnqueueBatch, so all three accept exactly the same files and
// report problems the same way: by physical line number, field and reason.
//
// Reading and validating are separate steps. A Reader only turns text into
// refund.Requests; a *RowError from Next means that one record could not be
// read and the caller should carry on. Validate then checks each Row and
// returns every bad field, so one pass over a file yields a complete rejects
// report (see WriteRejects) instead of a fix-one-rerun loop.
//
//	rd, err := batchfile.NewCSV(f)
//	for {
//		row, err := rd.Next()
//		if errors.Is(err, io.EOF) {
//			break
//		}
//		var re *batchfile.RowError
//		if errors.As(err, &re) {
//			rejects = append(rejects, *re)
//			continue
//		}
//		if err != nil {
//			return err // I/O: the file itself is unreadable
//		}
//		if errs := batchfile.Validate(row); errs != nil {
//			rejects = append(rejects, errs...)
//			continue
//		}
//		accept(row.Request.Normalize())
//	}
package batchfile
