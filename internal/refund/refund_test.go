package refund

import (
	"slices"
	"testing"
)

// The derived id is part of the contract with every caller that relies on
// idempotency keys: it must never change between releases.
func TestDeriveRequestIDIsStable(t *testing.T) {
	got := DeriveRequestID(DefaultMerchant, "shop-1001-full")
	if got != "bc887045-bb15-5cbe-ad4f-1e2441d5dc77" {
		t.Fatalf("derived id changed: %s", got)
	}
	if DeriveRequestID("other", "shop-1001-full") == got {
		t.Fatal("merchants must not share derived ids")
	}
}

func TestParamHashIgnoresSpellingButNotMoney(t *testing.T) {
	a := Request{IdempotencyKey: "k", OrderID: "o", Amount: "10"}.Normalize()
	b := Request{IdempotencyKey: "k", OrderID: "o", Amount: "10.00"}.Normalize()
	c := Request{IdempotencyKey: "k", OrderID: "o", Amount: "10.01"}.Normalize()
	if a.ParamHash() != b.ParamHash() {
		t.Fatal("10 and 10.00 are the same refund")
	}
	if a.ParamHash() == c.ParamHash() {
		t.Fatal("10.00 and 10.01 must conflict")
	}
	if a.Amount != "10.00" || a.Merchant != DefaultMerchant || a.RequestID == "" {
		t.Fatalf("normalize: %+v", a)
	}
}

func TestTerminalStatesNeverMove(t *testing.T) {
	for _, from := range []State{Succeeded, Failed, Canceled} {
		for _, to := range States() {
			if CanTransition(from, to) {
				t.Errorf("%s → %s allowed", from, to)
			}
		}
	}
	if CanTransition(Submitting, Canceled) || CanTransition(NeedsAttention, Canceled) {
		t.Error("a refund that may have reached the provider must not be canceled")
	}
}

func TestNextIsEveryEdge(t *testing.T) {
	for _, from := range States() {
		next := Next(from)
		for _, to := range States() {
			if CanTransition(from, to) != slices.Contains(next, to) {
				t.Errorf("%s → %s: CanTransition %v, Next %v", from, to, CanTransition(from, to), next)
			}
		}
		if len(next) != len(transitions[from]) {
			t.Errorf("Next(%s) = %v, want the %d edges %v", from, next, len(transitions[from]), transitions[from])
		}
	}
}

func TestRedactURL(t *testing.T) {
	got := RedactURL("https://user:pw@example.com/hook?token=abc#frag")
	if got != "https://example.com/hook" {
		t.Fatalf("redacted %q", got)
	}
}
