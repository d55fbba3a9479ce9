package fpsim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/refundq/refundq/internal/freedompay"
)

// defaultHangMax bounds a "timeout" fault when Faults.HangMax is zero, so a
// client without a deadline cannot pin a handler (and server shutdown) forever.
const defaultHangMax = 30 * time.Second

// Faults is the random fault mix applied to every Card API call. It exists to
// exercise the worker's handling of the failures a real provider produces:
// slow replies, outages, rate limiting and, above all, the ambiguous cases
// where the refund was executed but the caller never learned it.
//
// The four rates are probabilities checked in the order 5xx, timeout, 429,
// drop against a single draw, so their sum should not exceed 1 (Validate
// reports it; if it does, later faults simply get less than their rate).
type Faults struct {
	// Latency (plus a uniform draw from [0, LatencyJitter)) is waited before
	// a call is handled. The wait ends early if the client gives up.
	Latency, LatencyJitter time.Duration
	// Rate5xx answers 500. With CommitOnFault a refund is executed first.
	Rate5xx float64
	// RateTimeout never answers: the handler hangs until the client gives up
	// or HangMax passes, then closes the connection. With CommitOnFault a
	// refund is executed first.
	RateTimeout float64
	// Rate429 answers 429 RATE_LIMITED and never executes.
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
	// Down answers 503 on every Card API call without executing anything,
	// like a provider outage.
	Down bool
	// HangMax bounds a timeout fault; zero means 30s.
	HangMax time.Duration
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
	Latency       jsonDuration `json:"latency"`
	LatencyJitter jsonDuration `json:"latency_jitter"`
	Rate5xx       float64      `json:"rate_5xx"`
	RateTimeout   float64      `json:"rate_timeout"`
	Rate429       float64      `json:"rate_429"`
	RateDrop      float64      `json:"rate_drop"`
	CommitOnFault bool         `json:"commit_on_fault"`
	DeclineRate   float64      `json:"decline_rate"`
	Down          bool         `json:"down"`
	HangMax       jsonDuration `json:"hang_max"`
}

// MarshalJSON writes snake_case keys and durations as Go duration strings.
func (f Faults) MarshalJSON() ([]byte, error) {
	return json.Marshal(faultsJSON{
		jsonDuration(f.Latency), jsonDuration(f.LatencyJitter), f.Rate5xx, f.RateTimeout, f.Rate429,
		f.RateDrop, f.CommitOnFault, f.DeclineRate, f.Down, jsonDuration(f.HangMax),
	})
}

// UnmarshalJSON is the inverse of MarshalJSON. Keys absent from the input
// keep the receiver's current values, as with any Go struct; unknown keys
// are an error.
func (f *Faults) UnmarshalJSON(b []byte) error {
	w := faultsJSON{
		jsonDuration(f.Latency), jsonDuration(f.LatencyJitter), f.Rate5xx, f.RateTimeout, f.Rate429,
		f.RateDrop, f.CommitOnFault, f.DeclineRate, f.Down, jsonDuration(f.HangMax),
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // "rate_5xxx" must fail loudly, not silently do nothing
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("fpsim: faults: %w", err)
	}
	*f = Faults{
		Latency: time.Duration(w.Latency), LatencyJitter: time.Duration(w.LatencyJitter),
		Rate5xx: w.Rate5xx, RateTimeout: w.RateTimeout, Rate429: w.Rate429, RateDrop: w.RateDrop,
		CommitOnFault: w.CommitOnFault, DeclineRate: w.DeclineRate, Down: w.Down, HangMax: time.Duration(w.HangMax),
	}
	return nil
}

// Validate reports settings that cannot mean what the caller intended:
// negative durations, rates outside [0,1], or fault rates summing above 1.
func (f Faults) Validate() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"latency", f.Latency}, {"latency_jitter", f.LatencyJitter}, {"hang_max", f.HangMax}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %s is negative", d.name, d.v))
		}
	}
	for _, r := range []struct {
		name string
		v    float64
	}{{"rate_5xx", f.Rate5xx}, {"rate_timeout", f.RateTimeout}, {"rate_429", f.Rate429}, {"rate_drop", f.RateDrop}, {"decline_rate", f.DeclineRate}} {
		if !(r.v >= 0 && r.v <= 1) { // also catches NaN
			errs = append(errs, fmt.Errorf("%s %v is outside [0,1]", r.name, r.v))
		}
	}
	if sum := f.Rate5xx + f.RateTimeout + f.Rate429 + f.RateDrop; sum > 1 {
		errs = append(errs, fmt.Errorf("fault rates sum to %v, more than 1", sum))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("fpsim: invalid faults: %w", err)
	}
	return nil
}

// fault is one injected failure. The names are the ones Script and
// POST /sim/script accept.
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
)

// commits reports whether the fault executes the call before failing it.
func (f fault) commits() bool {
	return f == fault5xxCommit || f == faultTimeoutCommit || f == faultDrop
}

func parseFault(name string) (fault, error) {
	switch f := fault(strings.ToLower(strings.TrimSpace(name))); f {
	case fault5xx, fault5xxCommit, faultTimeout, faultTimeoutCommit, fault429, faultDrop, faultDown:
		return f, nil
	}
	return faultNone, fmt.Errorf("fpsim: unknown fault %q (want 5xx, 5xx_commit, timeout, timeout_commit, 429, drop or down)", name)
}

// scriptKey identifies the calls a scripted fault is waiting for.
type scriptKey struct{ path, requestID string }

// parseScript validates a Script call; it is shared by Script and the admin
// endpoint so a bad name over HTTP is a 400, not a panic.
func parseScript(endpoint string, names []string) (string, []fault, error) {
	path, err := endpointPath(endpoint)
	if err != nil {
		return "", nil, err
	}
	out := make([]fault, 0, len(names))
	for _, n := range names {
		f, err := parseFault(n)
		if err != nil {
			return "", nil, err
		}
		out = append(out, f)
	}
	return path, out, nil
}

// endpointPath maps "refund"/"status" (or the full path) to the Card API path.
func endpointPath(endpoint string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(endpoint)) {
	case "refund", freedompay.PathRefund:
		return freedompay.PathRefund, nil
	case "status", freedompay.PathStatus:
		return freedompay.PathStatus, nil
	}
	return "", fmt.Errorf("fpsim: unknown endpoint %q (want refund, status or a Card API path)", endpoint)
}

// nextFault picks the fault for one call: a scripted one for this
// endpoint and request_id first, otherwise a seeded random draw.
func (s *Sim) nextFault(path, requestID string) fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := scriptKey{path, requestID}
	if q := s.scripts[key]; len(q) > 0 {
		if len(q) == 1 {
			delete(s.scripts, key)
		} else {
			s.scripts[key] = q[1:]
		}
		return q[0]
	}
	f := s.faults
	if f.Rate5xx <= 0 && f.RateTimeout <= 0 && f.Rate429 <= 0 && f.RateDrop <= 0 {
		return faultNone // no draw, so the seeded sequence only moves when faults are on
	}
	x := s.rng.Float64()
	switch {
	case x < f.Rate5xx:
		if f.CommitOnFault {
			return fault5xxCommit
		}
		return fault5xx
	case x < f.Rate5xx+f.RateTimeout:
		if f.CommitOnFault {
			return faultTimeoutCommit
		}
		return faultTimeout
	case x < f.Rate5xx+f.RateTimeout+f.Rate429:
		return fault429
	case x < f.Rate5xx+f.RateTimeout+f.Rate429+f.RateDrop:
		return faultDrop
	}
	return faultNone
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
