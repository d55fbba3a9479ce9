package batches_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/batches"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

func rows(prefix string, n int) []producer.Refund {
	out := make([]producer.Refund, n)
	for i := range out {
		out[i] = producer.Refund{OrderID: fmt.Sprintf("%s-%03d", prefix, i), Amount: "1.00"}
	}
	return out
}

// byRecord counts the batch's refunds the slow way, record by record.
func byRecord(t *testing.T, s *store.Redis, id string) map[refund.State]int {
	t.Helper()
	ids, err := s.ByBatch(context.Background(), id)
	testenv.Must(t, err)
	states, err := s.States(context.Background(), ids)
	testenv.Must(t, err)
	out := map[refund.State]int{}
	for _, st := range refund.States() {
		out[st] = 0
	}
	for _, st := range states {
		out[st]++
	}
	return out
}

// walk moves every refund of the batch along random edges of the state
// graph, the way workers and operators would.
func walk(t *testing.T, s *store.Redis, id string, rng *rand.Rand) {
	t.Helper()
	ctx := context.Background()
	ids, err := s.ByBatch(ctx, id)
	testenv.Must(t, err)
	for _, rid := range ids {
		for range rng.IntN(5) {
			rec, err := s.Get(ctx, rid)
			testenv.Must(t, err)
			if rec.State == refund.Queued && rng.IntN(2) == 0 {
				c, err := s.Claim(ctx, rid, time.Second, rec.Merchant, store.Change{From: []refund.State{refund.Queued},
					To: refund.Submitting, Attempts: 1, Sent: true, Event: "submit"})
				testenv.Must(t, err)
				testenv.Must(t, s.Unlock(ctx, rid, c.Token))
				continue
			}
			next := refund.Next(rec.State)
			if len(next) == 0 {
				break
			}
			_, err = s.Transition(ctx, rid, store.Change{From: []refund.State{rec.State}, To: next[rng.IntN(len(next))], Event: "walk"})
			testenv.Must(t, err)
		}
	}
}

// A batch this version begins keeps its counts by state as its refunds
// move, through every kind of change; a batch begun before counting
// existed is counted record by record and gives the same answer.
func TestCountsByStateFollowEveryChange(t *testing.T) {
	r := testenv.StartRedis(t)
	s := store.New(r.Client())
	p := producer.NewFromClient(r.Client())
	ctx := context.Background()
	// "old" has metadata from before counting: created with content ids, never counted.
	testenv.Must(t, r.Client().HSet(ctx, "refundq:batchmeta:old", "created_at", "1700000000000", "runs", "1", "ids", "content").Err())
	for _, tc := range []struct {
		batch   string
		counted bool
	}{{"new", true}, {"old", false}} {
		t.Run(tc.batch, func(t *testing.T) {
			_, err := p.EnqueueBatch(ctx, tc.batch, producer.Rows(rows(tc.batch, 40)))
			testenv.Must(t, err)
			// A second run, and a single refund listed in the batch, add nothing.
			_, err = p.EnqueueBatch(ctx, tc.batch, producer.Rows(rows(tc.batch, 40)))
			testenv.Must(t, err)
			walk(t, s, tc.batch, rand.New(rand.NewPCG(3, 4)))
			meta, err := s.Batch(ctx, tc.batch)
			testenv.Must(t, err)
			if (meta.Counts != nil) != tc.counted {
				t.Fatalf("counted %v, want %v", meta.Counts != nil, tc.counted)
			}
			got, err := batches.States(ctx, s, meta)
			testenv.Must(t, err)
			if want := byRecord(t, s, tc.batch); !maps.Equal(got, want) {
				t.Fatalf("counts %v\nby record %v", got, want)
			}
			if settled, total := batches.Settled(got); total != 40 || settled == 40 {
				t.Fatalf("settled %d of %d: the walk should leave some refunds open", settled, total)
			}
		})
	}
}

// Wait returns once every refund has settled, counted batch or not, and
// reports progress on the way.
func TestWaitReturnsWhenEveryRefundHasSettled(t *testing.T) {
	r := testenv.StartRedis(t)
	s := store.New(r.Client())
	p := producer.NewFromClient(r.Client())
	ctx := context.Background()
	testenv.Must(t, r.Client().HSet(ctx, "refundq:batchmeta:old", "created_at", "1700000000000", "ids", "content").Err())
	for _, batch := range []string{"new", "old"} {
		t.Run(batch, func(t *testing.T) {
			_, err := p.EnqueueBatch(ctx, batch, producer.Rows(rows(batch, 5)))
			testenv.Must(t, err)
			ids, err := s.ByBatch(ctx, batch)
			testenv.Must(t, err)
			seen := make(chan int, 100)
			done := make(chan error, 1)
			go func() {
				_, err := batches.Wait(ctx, s, batch, 10*time.Millisecond, func(settled, total int) {
					if total == 5 {
						select {
						case seen <- settled:
						default:
						}
					}
				})
				done <- err
			}()
			for i, id := range ids {
				<-seen // Wait has looked since the last change
				select {
				case err := <-done:
					t.Fatalf("Wait returned with %d of 5 settled: %v", i, err)
				default:
				}
				_, err := s.Transition(ctx, id, store.Change{From: []refund.State{refund.Queued}, To: refund.Canceled, Event: "cancel"})
				testenv.Must(t, err)
			}
			testenv.Must(t, <-done)
		})
	}
}

// The results file has a row per refund in order and transaction order,
// and cells a spreadsheet cannot run.
func TestResultsFile(t *testing.T) {
	r := testenv.StartRedis(t)
	s := store.New(r.Client())
	p := producer.NewFromClient(r.Client())
	ctx := context.Background()
	_, err := p.EnqueueBatch(ctx, "b", producer.Rows([]producer.Refund{
		{OrderID: "o-2", Amount: "2.00"}, {OrderID: "=SUM(1)", Amount: "1.00"}, {OrderID: "o-1", Amount: "3.00"},
	}))
	testenv.Must(t, err)
	var buf bytes.Buffer
	testenv.Must(t, batches.WriteResults(ctx, s, "b", &buf))
	got, err := csv.NewReader(&buf).ReadAll()
	testenv.Must(t, err)
	if len(got) != 4 || got[0][0] != "request_id" || got[1][1] != "'=SUM(1)" || got[2][1] != "o-1" || got[3][1] != "o-2" ||
		got[2][4] != "queued" {
		t.Fatalf("results %q", got)
	}
}
