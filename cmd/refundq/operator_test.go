package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/internal/teststack"
	"github.com/refundq/refundq/producer"
)

// opsEnv is the test stack the operator commands run against, in-process
// through run().
type opsEnv struct {
	*teststack.Stack
	env map[string]string
}

func newOpsEnv(t *testing.T) *opsEnv {
	s := teststack.New(t, teststack.WithSim(func(c *fpsim.Config) {
		c.StatusDelay, c.Seed = 0, 0
		c.Transactions = fpsim.GenerateTransactions(10, decimal.NewFromInt(100))
	}))
	return &opsEnv{Stack: s, env: map[string]string{
		"REFUNDQ_REDIS_URL": s.Redis.URL(), "REFUNDQ_PROVIDER_URL": s.SimURL, "REFUNDQ_AUTH_ID": s.AuthID,
		"REFUNDQ_SECRET": s.Secret, "USER": "tester",
	}}
}

// cli runs one refundq command and returns its exit code and output.
func (o *opsEnv) cli(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, func(k string) string { return o.env[k] })
	return code, stdout.String(), stderr.String()
}

// refund enqueues refund n and moves it along path.
func (o *opsEnv) refund(n int, path ...refund.State) string {
	o.T.Helper()
	id := o.Enqueue(producer.Refund{IdempotencyKey: fmt.Sprint("cli-", n), OrderID: fmt.Sprintf("order-%06d", n), Amount: "5.00"})
	o.Move(id, append([]refund.State{refund.Queued}, path...)...)
	return id
}

func TestOperatorCommands(t *testing.T) {
	o := newOpsEnv(t)
	queued := o.refund(1)
	parked := o.refund(2, refund.Submitting, refund.NeedsAttention)
	sent := o.refund(3, refund.Submitting, refund.Unknown)
	o.SendDirect(sent)

	expect := func(wantCode int, wantOut string, args ...string) string {
		t.Helper()
		code, out, errOut := o.cli(args...)
		if code != wantCode || !strings.Contains(out+errOut, wantOut) {
			t.Errorf("refundq %s: exit %d, want %d and output containing %q\nstdout:\n%s\nstderr:\n%s",
				strings.Join(args, " "), code, wantCode, wantOut, out, errOut)
		}
		return out
	}

	if out := expect(0, parked, "list", "--state", "needs_attention"); strings.Contains(out, queued) {
		t.Errorf("list needs_attention shows the queued refund:\n%s", out)
	}
	expect(0, "order-000001", "list", "--state", "queued", "--limit", "5")
	expect(2, "want one of", "list", "--state", "succeeded")
	expect(0, "refundq.interactive", "stats")

	expect(1, "cannot cancel a refund in state needs_attention", "cancel", parked)
	expect(0, "canceled", "cancel", queued)
	if st := o.Get(queued).State; st != refund.Canceled {
		t.Errorf("cancel: state %s", st)
	}

	expect(0, "unknown → succeeded", "reconcile", sent)
	if st := o.Get(sent).State; st != refund.Succeeded {
		t.Errorf("reconcile: state %s, want succeeded", st)
	}
	// The provider does not know it: nothing to apply, and no claim that no
	// money moved, for a status endpoint can lag behind the refund call.
	if out := expect(0, "not found", "reconcile", parked); strings.Contains(out, "no money moved") {
		t.Errorf("reconcile claims no money moved for a refund that was sent:\n%s", out)
	}
	if st := o.Get(parked).State; st != refund.NeedsAttention {
		t.Errorf("reconcile of a refund the provider never saw moved it to %s", st)
	}

	expect(0, "poll chain is queued", "retry", parked)
	if st := o.Get(parked).State; st != refund.Unknown {
		t.Errorf("retry: state %s, want unknown", st)
	}
	evs, err := o.Store.Events(context.Background(), parked)
	testenv.Must(t, err)
	if last := evs[len(evs)-1]; last.Type != "operator_retry" || !strings.Contains(last.Detail, "operator tester") {
		t.Errorf("last event %+v, want an operator_retry by tester", last)
	}
	expect(1, "cannot retry a refund in state succeeded", "retry", sent)
	expect(1, "usage: refundq retry", "retry")
}
