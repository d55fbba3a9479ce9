package fpsim

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestScriptedDropCommitsThenDrops(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Script("refund", rid("drop-1"), "drop")
	f.refund("drop-1", "txn-1", "40.00").wantNoReply(t)
	if r := f.wantLedger("drop-1", RequestProcess, 1); r.Submissions != 1 || !reflect.DeepEqual(r.Faults, []string{"drop"}) {
		t.Fatalf("ledger = %+v, want the dropped refund executed once and tagged", r)
	}
	// The worker's recovery: resubmitting is a harmless duplicate; status
	// tells the truth.
	f.refund("drop-1", "txn-1", "40.00").wantError(t, http.StatusOK, "DUPLICATE_REQUEST_ID")
	f.wantStatus("drop-1", RequestProcess)
	f.clock.Advance(testDelay)
	f.wantStatus("drop-1", RequestSuccess)
	if r := f.wantLedger("drop-1", RequestSuccess, 1); r.Submissions != 2 {
		t.Fatalf("ledger = %+v", r)
	}
	f.wantTotals("txn-1", "40.00", "0")
	f.wantClean()
}

func TestScripted5xx(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Script(PathRefund, rid("c"), "5xx_commit")
	f.refund("c", "txn-1", "10").wantError(t, http.StatusInternalServerError, "INTERNAL_ERROR")
	f.wantLedger("c", RequestProcess, 1)
	f.wantStatus("c", RequestProcess)

	f.sim.Script("refund", rid("n"), "5xx")
	f.refund("n", "txn-1", "10").wantError(t, http.StatusInternalServerError, "INTERNAL_ERROR")
	if _, ok := f.ledgerRequest("n"); ok {
		t.Fatal("plain 5xx recorded the request")
	}
	f.wantNotFound("n")
	// The script was one-shot: the same id now goes through.
	f.mustRefund("n", "txn-1", "10")
}

func TestScriptQueuesFaultsInOrderPerEndpoint(t *testing.T) {
	f := newFixture(t, nil)
	f.mustRefund("q", "txn-1", "1")
	f.sim.Script("status", rid("q"), "429", "", "5xx")
	f.status("q").wantError(t, http.StatusTooManyRequests, "RATE_LIMITED")
	f.wantStatus("q", RequestProcess) // the empty entry: a call without fault
	f.status("q").wantError(t, http.StatusInternalServerError, "INTERNAL_ERROR")
	f.wantStatus("q", RequestProcess)
}

func TestRateLimited(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Script("refund", rid("rl"), "429")
	f.refund("rl", "txn-1", "10").wantError(t, http.StatusTooManyRequests, "RATE_LIMITED")
	if _, ok := f.ledgerRequest("rl"); ok {
		t.Fatal("429 recorded the request")
	}
	f.mustRefund("rl", "txn-1", "10") // never executed, so the id is still fresh

	f.sim.SetFaults(Faults{Rate429: 1})
	f.refund("rl2", "txn-1", "10").wantError(t, http.StatusTooManyRequests, "RATE_LIMITED")
}

func TestTimeoutWithClientDeadline(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Faults.HangMax = 5 * time.Second })
	timed := func(name string) reply {
		return f.do(request{path: PathRefund, body: refundJSON(name, "txn-1", "10"), timeout: 150 * time.Millisecond})
	}
	f.sim.Script("refund", rid("to"), "timeout")
	start := time.Now()
	timed("to").wantNoReply(t)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("timeout took %s: the client deadline should end it", d)
	}
	if _, ok := f.ledgerRequest("to"); ok {
		t.Fatal("plain timeout executed the refund")
	}
	f.sim.Script("refund", rid("toc"), "timeout_commit")
	timed("toc").wantNoReply(t)
	f.wantLedger("toc", RequestProcess, 1)
}

func TestTimeoutEndsAtHangMax(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Faults = Faults{RateTimeout: 1, HangMax: 50 * time.Millisecond} })
	f.refund("hm", "txn-1", "1").wantNoReply(t) // the client allows 10s
}

