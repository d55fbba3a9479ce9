package fpsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// defaultHangMax bounds a "timeout" fault when Faults.HangMax is zero, so a
// client without a deadline cannot pin a handler (and server shutdown) forever.
const defaultHangMax = 30 * time.Second

// Faults is the random fault mix applied to every Card API call. It exists to
// exercise the worker's handling of the failures a real provider produces:
// slow replies, outages, rate limiting, a status endpoint that lags or
// forgets, and above all the ambiguous cases where the refund was executed
// (or will be) but the caller never learned it.
//
// The reply-fault rates (Rate5xx, RateTimeout, Rate429, RateDrop,
// LateCommitRate, LateCommitRaceRate) are checked in that order against a
// single draw per call, so their sum should not exceed 1 (Validate reports
// it). The late-commit rates apply to refund calls; on a status call a draw
// that lands on them is no fault. StatusLagRate and ForgetRate are separate
// draws per refund call and shape the request that call records.
type Faults struct {
	// Latency (plus a uniform draw from [0, LatencyJitter)) is waited before
	// a call is handled. The wait ends early if the client gives up.
	Latency, LatencyJitter time.Duration
	// Rate5xx answers an internal error (500; in the alt dialect every
	// second one is the front proxy's 502). With CommitOnFault a refund is
	// executed first.
	Rate5xx float64
	// RateTimeout never answers: the handler hangs until the client gives up
	// or HangMax passes, then closes the connection. With CommitOnFault a
	// refund is executed first.
	RateTimeout float64
	// Rate429 answers 429 and never executes.
	Rate429 float64
	// RateDrop executes the refund, then closes the connection without a
	// reply: the classic "did it happen?" case.
	RateDrop float64
	// CommitOnFault makes Rate5xx and RateTimeout faults execute the refund
	// before failing.
	CommitOnFault bool
	// DeclineRate is the chance an accepted refund settles as request_status
	// "error" instead of "success".
	DeclineRate float64
	// Down refuses every Card API call without executing anything, like a
	// provider outage: 503 in the native dialect, the front proxy's 502 in
	// the alt one.
	Down bool
	// HangMax bounds a timeout or late-commit hang; zero means 30s.
	HangMax time.Duration

	// StatusLagRate is the share of refund calls whose request, once
	// recorded, is "not found" on request/status for a uniform random time
	// in (0, StatusLagMax] (the provider's read side lagging its write side).
	StatusLagRate float64
	StatusLagMax  time.Duration
	// LateCommitRate is the share of refund calls whose reply is lost (a
	// hang like RateTimeout) and which execute a uniform random time in
	// [LateCommitMin, LateCommitMax] after the client gave up. Until then
	// status says "not found" while the duplicate check already holds the
	// request_id, as the provider's docs promise. The business rules apply
	// at execution, so a late commit can itself end rejected.
	LateCommitRate float64
	// LateCommitRaceRate is the same, except that the duplicate check does
	// not hold the request_id until the late execution: a resend inside the
	// window is processed as new, and the late execution then pays a second
	// time. The ledger counts both executions.
	LateCommitRaceRate           float64
	LateCommitMin, LateCommitMax time.Duration
	// ForgetRate is the share of refund calls whose request status forgets
	// for good once it settles (at once, if the business rules rejected
	// it): "not found" from then on, while the duplicate check still
	// rejects the request_id and the ledger keeps its execution.
	ForgetRate float64
}

// jsonDuration is a time.Duration that travels as a Go duration string
// ("200ms"), which humans can write in a curl command. Numbers are accepted
// as nanoseconds for clients that marshal time.Duration directly.
type jsonDuration time.Duration

func (d jsonDuration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("fpsim: duration %q: %w", s, err)
		}
		*d = jsonDuration(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("fpsim: duration %s: want a string like \"200ms\" or nanoseconds: %w", b, err)
	}
	*d = jsonDuration(n)
	return nil
}

type faultsJSON struct {
	Latency            jsonDuration `json:"latency"`
	LatencyJitter      jsonDuration `json:"latency_jitter"`
	Rate5xx            float64      `json:"rate_5xx"`
	RateTimeout        float64      `json:"rate_timeout"`
	Rate429            float64      `json:"rate_429"`
	RateDrop           float64      `json:"rate_drop"`
	CommitOnFault      bool         `json:"commit_on_fault"`
	DeclineRate        float64      `json:"decline_rate"`
	Down               bool         `json:"down"`
	HangMax            jsonDuration `json:"hang_max"`
	StatusLagRate      float64      `json:"status_lag_rate"`
	StatusLagMax       jsonDuration `json:"status_lag_max"`
	LateCommitRate     float64      `json:"late_commit_rate"`
	LateCommitRaceRate float64      `json:"late_commit_race_rate"`
	LateCommitMin      jsonDuration `json:"late_commit_min"`
	LateCommitMax      jsonDuration `json:"late_commit_max"`
	ForgetRate         float64      `json:"forget_rate"`
}

