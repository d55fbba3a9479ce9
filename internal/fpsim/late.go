package fpsim

import "time"

// A late commit is a refund call whose reply is lost and which the
// provider executes some time after the client gave up: the reply was
// waiting on a slow write that finished anyway. It is the case that makes
// "status says not found" weak evidence that a request never arrived.

// holdLate registers a late-commit call before its hang. The plain variant
// holds the request_id in the duplicate check at once, as the provider's
// docs promise; the race variant does not, so a resend meanwhile is
// processed as new. It returns nil when the call was itself a duplicate
// (its rejection is what got lost).
func (s *Sim) holdLate(authID string, in refundCall, p plan) *lateCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked(s.now())
	r := s.book.request(merchantKey{authID, in.RequestID})
	r.submissions++
	if r.held {
		return nil
	}
	race := p.fault == faultLateRace
	r.held = !race
	r.tag(p.fault)
	lc := &lateCall{req: r, call: in, plan: p, race: race}
	r.late = append(r.late, lc)
	return lc
}

// scheduleLate starts the late commit's delay: the client has just given
// up (or the hang hit HangMax and the connection is about to close).
func (s *Sim) scheduleLate(lc *lateCall) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.book.schedule(s.now().Add(lc.plan.delay), event{late: lc})
}

// runLateLocked executes a late commit at its moment, under the business
// rules of that moment. If nothing recorded the request before, this is
// its first processing; otherwise a resend got through the race window and
// this is a second execution (or a rejection, if the balance no longer
// allows it).
func (s *Sim) runLateLocked(lc *lateCall, at time.Time) {
	r := lc.req
	for i, l := range r.late {
		if l == lc {
			r.late = append(r.late[:i], r.late[i+1:]...)
			break
		}
	}
	if !r.recorded {
		s.recordLocked(r, lc.call, at, lc.plan)
		if len(r.execs) == 0 {
			r.lateRejected++
		}
		return
	}
	if _, _, _, e := s.executeLocked(r, lc.call, at); e == nil {
		r.lateRejected++
	}
}