func TestDownAnswers503WithoutExecuting(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Faults.Down = true })
	f.refund("down", "txn-1", "").wantError(t, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	f.status("down").wantError(t, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
	if l := f.sim.Ledger(); len(l.Requests) != 0 {
		t.Fatalf("outage recorded requests: %+v", l.Requests)
	}
	f.sim.SetFaults(Faults{})
	f.mustRefund("down", "txn-1", "")

	f.sim.Script("refund", rid("down2"), "down")
	f.refund("down2", "txn-1", "").wantError(t, http.StatusServiceUnavailable, "SERVICE_UNAVAILABLE")
}

func TestRandomDropWithCommit(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Faults.RateDrop = 1 })
	f.refund("rd", "txn-1", "5").wantNoReply(t)
	f.sim.SetFaults(Faults{})
	f.wantStatus("rd", RequestProcess)
	f.wantLedger("rd", RequestProcess, 1)
}

func TestLatencyHonoursClientDeadline(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Faults.Latency = 30 * time.Millisecond })
	start := time.Now()
	f.mustRefund("lat", "txn-1", "1")
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Fatalf("reply after %s, want at least the 30ms latency", d)
	}
	f.sim.SetFaults(Faults{Latency: 10 * time.Second})
	f.do(request{path: PathRefund, body: refundJSON("lat2", "txn-1", ""), timeout: 50 * time.Millisecond}).wantNoReply(t)
	if _, ok := f.ledgerRequest("lat2"); ok {
		t.Fatal("a call abandoned during latency was executed")
	}
}

// The status lag: a recorded request is "not found" (exactly the reply of
// a request_id never sent) until its lag ends, then tells the truth.
func TestStatusLag(t *testing.T) {
	eachSource(t, "lag", []faultSource{
		{name: "scripted", script: "status_lag=5s", max: 5 * time.Second},
		{name: "scripted with timeout_commit", script: "timeout_commit+status_lag=30s", max: 30 * time.Second},
		{name: "by rate", faults: Faults{StatusLagRate: 1, StatusLagMax: 10 * time.Second}, max: 10 * time.Second},
	}, func(t *testing.T, f *fixture, src faultSource) {
		start := f.clock.Now()
		f.refund("lag", "txn-1", "10")
		f.wantNotFound("lag")
		lr := f.wantLedger("lag", RequestProcess, 1) // executed all along
		if !slices.Contains(lr.Faults, "status_lag") || lr.VisibleAt.IsZero() || lr.VisibleAt.After(start.Add(src.max)) || !lr.VisibleAt.After(start) {
			t.Fatalf("ledger = %+v, want status_lag ending in (start, start+%s]", lr, src.max)
		}
		f.refund("lag", "txn-1", "10").wantError(t, http.StatusOK, "DUPLICATE_REQUEST_ID")
		f.clock.Advance(lr.VisibleAt.Sub(start) - time.Nanosecond)
		f.wantNotFound("lag")
		f.clock.Advance(time.Nanosecond)
		want := RequestProcess
		if lr.VisibleAt.Sub(start) >= testDelay {
			want = RequestSuccess
		}
		f.wantStatus("lag", want)
		f.wantClean()
	})
}

// A late commit: the reply is lost, the duplicate check holds the
// request_id at once, and the refund executes D after the client gave up.
func TestLateCommit(t *testing.T) {
	eachSource(t, "late", []faultSource{
		{name: "scripted", script: "late_commit=3s", min: 3 * time.Second, max: 3 * time.Second},
		{name: "by rate", faults: Faults{LateCommitRate: 1, LateCommitMin: time.Second, LateCommitMax: 20 * time.Second},
			min: time.Second, max: 20 * time.Second},
	}, func(t *testing.T, f *fixture, src faultSource) {
		f.refund("late", "txn-1", "10").wantNoReply(t)
		f.sim.SetFaults(Faults{}) // the resend and polls below draw no faults
		lr := f.wantLedger("late", LedgerLatePending, 0)
		if lr.LatePending != 1 || !reflect.DeepEqual(lr.Faults, []string{"late_commit"}) || lr.Submissions != 1 {
			t.Fatalf("ledger before execution = %+v", lr)
		}
		f.wantTotals("txn-1", "0", "0")
		f.wantNotFound("late")
		f.refund("late", "txn-1", "10").wantError(t, http.StatusOK, "DUPLICATE_REQUEST_ID")

		f.clock.Advance(src.min - time.Nanosecond)
		f.wantNotFound("late")
		f.clock.Advance(src.max - src.min + time.Nanosecond)
		// Executed by now; settled too if it executed early in the window.
		if st := f.status("late"); st.Status != "ok" || (st.RequestStatus != RequestProcess && st.RequestStatus != RequestSuccess) {
			t.Fatalf("status after the window: %s", st)
		}
		lr = f.mustLedgerRequest("late")
		if lr.Executions != 1 || lr.LatePending != 0 || lr.LateRejected != 0 || lr.Submissions != 2 {
			t.Fatalf("ledger after execution = %+v", lr)
		}
		f.clock.Advance(testDelay)
		f.wantStatus("late", RequestSuccess)
		f.wantClean()
	})
}

