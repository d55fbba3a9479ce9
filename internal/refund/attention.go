package refund

import "strings"

// Attention names why a refund is in needs_attention. Each one has advice
// for the operator (Advice), the same words the CLI, the API and
// docs/runbook.md give.
type Attention string

const (
	// AttentionDeadline: not settled within the deadline after its first
	// send (or the last operator retry).
	AttentionDeadline Attention = "deadline"
	// AttentionNoCredential: the refund names a merchant this deployment has
	// no credential for.
	AttentionNoCredential Attention = "no_credential"
	// AttentionCredentialRejected: the provider refused the credential or
	// the signature.
	AttentionCredentialRejected Attention = "credential_rejected"
	// AttentionProviderConfig: the provider URL is wrong: a route that does
	// not exist, or a redirect.
	AttentionProviderConfig Attention = "provider_config"
	// AttentionForgotten: the provider acknowledged the request, then its
	// status endpoint stopped knowing it for a whole settle window.
	AttentionForgotten Attention = "forgotten"
	// AttentionDoubtedRejection: a later attempt was rejected after an
	// earlier attempt's outcome was never learned, and request status did
	// not show a success.
	AttentionDoubtedRejection Attention = "rejected_after_ambiguous"
	// AttentionBudget: the failure budget was spent on attempts that never
	// reached the provider.
	AttentionBudget Attention = "budget_spent"
	// AttentionBadAmount: the stored amount does not parse; nothing was sent.
	AttentionBadAmount Attention = "bad_amount"
	// AttentionUnknownReplies: the provider kept answering in a way the
	// provider profile does not know.
	AttentionUnknownReplies Attention = "unknown_replies"
)

// attentionAdvice is what an operator does about each reason. Keep it in
// step with docs/runbook.md ("Needs attention, reason by reason"); a test
// holds the two together.
var attentionAdvice = map[Attention]string{
	AttentionDeadline: "The provider never gave a final answer in time. Run `refundq reconcile ID`: a final answer settles it; " +
		"`process` resumes polling. If status is still unavailable or not found, ask Freedom Pay about the request_id before anything else.",
	AttentionNoCredential: "Add the merchant's credential (REFUNDQ_MERCHANTS_FILE) and restart the workers, then `refundq retry ID`. " +
		"Nothing was sent for this merchant.",
	AttentionCredentialRejected: "Fix the merchant's auth_id or secret and restart the workers, then `refundq retry ID`. " +
		"The provider refused the signature, so it did not act on that call.",
	AttentionProviderConfig: "Fix --provider-url / --provider-env (the provider answered with a redirect or a route that does not exist), " +
		"restart the workers, then `refundq retry ID`.",
	AttentionForgotten: "The provider acknowledged this request_id, so money may have moved, but its status endpoint no longer finds it. " +
		"It will never be resent automatically. Ask Freedom Pay for the outcome of the request_id; `refundq reconcile ID` settles it once status answers.",
	AttentionDoubtedRejection: "An earlier attempt's outcome was never learned and a later attempt was rejected, so the first one may have paid. " +
		"Check the transaction with Freedom Pay before issuing anything again; `refundq reconcile ID` settles it if status shows the outcome.",
	AttentionBudget: "Every attempt failed before reaching the provider (network, TLS, DNS). Fix connectivity, then `refundq retry ID`.",
	AttentionBadAmount: "The stored amount does not parse, so nothing was sent for it. Find how the record was altered, then enqueue a corrected " +
		"refund under a new idempotency key; this one stays as the record of what happened.",
	AttentionUnknownReplies: "The provider keeps answering in a vocabulary the provider profile does not know (the raw reply is on the event log). " +
		"Add the reply to the profile (docs/provider.md, going live), restart the workers, then `refundq reconcile ID`.",
}

// Attentions lists every reason, for docs and tests.
func Attentions() []Attention {
	return []Attention{AttentionDeadline, AttentionNoCredential, AttentionCredentialRejected, AttentionProviderConfig,
		AttentionForgotten, AttentionDoubtedRejection, AttentionBudget, AttentionBadAmount, AttentionUnknownReplies}
}

// Advice says what an operator does about a refund parked for reason a.
func (a Attention) Advice() string {
	if s, ok := attentionAdvice[a]; ok {
		return s
	}
	return "Read the refund's event log (`refundq status ID`) and reconcile it with `refundq reconcile ID`."
}

// AdviceFor is Advice with the refund's request_id in its commands, as the
// CLI and the console print it.
func (a Attention) AdviceFor(requestID string) string {
	return strings.ReplaceAll(a.Advice(), " ID`", " "+requestID+"`")
}
