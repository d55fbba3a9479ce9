package worker

// SetSweepBatch shrinks how many stale refunds one sweep looks at per
// list, so a test can build a list longer than a batch.
func SetSweepBatch(w *Worker, n int64) { w.cursor.batch = n }