// The business rules apply when a late commit executes, so it can end
// rejected: here another refund used the balance meanwhile.
func TestLateCommitRejectedAtExecution(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Script("refund", rid("late"), "late_commit=3s")
	f.refund("late", "txn-1", "60").wantNoReply(t)
	f.mustRefund("other", "txn-1", "50")
	f.clock.Advance(3 * time.Second)
	f.wantStatus("late", RequestError)
	lr := f.wantLedger("late", LedgerRejected, 0)
	if lr.LateRejected != 1 || lr.LatePending != 0 || !lr.Amount.Equal(dec("60")) {
		t.Fatalf("ledger = %+v", lr)
	}
	f.wantSettled("txn-1", "50.00")
}

// The race variant: the duplicate check does not hold until the late
// execution, so a resend is processed as new and the provider pays twice.
// The ledger counts both executions and Audit reports them.
func TestLateCommitRace(t *testing.T) {
	eachSource(t, "race", []faultSource{
		{name: "scripted", script: "late_commit_race=3s"},
		{name: "by rate", faults: Faults{LateCommitRaceRate: 1, LateCommitMin: 3 * time.Second, LateCommitMax: 3 * time.Second}},
	}, func(t *testing.T, f *fixture, _ faultSource) {
		f.refund("race", "txn-1", "30").wantNoReply(t)
		f.sim.SetFaults(Faults{})
		f.wantLedger("race", LedgerLatePending, 0)
		f.wantNotFound("race")
		// The resend inside the window is new to the provider.
		if rs := f.mustRefund("race", "txn-1", "30"); rs != RequestProcess {
			t.Fatalf("resend: request_status %q", rs)
		}
		lr := f.wantLedger("race", RequestProcess, 1)
		if lr.LatePending != 1 || !reflect.DeepEqual(lr.Faults, []string{"late_commit_race"}) {
			t.Fatalf("ledger after resend = %+v", lr)
		}
		f.clock.Advance(3 * time.Second)
		lr = f.wantLedger("race", RequestSuccess, 2)
		if lr.LatePending != 0 || lr.Submissions != 2 {
			t.Fatalf("ledger after late execution = %+v", lr)
		}
		f.clock.Advance(testDelay)
		f.wantTotals("txn-1", "60.00", "0")
		audit := f.sim.Ledger().Audit()
		if len(audit) != 1 || !strings.Contains(audit[0], rid("race")) || !strings.Contains(audit[0], "executed 2 times") {
			t.Fatalf("audit = %q, want the double execution", audit)
		}
	})
}

// Without a resend, a late_commit_race executes once and then holds the
// request_id; a resend whose balance is gone by the late moment leaves the
// late execution rejected.
func TestLateCommitRaceWithoutDoublePay(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Script("refund", rid("alone"), "late_commit_race=3s")
	f.refund("alone", "txn-1", "30").wantNoReply(t)
	f.clock.Advance(3 * time.Second)
	f.wantStatus("alone", RequestProcess)
	f.refund("alone", "txn-1", "30").wantError(t, http.StatusOK, "DUPLICATE_REQUEST_ID")
	f.wantLedger("alone", RequestProcess, 1)

	f.sim.Script("refund", rid("full"), "late_commit_race=3s")
	f.refund("full", "txn-1", "").wantNoReply(t)
	f.mustRefund("full", "txn-1", "") // the remaining 70.00
	f.clock.Advance(3 * time.Second)
	if lr := f.wantLedger("full", RequestSuccess, 1); lr.LateRejected != 1 || lr.LatePending != 0 {
		t.Fatalf("ledger = %+v, want the late execution rejected", lr)
	}
	f.wantSettled("txn-1", "100.00")
}

