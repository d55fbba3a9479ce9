package lifecycle

import (
	"fmt"
	"time"

	"github.com/refundq/refundq/internal/refund"
)

// PastDeadline reports whether rec has stayed unsettled longer than
// deadline since its first send, or since the last operator retry. A
// refund never sent has no deadline: a backlog or a provider outage before
// the first send is not something the provider can answer for; a refund
// the provider answered but would not take (429) has been sent. Callers
// apply it only under the refund's lock, so it never cuts in on a run that
// is talking to the provider.
func PastDeadline(rec *refund.Record, now time.Time, deadline time.Duration) (string, bool) {
	// A queued refund with a first send is one the provider keeps refusing
	// to take (429): it has a deadline too.
	if rec.State.Settled() || rec.State == refund.Queued && rec.FirstSentAt.IsZero() {
		return "", false
	}
	since, what := rec.FirstSentAt, "its first send"
	if since.IsZero() {
		since = rec.CreatedAt // written before sends were recorded
	}
	if rec.ResumedAt.After(since) {
		since, what = rec.ResumedAt, "the last operator retry"
	}
	if now.Sub(since) < deadline {
		return "", false
	}
	return fmt.Sprintf("not settled %s after %s (last request_status %q)", deadline, what, rec.RequestStatus), true
}
