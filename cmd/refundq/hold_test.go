package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
)

// refundq import --hold holds a batch under the importer's name; the same
// name cannot approve it, under --identity or $USER; another can, and its
// refunds are queued. The policy holds a batch over its row limit without
// being asked, and a refund over the amount on its own.
func TestHoldCommands(t *testing.T) {
	o := newOpsEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "big.csv")
	testenv.Must(t, os.WriteFile(file, []byte("order_id,amount\norder-000001,1.00\norder-000002,2.00\n"), 0o644))
	expect := func(code int, want string, args ...string) string {
		t.Helper()
		got, out, errOut := o.cli(args...)
		if got != code || !strings.Contains(out+errOut, want) {
			t.Fatalf("refundq %s: exit %d, want %d with %q\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, want, out, errOut)
		}
		return out
	}
	o.env["REFUNDQ_IDENTITY"] = "alice"
	expect(0, "wait for an approver other than alice", "import", "--hold", "--batch-id", "b-held", file)
	expect(0, "awaiting an approver", "batch", "b-held")
	expect(0, "held", "list", "--state", "held")
	expect(1, "alice imported or created held refunds", "batch", "b-held", "--approve")
	delete(o.env, "REFUNDQ_IDENTITY")
	o.env["USER"] = "Alice"
	expect(1, "alice imported", "batch", "b-held", "--approve")
	expect(2, "use 1-64 characters", "batch", "b-held", "--approve", "--identity", "not a name")
	expect(0, "approved by bob: 2 held refunds approved", "batch", "b-held", "--approve", "--identity", "bob")
	expect(0, "by bob at", "batch", "b-held")
	expect(1, "already approved by bob", "batch", "b-held", "--reject", "--identity", "carol")
	ids, err := o.Store.ByBatch(context.Background(), "b-held")
	testenv.Must(t, err)
	for _, id := range ids {
		if st := o.Get(id).State; st != refund.Queued {
			t.Errorf("%s after approval: %s, want queued", id, st)
		}
	}

	// The policy: more than one row holds the batch; a refund over 3.00 is held alone.
	o.env["REFUNDQ_HOLD_BATCH_ROWS"] = "1"
	o.env["REFUNDQ_IDENTITY"] = "alice"
	policy := filepath.Join(dir, "policy.csv")
	testenv.Must(t, os.WriteFile(policy, []byte("order_id,amount\norder-000003,1.00\norder-000004,2.00\n"), 0o644))
	expect(0, "held by policy: 2 rows, over the limit of 1", "import", "--batch-id", "b-policy", policy)
	o.env["REFUNDQ_HOLD_REFUND_AMOUNT"] = "3.00"
	out := expect(0, `"State":"held"`, "enqueue", "--idempotency-key", "big-1", "--order-id", "order-000005", "--amount", "3.01")
	id := strings.Split(strings.Split(out, `"RequestID":"`)[1], `"`)[0]
	expect(1, "created by the same name", "approve", id)
	expect(0, "approved by bob", "approve", id, "--identity", "bob")
	if st := o.Get(id).State; st != refund.Queued {
		t.Fatalf("approved refund: %s", st)
	}
}
