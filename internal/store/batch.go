package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/refundq/refundq/internal/refund"
)

// Batch metadata hash fields.
const (
	bName       = "name"
	bCreatedAt  = "created_at"
	bUpdatedAt  = "updated_at"
	bDoneAt     = "completed_at"
	bRuns       = "runs"
	bRows       = "rows"
	bDuplicates = "duplicates"
	bRejected   = "rejected"
	bCounted    = "counted" // written by startBatchScript
	// bIDs marks a batch begun by a refundq whose rows without request_id
	// or idempotency_key take request_ids from their content. Earlier
	// versions derived them from the batch id.
	bIDs = "ids"
)

// ErrEarlierBatch is returned for a batch that an earlier refundq began.
// That version derived the request_ids of rows without request_id or
// idempotency_key from the batch id, and this one derives them from the
// rows' content: running such rows again would queue each one a second
// time under a new request_id.
var ErrEarlierBatch = errors.New("store: the batch was begun by an earlier refundq, which gave rows without keys other request_ids")

// BatchMeta describes a batch. A batch may be run more than once (a re-run
// completes an interrupted import); Rows, Duplicates and Rejected are the
// latest run's, Accepted counts the refunds in the batch.
type BatchMeta struct {
	ID        string
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
	// CompletedAt is when the latest run read its last row. It is zero
	// while a run is going and after one was interrupted.
	CompletedAt time.Time
	Runs        int
	Rows        int
	Accepted    int
	Duplicates  int
	Rejected    int
	// Counts holds how many of the batch's refunds are in each state,
	// kept by the scripts as the refunds move, expired ones included. It
	// is nil for a batch begun before this version or on Redis Cluster,
	// whose refunds must be counted one by one.
	Counts map[refund.State]int
	// Held is set once a run imported the batch held for approval, and
	// HoldReason says why (asked for, or the policy's threshold). Makers
	// are the names that imported held rows of it, none of whom may
	// approve it. ApprovedBy/At or RejectedBy/At record the decision; the
	// first one stands (see DecideBatch).
	Held                   bool
	HoldReason             string
	Makers                 []string
	ApprovedBy, RejectedBy string
	ApprovedAt, RejectedAt time.Time
}

// counts reads the n:<state> fields of a counted batch's metadata.
func counts(f *fieldReader) map[refund.State]int {
	if f.h[bCounted] != "1" {
		return nil
	}
	out := make(map[refund.State]int, len(refund.States()))
	for _, st := range refund.States() {
		out[st] = f.int(countField(st))
	}
	return out
}

func countField(st refund.State) string { return "n:" + string(st) }

// BatchRun is what one run over a batch's rows did.
type BatchRun struct {
	Rows, Duplicates, Rejected int
	// Complete is false for a run that stopped early.
	Complete bool
}

// StartBatch records the start of a run over batch id. The creation time
// stays the first run's.
//
// It returns ErrEarlierBatch, and changes nothing, for a batch an earlier
// refundq began.
func (s *Redis) StartBatch(ctx context.Context, id, name string) error {
	res, err := s.runScript(ctx, startBatchScript, []string{batchMetaKey(id)}, ms(s.now()), name, s.indexMode())
	if err != nil {
		return fmt.Errorf("store: start batch %s: %w", id, err)
	}
	if n, ok := res.(int64); !ok || n != 1 {
		if ok && n == 0 {
			return fmt.Errorf("%w: %s", ErrEarlierBatch, id)
		}
		return fmt.Errorf("store: start batch %s: unexpected reply %v", id, res)
	}
	if err := s.listBatch(ctx, id); err != nil {
		return err
	}
	return s.keepBatchMeta(ctx, id)
}

// EarlierBatch reports whether an earlier refundq began batch id (see
// ErrEarlierBatch).
func (s *Redis) EarlierBatch(ctx context.Context, id string) (bool, error) {
	h, err := s.rdb.HMGet(ctx, batchMetaKey(id), bCreatedAt, bIDs).Result()
	if err != nil {
		return false, fmt.Errorf("store: batch %s: %w", id, err)
	}
	return h[0] != nil && h[1] == nil, nil
}

// FinishBatch records the outcome of a run over batch id, and returns the
// time it wrote, which ReplicateBatch checks.
func (s *Redis) FinishBatch(ctx context.Context, id string, run BatchRun) (finishedAt string, err error) {
	k, now := batchMetaKey(id), ms(s.now())
	fields := []any{bUpdatedAt, now, bRows, run.Rows, bDuplicates, run.Duplicates, bRejected, run.Rejected}
	if run.Complete {
		fields = append(fields, bDoneAt, now)
	}
	if err := s.rdb.HSet(ctx, k, fields...).Err(); err != nil {
		return "", fmt.Errorf("store: finish batch %s: %w", id, err)
	}
	return now, s.keepBatchMeta(ctx, id)
}

// keepBatchMeta makes a batch's metadata live as long as its longest-lived
// refund: for good while one is unsettled, and the retention for a batch
// with no refund at all (every row rejected).
func (s *Redis) keepBatchMeta(ctx context.Context, id string) error {
	last, err := s.rdb.ZRangeWithScores(ctx, batchKey(id), -1, -1).Result()
	if err != nil {
		return fmt.Errorf("store: batch %s: %w", id, err)
	}
	k := batchMetaKey(id)
	switch {
	case len(last) == 0:
		err = s.rdb.PExpire(ctx, k, s.retention).Err()
	case math.IsInf(last[0].Score, 1):
		err = s.rdb.Persist(ctx, k).Err()
	default:
		err = s.rdb.PExpireAt(ctx, k, time.UnixMilli(int64(last[0].Score))).Err()
	}
	if err != nil {
		return fmt.Errorf("store: batch %s expiry: %w", id, err)
	}
	return nil
}

// Batch returns the metadata of batch id, or ErrNotFound.
func (s *Redis) Batch(ctx context.Context, id string) (*BatchMeta, error) {
	pipe := s.rdb.Pipeline()
	hc := pipe.HGetAll(ctx, batchMetaKey(id))
	nc := s.countMembers(ctx, pipe, batchKey(id))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: batch %s: %w", id, err)
	}
	h := hc.Val()
	if len(h) == 0 {
		return nil, ErrNotFound
	}
	f := &fieldReader{h: h}
	m := &BatchMeta{Counts: counts(f),
		ID: id, Name: h[bName], CreatedAt: f.time(bCreatedAt), UpdatedAt: f.time(bUpdatedAt),
		CompletedAt: f.time(bDoneAt), Runs: f.int(bRuns), Rows: f.int(bRows), Accepted: int(nc.Val()),
		Duplicates: f.int(bDuplicates), Rejected: f.int(bRejected),
	}
	holdFields(m, f)
	if f.err != nil {
		return nil, fmt.Errorf("store: batch %s: %w", id, f.err)
	}
	return m, nil
}

// BatchSize is the number of refunds in batch id.
func (s *Redis) BatchSize(ctx context.Context, id string) (int, error) {
	n, err := s.countMembers(ctx, s.rdb, batchKey(id)).Result()
	if err != nil {
		return 0, fmt.Errorf("store: batch size %s: %w", id, err)
	}
	return int(n), nil
}
