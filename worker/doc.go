// Package worker processes refunds that package producer accepted.
//
// A Worker pulls refund tasks from Redis through asynq and drives each refund
// along queued → submitting → processing → succeeded or failed, with
// needs_attention for what it cannot settle alone. It calls the Card API with
// the refund's fixed request_id, records submitting before every call,
// reconciles an ambiguous outcome through request status before any
// resubmit, and polls on a schedule without holding a worker slot.
//
// Several workers, in one process or many, may share one Redis: a per-refund
// lock and compare-and-set state changes keep them from submitting the same
// refund twice. Run returns after a graceful shutdown when its context ends.
package worker