// A forgotten request: status forgets it for good once it settles, the
// duplicate check still rejects it, the ledger keeps its execution.
func TestForget(t *testing.T) {
	eachSource(t, "fg", []faultSource{
		{name: "scripted", script: "forget"},
		{name: "scripted with drop", script: "drop+forget"},
		{name: "by rate", faults: Faults{ForgetRate: 1}},
	}, func(t *testing.T, f *fixture, _ faultSource) {
		f.refund("fg", "txn-1", "10")
		f.sim.SetFaults(Faults{})
		f.wantStatus("fg", RequestProcess)
		f.clock.Advance(testDelay)
		f.wantNotFound("fg")
		f.clock.Advance(time.Hour)
		f.wantNotFound("fg")
		f.refund("fg", "txn-1", "10").wantError(t, http.StatusOK, "DUPLICATE_REQUEST_ID")
		lr := f.wantLedger("fg", RequestSuccess, 1)
		if !lr.Forgotten || !slices.Contains(lr.Faults, "forget") {
			t.Fatalf("ledger = %+v", lr)
		}
		f.wantTotals("txn-1", "10.00", "0")
		f.wantClean()
	})
}

func TestForgetRejectedAtOnce(t *testing.T) {
	f := newFixture(t, nil)
	f.sim.Script("refund", rid("fr"), "forget")
	f.refund("fr", "txn-1", "100.01").wantError(t, http.StatusOK, "AMOUNT_EXCEEDED")
	f.wantNotFound("fr")
	if lr := f.wantLedger("fr", LedgerRejected, 0); !lr.Forgotten {
		t.Fatalf("ledger = %+v", lr)
	}
}

// Rates draw per call from the seeded rng: a share is struck, and the same
// seed gives the same plans.
func TestNewFaultRatesAreSharesAndReproducible(t *testing.T) {
	faults := Faults{StatusLagRate: 0.3, StatusLagMax: 30 * time.Second, LateCommitRate: 0.2, LateCommitRaceRate: 0.1,
		LateCommitMin: time.Second, LateCommitMax: 20 * time.Second, ForgetRate: 0.3, Rate5xx: 0.1}
	draw := func() []plan {
		s := New(Config{Seed: 42, Faults: faults})
		out := make([]plan, 400)
		for i := range out {
			out[i] = s.nextPlan(PathRefund, "x")
		}
		return out
	}
	a, b := draw(), draw()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed gave different plans")
	}
	counts := map[string]int{}
	for _, p := range a {
		counts[string(p.fault)]++
		if p.lag > 0 {
			counts["lag"]++
			if p.lag > faults.StatusLagMax {
				t.Fatalf("lag %s above the maximum", p.lag)
			}
		}
		if p.forget {
			counts["forget"]++
		}
		if p.fault.late() && (p.delay < faults.LateCommitMin || p.delay > faults.LateCommitMax) {
			t.Fatalf("late delay %s outside [1s, 20s]", p.delay)
		}
	}
	for name, share := range map[string]float64{"late_commit": 0.2, "late_commit_race": 0.1, "5xx": 0.1, "lag": 0.3, "forget": 0.3} {
		if got := float64(counts[name]) / 400; got < share/2 || got > share*2 {
			t.Errorf("%s struck %.2f of calls, want about %.2f", name, got, share)
		}
	}
	// A status call never gets a late commit.
	s := New(Config{Seed: 42, Faults: Faults{LateCommitRate: 1}})
	if p := s.nextPlan(PathStatus, "x"); p != (plan{}) {
		t.Fatalf("status plan = %+v, want none", p)
	}
}

func TestSeededFaultsAreReproducible(t *testing.T) {
	draw := func() []fault {
		s := New(Config{Seed: 42, Faults: Faults{Rate5xx: 0.25, RateTimeout: 0.25, Rate429: 0.25, RateDrop: 0.25, CommitOnFault: true}})
		out := make([]fault, 50)
		for i := range out {
			out[i] = s.nextPlan(PathRefund, "x").fault
		}
		return out
	}
	a, b := draw(), draw()
	seen := map[fault]bool{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("draw %d differs: %s vs %s", i, a[i], b[i])
		}
		seen[a[i]] = true
	}
	for _, want := range []fault{fault5xxCommit, faultTimeoutCommit, fault429, faultDrop} {
		if !seen[want] {
			t.Errorf("fault %s never drawn in 50 tries", want)
		}
	}
}