func (f Faults) wire() faultsJSON {
	return faultsJSON{
		jsonDuration(f.Latency), jsonDuration(f.LatencyJitter), f.Rate5xx, f.RateTimeout, f.Rate429,
		f.RateDrop, f.CommitOnFault, f.DeclineRate, f.Down, jsonDuration(f.HangMax),
		f.StatusLagRate, jsonDuration(f.StatusLagMax), f.LateCommitRate, f.LateCommitRaceRate,
		jsonDuration(f.LateCommitMin), jsonDuration(f.LateCommitMax), f.ForgetRate,
	}
}

func (w faultsJSON) faults() Faults {
	return Faults{
		Latency: time.Duration(w.Latency), LatencyJitter: time.Duration(w.LatencyJitter),
		Rate5xx: w.Rate5xx, RateTimeout: w.RateTimeout, Rate429: w.Rate429, RateDrop: w.RateDrop,
		CommitOnFault: w.CommitOnFault, DeclineRate: w.DeclineRate, Down: w.Down, HangMax: time.Duration(w.HangMax),
		StatusLagRate: w.StatusLagRate, StatusLagMax: time.Duration(w.StatusLagMax),
		LateCommitRate: w.LateCommitRate, LateCommitRaceRate: w.LateCommitRaceRate,
		LateCommitMin: time.Duration(w.LateCommitMin), LateCommitMax: time.Duration(w.LateCommitMax),
		ForgetRate: w.ForgetRate,
	}
}

// MarshalJSON writes snake_case keys and durations as Go duration strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(f.wire())
}

// UnmarshalJSON is the inverse of MarshalJSON. Keys absent from the input
// keep the receiver's current values, as with any Go struct; unknown keys
// are an error.
func (f *Faults) UnmarshalJSON(b []byte) error {
	w := f.wire()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // "rate_5xxx" must fail loudly, not silently do nothing
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("fpsim: faults: %w", err)
	}
	*f = w.faults()
	return nil
}

// replyRates are the rates that share one draw per call, in draw order.
func (f Faults) replyRates() [6]float64 {
	return [6]float64{f.Rate5xx, f.RateTimeout, f.Rate429, f.RateDrop, f.LateCommitRate, f.LateCommitRaceRate}
}

// Validate reports settings that cannot mean what the caller intended:
// negative durations, rates outside [0,1], reply-fault rates summing above
// 1, a late-commit window that ends before it starts, or a status lag rate
// without a maximum lag.
func (f Faults) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"latency", f.Latency}, {"latency_jitter", f.LatencyJitter}, {"hang_max", f.HangMax},
		{"status_lag_max", f.StatusLagMax}, {"late_commit_min", f.LateCommitMin}, {"late_commit_max", f.LateCommitMax}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %s is negative", d.name, d.v))
		}
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"rate_5xx", f.Rate5xx}, {"rate_timeout", f.RateTimeout}, {"rate_429", f.Rate429}, {"rate_drop", f.RateDrop},
		{"decline_rate", f.DeclineRate}, {"status_lag_rate", f.StatusLagRate}, {"late_commit_rate", f.LateCommitRate},
		{"late_commit_race_rate", f.LateCommitRaceRate}, {"forget_rate", f.ForgetRate}} {
		if !(r.v >= 0 && r.v <= 1) { // also catches NaN
			errs = append(errs, fmt.Errorf("%s %v is outside [0,1]", r.name, r.v))
		}
	}
	sum := 0.0
	for _, r := range f.replyRates() {
		sum += r
	}
	if sum > 1 {
		errs = append(errs, fmt.Errorf("reply fault rates (5xx, timeout, 429, drop, late_commit, late_commit_race) sum to %v, more than 1", sum))
	}
	if f.LateCommitMin > f.LateCommitMax {
		errs = append(errs, fmt.Errorf("late_commit_min %s is after late_commit_max %s", f.LateCommitMin, f.LateCommitMax))
	}
	if f.StatusLagRate > 0 && f.StatusLagMax <= 0 {
		errs = append(errs, fmt.Errorf("status_lag_rate %v needs a positive status_lag_max", f.StatusLagRate))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("fpsim: invalid faults: %w", err)
	}
	return nil
}

