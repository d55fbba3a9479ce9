package refund

import "fmt"

// State is where a refund is in its life. See docs/design.md for the graph.
type State string

const (
	Queued         State = "queued"
	Submitting     State = "submitting" // recorded before the provider call
	Unknown        State = "unknown"    // the call's outcome is not known yet
	Processing     State = "processing" // the provider has it; polling
	Succeeded      State = "succeeded"
	Failed         State = "failed"
	Canceled       State = "canceled"
	NeedsAttention State = "needs_attention"
	// Held waits for an approver (maker-checker): it is accepted and
	// durable but has no task, so nothing can send it until it is
	// approved (to queued) or rejected (to canceled).
	Held State = "held"
)

// States lists every state, for metrics and listings. It returns a new
// slice each time, so no caller can change another's list.
func States() []State {
	return []State{Held, Queued, Submitting, Unknown, Processing, Succeeded, Failed, Canceled, NeedsAttention}
}

// Pending lists the states a worker is still driving. Held is not one: a
// held refund waits for a person, visibly, and no worker or sweep moves it.
func Pending() []State { return []State{Queued, Submitting, Unknown, Processing} }

// Unsettled lists the states whose records never expire: the pending ones,
// held and needs_attention.
func Unsettled() []State { return append([]State{Held}, append(Pending(), NeedsAttention)...) }

// Terminal reports whether nothing more will happen without an operator.
func (s State) Terminal() bool { return s == Succeeded || s == Failed || s == Canceled }

// Settled is Terminal or needs_attention: the worker is done with it.
func (s State) Settled() bool { return s.Terminal() || s == NeedsAttention }

// transitions is the whole state graph. Anything absent is refused, which is
// what keeps two racing workers from, say, moving a succeeded refund back.
var transitions = map[State][]State{
	// A held refund was never sent: approval queues it, rejection
	// cancels it, and nothing else may move it.
	Held: {Queued, Canceled},
	// Queued goes to unknown only when a worker finds, after its call, that
	// Redis lost the write that said it was sending.
	Queued: {Submitting, Unknown, Canceled, NeedsAttention},
	// Submitting goes back to queued only when the call provably reached
	// nobody and no earlier attempt may have.
	Submitting: {Queued, Submitting, Processing, Unknown, Succeeded, Failed, NeedsAttention},
	Unknown:    {Submitting, Processing, Unknown, Succeeded, Failed, NeedsAttention},
	Processing: {Processing, Succeeded, Failed, NeedsAttention},
	// An operator may send a needs_attention refund back to reconcile or
	// poll, or back to queued when it was never sent. It cannot be
	// canceled: the provider may have executed it.
	NeedsAttention: {Queued, Unknown, Processing, Succeeded, Failed},
}

// CanTransition reports whether from → to is an edge of the state graph.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Next lists the states s may move to, in the order of States (none for a
// terminal state), for the random walks that test everything that follows
// a refund through the graph. It returns a new slice each time.
func Next(s State) []State {
	var next []State
	for _, to := range States() {
		if CanTransition(s, to) {
			next = append(next, to)
		}
	}
	return next
}

// TransitionError is returned when a refund is not in a state that allows
// the requested move.
type TransitionError struct {
	From, To State
}

func (e *TransitionError) Error() string {
	return fmt.Sprintf("refund: cannot move from %s to %s", e.From, e.To)
}
