package fpsim

import (
	"fmt"
	"strings"
	"time"
)

// scriptKey identifies the calls a scripted plan is waiting for. It holds
// no auth_id: a script is for a request_id whichever merchant sends it.
type scriptKey struct{ path, requestID string }

// Script queues one-shot plans for the next calls of endpoint ("refund",
// "status" or the full Card API path) carrying requestID, one entry per
// call in order. A scripted call draws nothing at random: it is exactly
// what its entry says.
//
// An entry is a reply fault, request faults, or both joined by "+" (for
// example "timeout_commit+status_lag=30s"):
//   - reply faults: "5xx", "5xx_commit", "timeout", "timeout_commit",
//     "429", "drop" (execute, then close without a reply), "down",
//     and for refund calls "late_commit=D" (lose the reply, execute D after
//     the client gave up, duplicate check holding meanwhile) and
//     "late_commit_race=D" (the same, but the duplicate check does not hold
//     until then);
//   - request faults, for refund calls: "status_lag=D" (status says "not
//     found" for D after the request is recorded) and "forget" (status
//     forgets it for good once it settles).
//
// An empty entry ("" or "none") is a call with no fault. An unknown
// endpoint or entry is a programming error and panics; POST /sim/script
// reports it as 400 instead.
func (s *Sim) Script(endpoint, requestID string, faults ...string) {
	path, ps, err := parseScript(endpoint, faults)
	if err != nil {
		panic(fmt.Sprintf("fpsim.Script: %v", err))
	}
	s.script(path, requestID, ps)
}

func (s *Sim) script(path, requestID string, ps []plan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := scriptKey{path, requestID}
	s.scripts[key] = append(s.scripts[key], ps...)
}

// popScript takes the next scripted plan for a call; s.mu must be held.
func (s *Sim) popScript(path, requestID string) (plan, bool) {
	key := scriptKey{path, requestID}
	q := s.scripts[key]
	if len(q) == 0 {
		return plan{}, false
	}
	if len(q) == 1 {
		delete(s.scripts, key)
	} else {
		s.scripts[key] = q[1:]
	}
	return q[0], true
}

// parseScript validates a Script call; it is shared by Script and the admin
// endpoint so a bad name over HTTP is a 400, not a panic.
func parseScript(endpoint string, entries []string) (string, []plan, error) {
	path, err := endpointPath(endpoint)
	if err != nil {
		return "", nil, err
	}
	out := make([]plan, 0, len(entries))
	for _, e := range entries {
		p, err := parseEntry(path, e)
		if err != nil {
			return "", nil, fmt.Errorf("fpsim: script entry %q: %w", e, err)
		}
		out = append(out, p)
	}
	return path, out, nil
}

const scriptNames = "5xx, 5xx_commit, timeout, timeout_commit, 429, drop, down, late_commit=D, late_commit_race=D, status_lag=D or forget"

func parseEntry(path, entry string) (plan, error) {
	var p plan
	entry = strings.ToLower(strings.TrimSpace(entry))
	if entry == "" || entry == "none" {
		return p, nil
	}
	for _, tok := range strings.Split(entry, "+") {
		name, arg, hasArg := strings.Cut(strings.TrimSpace(tok), "=")
		f := fault(name)
		switch f {
		case fault5xx, fault5xxCommit, faultTimeout, faultTimeoutCommit, fault429, faultDrop, faultDown, faultLate, faultLateRace:
			if p.fault != faultNone {
				return plan{}, fmt.Errorf("two reply faults, %s and %s", p.fault, f)
			}
			p.fault = f
		case faultStatusLag, faultForget:
		default:
			return plan{}, fmt.Errorf("unknown fault %q (want %s)", name, scriptNames)
		}
		refundOnly := f.late() || f == faultStatusLag || f == faultForget
		if refundOnly && path != PathRefund {
			return plan{}, fmt.Errorf("%s applies to refund calls only", f)
		}
		wantsArg := f.late() || f == faultStatusLag
		switch {
		case wantsArg && !hasArg:
			return plan{}, fmt.Errorf("%s needs a duration, as in %s=3s", f, f)
		case !wantsArg && hasArg:
			return plan{}, fmt.Errorf("%s takes no argument", f)
		case !wantsArg:
			p.forget = p.forget || f == faultForget
			continue
		}
		d, err := time.ParseDuration(arg)
		if err != nil || d < 0 || (f == faultStatusLag && d == 0) {
			return plan{}, fmt.Errorf("%s: want a duration such as 3s (status_lag: above zero), got %q", f, arg)
		}
		if f == faultStatusLag {
			p.lag = d
		} else {
			p.delay = d
		}
	}
	return p, nil
}

// endpointPath maps "refund"/"status" (or the full path) to the Card API path.
func endpointPath(endpoint string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(endpoint)) {
	case "refund", PathRefund:
		return PathRefund, nil
	case "status", PathStatus:
		return PathStatus, nil
	}
	return "", fmt.Errorf("fpsim: unknown endpoint %q (want refund, status or a Card API path)", endpoint)
}