// fault is one injected failure of a call's reply. The names are the ones
// Script and POST /sim/script accept, the fault label of
// fpsim_faults_total and the tags of LedgerRequest.Faults.
type fault string

const (
	faultNone          fault = ""
	fault5xx           fault = "5xx"
	fault5xxCommit     fault = "5xx_commit"
	faultTimeout       fault = "timeout"
	faultTimeoutCommit fault = "timeout_commit"
	fault429           fault = "429"
	faultDrop          fault = "drop"
	faultDown          fault = "down"
	faultLate          fault = "late_commit"
	faultLateRace      fault = "late_commit_race"
	// The two request faults: they shape the request a refund call
	// records, not the call's reply.
	faultStatusLag fault = "status_lag"
	faultForget    fault = "forget"
)

// commits reports whether the fault executes the call before failing it.
func (f fault) commits() bool {
	return f == fault5xxCommit || f == faultTimeoutCommit || f == faultDrop
}

// late reports whether the fault defers the execution past the reply.
func (f fault) late() bool { return f == faultLate || f == faultLateRace }

// plan is what happens to one call: its reply fault and, for a refund,
// how the request it records behaves later.
type plan struct {
	fault fault
	// delay is how long after the client gave up a late commit executes.
	delay time.Duration
	// lag keeps the recorded request "not found" on status this long.
	lag time.Duration
	// forget makes status deny the request for good once it settles.
	forget bool
}

// nextPlan picks the plan for one call: a scripted one for this endpoint
// and request_id first, otherwise seeded random draws. Draws depend only on
// the order of calls, never on the dialect.
func (s *Sim) nextPlan(path, requestID string) plan {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.popScript(path, requestID); ok {
		return p
	}
	p := plan{fault: s.drawFaultLocked(path)}
	if path == PathRefund {
		s.drawRequestLocked(&p)
	}
	return p
}

// drawFaultLocked draws the reply fault against one uniform number.
func (s *Sim) drawFaultLocked(path string) fault {
	f := s.faults
	rates := f.replyRates()
	if rates == [6]float64{} {
		return faultNone // no draw, so the seeded sequence only moves when faults are on
	}
	kinds := [6]fault{fault5xx, faultTimeout, fault429, faultDrop, faultLate, faultLateRace}
	if f.CommitOnFault {
		kinds[0], kinds[1] = fault5xxCommit, faultTimeoutCommit
	}
	x, acc := s.rng.Float64(), 0.0
	for i, r := range rates {
		if acc += r; x < acc {
			if kinds[i].late() && path != PathRefund {
				return faultNone
			}
			return kinds[i]
		}
	}
	return faultNone
}

// drawRequestLocked draws the late-commit delay and the request faults of a
// refund call. Each draw happens only when its rate is on, so turning a new
// fault off leaves the seeded sequence of the others as it was.
func (s *Sim) drawRequestLocked(p *plan) {
	f := s.faults
	if p.fault.late() {
		p.delay = f.LateCommitMin
		if span := f.LateCommitMax - f.LateCommitMin; span > 0 {
			p.delay += time.Duration(s.rng.Int64N(int64(span) + 1))
		}
	}
	if f.StatusLagRate > 0 && f.StatusLagMax > 0 && s.rng.Float64() < f.StatusLagRate {
		p.lag = time.Duration(s.rng.Int64N(int64(f.StatusLagMax))) + 1
	}
	if f.ForgetRate > 0 && s.rng.Float64() < f.ForgetRate {
		p.forget = true
	}
}

// latency waits the configured latency plus jitter, or until ctx ends.
func (s *Sim) latency(ctx context.Context) error {
	s.mu.Lock()
	d := s.faults.Latency
	if j := s.faults.LatencyJitter; j > 0 {
		d += time.Duration(s.rng.Int64N(int64(j)))
	}
	s.mu.Unlock()
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("fpsim: client gave up during latency: %w", ctx.Err())
	}
}

// hang blocks for a timeout fault: until the client gives up or HangMax.
func (s *Sim) hang(ctx context.Context) {
	s.mu.Lock()
	d := s.faults.HangMax
	s.mu.Unlock()
	if d <= 0 {
		d = defaultHangMax
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// abort closes the connection without writing a reply, so the client sees
// a reset/EOF after its request went out. Hijacking gives a clean close on
// HTTP/1; where the writer cannot be hijacked (HTTP/2, wrappers) the
// net/http abort panic does the same job.
func abort(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	_ = conn.Close()
}
