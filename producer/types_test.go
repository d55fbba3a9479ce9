package producer

import (
	"testing"

	"github.com/refundq/refundq/internal/refund"
)

// Every state a record can hold has its public constant, so a caller can
// name whatever Get or a Receipt returns.
func TestEveryStateHasAPublicConstant(t *testing.T) {
	public := map[State]bool{Queued: true, Submitting: true, Unknown: true, Processing: true,
		Succeeded: true, Failed: true, Canceled: true, NeedsAttention: true, Held: true}
	for _, st := range refund.States() {
		if !public[State(st)] {
			t.Errorf("state %q has no producer constant", st)
		}
		if State(st).Terminal() != st.Terminal() {
			t.Errorf("state %q: Terminal() is %v here and %v in the record", st, State(st).Terminal(), st.Terminal())
		}
	}
	if len(public) != len(refund.States()) {
		t.Errorf("%d public states for %d record states", len(public), len(refund.States()))
	}
}

// Validation errors come back as the producer's own type, every field
// named.
func TestValidationErrorsAreTheProducersOwn(t *testing.T) {
	err := validate(Refund{OrderID: "o-1", Amount: "-1"})
	ve, ok := err.(*ValidationError)
	if !ok {
		t.Fatalf("got %T %v, want *producer.ValidationError", err, err)
	}
	fields := map[string]bool{}
	for _, f := range ve.Fields {
		fields[f.Field] = true
	}
	if !fields["amount"] || !fields["idempotency_key"] && !fields["request_id"] {
		t.Fatalf("fields %v, want amount and the missing key", ve.Fields)
	}
}