func TestFaultsJSON(t *testing.T) {
	in := Faults{Latency: 200 * time.Millisecond, LatencyJitter: 50 * time.Millisecond, Rate5xx: 0.1, RateTimeout: 0.05,
		Rate429: 0.02, RateDrop: 0.03, CommitOnFault: true, DeclineRate: 0.5, Down: true, HangMax: 2 * time.Second,
		StatusLagRate: 0.2, StatusLagMax: 30 * time.Second, LateCommitRate: 0.05, LateCommitRaceRate: 0.01,
		LateCommitMin: time.Second, LateCommitMax: 20 * time.Second, ForgetRate: 0.01}
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"latency":"200ms","latency_jitter":"50ms","rate_5xx":0.1,"rate_timeout":0.05,"rate_429":0.02,"rate_drop":0.03,` +
		`"commit_on_fault":true,"decline_rate":0.5,"down":true,"hang_max":"2s","status_lag_rate":0.2,"status_lag_max":"30s",` +
		`"late_commit_rate":0.05,"late_commit_race_rate":0.01,"late_commit_min":"1s","late_commit_max":"20s","forget_rate":0.01}`
	if string(raw) != want {
		t.Fatalf("marshal:\n got %s\nwant %s", raw, want)
	}
	var out Faults
	if err := json.Unmarshal(raw, &out); err != nil || out != in {
		t.Fatalf("round trip = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"latency":1000000}`), &out); err != nil || out.Latency != time.Millisecond {
		t.Fatalf("numeric duration: %+v, %v", out, err)
	}
	for _, bad := range []string{`{"latency":"fast"}`, `{"rate_5xxx":1}`, `{"down":"yes"}`, `{"late_commit_max":"soon"}`} {
		if err := json.Unmarshal([]byte(bad), &out); err == nil {
			t.Errorf("%s: want error", bad)
		}
	}
	if err := in.Validate(); err != nil {
		t.Fatalf("valid faults: %v", err)
	}
	for _, bad := range []Faults{{Rate5xx: 1.5}, {Rate5xx: 0.6, RateDrop: 0.6}, {Latency: -1}, {DeclineRate: -0.1},
		{LateCommitRate: 0.6, Rate5xx: 0.5}, {LateCommitRaceRate: 0.5, LateCommitRate: 0.6}, {ForgetRate: 2},
		{StatusLagRate: 0.1}, {StatusLagMax: -time.Second}, {LateCommitMin: 2 * time.Second, LateCommitMax: time.Second},
		{LateCommitMin: -1}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v: want validation error", bad)
		}
	}
}

func TestScriptEntries(t *testing.T) {
	good := map[string]plan{
		"late_commit=3s":                      {fault: faultLate, delay: 3 * time.Second},
		"late_commit_race=0s":                 {fault: faultLateRace},
		"status_lag=5s":                       {lag: 5 * time.Second},
		"forget":                              {forget: true},
		"timeout_commit+status_lag=30s":       {fault: faultTimeoutCommit, lag: 30 * time.Second},
		" DROP + forget ":                     {fault: faultDrop, forget: true},
		"none":                                {},
		"late_commit=1s+forget+status_lag=2s": {fault: faultLate, delay: time.Second, forget: true, lag: 2 * time.Second},
	}
	for entry, want := range good {
		if _, ps, err := parseScript("refund", []string{entry}); err != nil || ps[0] != want {
			t.Errorf("%q = %+v, %v; want %+v", entry, ps, err, want)
		}
	}
	bad := []struct{ endpoint, entry string }{
		{"refund", "explode"}, {"refund", "5xx+drop"}, {"refund", "late_commit"}, {"refund", "late_commit=soon"},
		{"refund", "status_lag=0s"}, {"refund", "forget=1s"}, {"refund", "drop=1s"}, {"status", "late_commit=1s"},
		{"status", "forget"}, {"status", "status_lag=1s"}, {"clearing", "5xx"},
	}
	for _, c := range bad {
		if _, _, err := parseScript(c.endpoint, []string{c.entry}); err == nil {
			t.Errorf("%s %q: want error", c.endpoint, c.entry)
		}
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Script with an unknown fault did not panic")
		}
	}()
	New(Config{}).Script("refund", "x", "explode")
}

// faultSource is how a test's first refund call gets its fault: scripted,
// or by a rate of 1. min and max bound how long the fault lasts.
type faultSource struct {
	name     string
	faults   Faults
	script   string
	min, max time.Duration
}

// eachSource runs test once per source on a fresh fixture whose first
// refund of request name gets the fault. Hangs end after 1ms.
func eachSource(t *testing.T, name string, sources []faultSource, test func(*testing.T, *fixture, faultSource)) {
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			src.faults.HangMax = time.Millisecond
			f := newFixture(t, func(c *Config) { c.Faults = src.faults })
			if src.script != "" {
				f.sim.Script("refund", rid(name), src.script)
			}
			test(t, f, src)
		})
	}
}
