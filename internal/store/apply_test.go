package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
)

// A change applied with Base is worked out in Go instead of read back from
// Redis. Random walks over the state graph, each step both ways, must give
// the same record: the Go mirror may never drift from the script.
func TestChangeApplyMirrorsTheScript(t *testing.T) {
	s := New(testenv.StartRedis(t).Client())
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	facts := []Fact{FactFirstSent, FactLastSent, FactNotFoundSince, FactDoubtedRejection, FactReason, FactUnrecognized}
	at := func() time.Time { return time.UnixMilli(1_700_000_000_000 + rng.Int64N(1e9)) }
	for walk := range 30 {
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", walk)
		rec, _, err := s.Create(ctx, newTestRecord(id))
		testenv.Must(t, err)
		for range 12 {
			next := refund.Next(rec.State)
			if len(next) == 0 {
				break
			}
			c := Change{From: []refund.State{rec.State}, To: next[rng.IntN(len(next))], Event: "walk",
				Attempts: rng.IntN(2), Polls: rng.IntN(2), Sent: rng.IntN(3) == 0, Resume: rng.IntN(4) == 0,
				Acknowledged: rng.IntN(3) == 0, Ambiguous: rng.IntN(3) == 0}
			if rng.IntN(2) == 0 {
				c.RequestStatus, c.ProviderCode, c.Reason, c.ReasonCode = "process", "C", "why", refund.AttentionDeadline
			}
			if rng.IntN(3) == 0 {
				c.NotFoundSince, c.UnrecognizedSince = at(), at()
			}
			if !c.Sent && rng.IntN(3) == 0 {
				c.LastSentAt = at()
			}
			if rng.IntN(3) == 0 {
				c.Clear = append(c.Clear, facts[rng.IntN(len(facts))])
			}
			withBase := c
			withBase.Base = rec
			got, err := s.Transition(ctx, id, withBase)
			testenv.Must(t, err)
			stored, err := s.Get(ctx, id)
			testenv.Must(t, err)
			if !reflect.DeepEqual(got, stored) {
				t.Fatalf("walk %d, change %+v:\n worked out %+v\n stored     %+v", walk, c, got, stored)
			}
			rec = stored
		}
	}
}

func newTestRecord(id string) *refund.Record {
	r := refund.Request{RequestID: id, OrderID: "o-1", Amount: "10.00"}.Normalize()
	return &refund.Record{Request: r, ParamHash: r.ParamHash(), State: refund.Queued, Source: "test", Queue: "q", BatchID: "b"}
}
