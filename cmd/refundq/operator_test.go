package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

// opsEnv is a Redis and a simulator the operator commands run against,
// in-process through run().
type opsEnv struct {
	t      *testing.T
	env    map[string]string
	store  *store.Redis
	prod   *producer.Producer
	client *freedompay.Client
}

func newOpsEnv(t *testing.T) *opsEnv {
	r := testenv.StartRedis(t)
	sim := fpsim.New(fpsim.Config{Credentials: map[string]string{"cli-merchant": "cli-secret"},
		Transactions: fpsim.GenerateTransactions(10, decimal.NewFromInt(100))})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	client, err := freedompay.New(freedompay.Credential{AuthID: "cli-merchant", Secret: "cli-secret"}, freedompay.WithBaseURL(srv.URL))
	testenv.Must(t, err)
	rdb := r.Client()
	return &opsEnv{t: t, store: store.New(rdb), prod: producer.NewFromClient(rdb), client: client, env: map[string]string{
		"REFUNDQ_REDIS_URL": r.URL(), "REFUNDQ_PROVIDER_URL": srv.URL, "REFUNDQ_AUTH_ID": "cli-merchant",
		"REFUNDQ_SECRET": "cli-secret", "USER": "tester",
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
	o.t.Helper()
	rc, err := o.prod.Enqueue(context.Background(), producer.Refund{IdempotencyKey: fmt.Sprint("cli-", n),
		OrderID: fmt.Sprintf("order-%06d", n), Amount: "5.00"})
	testenv.Must(o.t, err)
	from := refund.Queued
	for _, to := range path {
		_, err := o.store.Transition(context.Background(), rc.RequestID, store.Change{From: []refund.State{from}, To: to,
			Sent: to == refund.Submitting, Event: "test"})
		testenv.Must(o.t, err)
		from = to
	}
	return rc.RequestID
}

func (o *opsEnv) state(id string) refund.State {
	rec, err := o.store.Get(context.Background(), id)
	testenv.Must(o.t, err)
	return rec.State
}

func TestOperatorCommands(t *testing.T) {
	o := newOpsEnv(t)
	queued := o.refund(1)
	parked := o.refund(2, refund.Submitting, refund.NeedsAttention)
	sent := o.refund(3, refund.Submitting, refund.Unknown)
	rec, err := o.store.Get(context.Background(), sent)
	testenv.Must(t, err)
	amount, err := rec.AmountDecimal()
	testenv.Must(t, err)
	_, err = o.client.Refund(context.Background(), freedompay.RefundRequest{RequestID: sent, OrderID: rec.OrderID, Amount: amount})
	testenv.Must(t, err)

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
	if st := o.state(queued); st != refund.Canceled {
		t.Errorf("cancel: state %s", st)
	}

	expect(0, "unknown → succeeded", "reconcile", sent)
	if st := o.state(sent); st != refund.Succeeded {
		t.Errorf("reconcile: state %s, want succeeded", st)
	}
	// The provider does not know it: nothing to apply, and no claim that no
	// money moved, for a status endpoint can lag behind the refund call.
	if out := expect(0, "not found", "reconcile", parked); strings.Contains(out, "no money moved") {
		t.Errorf("reconcile claims no money moved for a refund that was sent:\n%s", out)
	}
	if st := o.state(parked); st != refund.NeedsAttention {
		t.Errorf("reconcile of a refund the provider never saw moved it to %s", st)
	}

	expect(0, "poll chain is queued", "retry", parked)
	if st := o.state(parked); st != refund.Unknown {
		t.Errorf("retry: state %s, want unknown", st)
	}
	evs, err := o.store.Events(context.Background(), parked)
	testenv.Must(t, err)
	if last := evs[len(evs)-1]; last.Type != "operator_retry" || !strings.Contains(last.Detail, "operator tester") {
		t.Errorf("last event %+v, want an operator_retry by tester", last)
	}
	expect(1, "cannot retry a refund in state succeeded", "retry", sent)
	expect(1, "usage: refundq retry", "retry")
}
