//go:build ha

package hatest

import (
	"bytes"
	"context"
	"maps"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/internal/teststack"
)

// The figure: 50 calls/s per merchant, and the provider may see at
// most 10% more over any 5 s window.
const (
	rateLimit     = 50
	rateWindow    = 5 * time.Second
	rateTolerance = 1.10
	// rateWarmup is how long the bucket's initial burst takes to spend:
	// redis_rate's PerSecond(n) starts full with a burst of n, so windows
	// starting in the first second may carry n calls more.
	rateWarmup = time.Second
)

// TestRateLimitHoldsAcrossWorkerProcesses runs four `refundq worker`
// processes with REFUNDQ_RATE_LIMIT=50 against one Redis and a simulator
// that answers at once, so without a shared limit they would call it
// hundreds of times a second. Every Card API call (refund and status) the
// simulator receives is timestamped; no 5 s window may hold more than
// 50/s + 10%, plus the bucket's burst in windows that start during the
// first second.
func TestRateLimitHoldsAcrossWorkerProcesses(t *testing.T) {
	const n, workers = 1500, 4
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin, err := testenv.BuildRefundq(ctx, t.TempDir())
	testenv.Must(t, err)
	calls := &callLog{}
	// StatusDelay 0 settles a refund in the submit reply: one call each,
	// and any status call (a reconcile) is timestamped and limited too.
	h := newHarness(t, nil, n, fpsim.Faults{}, withStatusDelay(0), teststack.WithMiddleware(calls.wrap))
	rs := refunds(n)
	enqueueAll(ctx, t, h.Producer, rs)

	var fleet []*workerProcess
	for i := range workers {
		fleet = append(fleet, h.startWorkerProcess(bin, i+1, "REFUNDQ_RATE_LIMIT="+strconv.Itoa(rateLimit)))
	}
	o := waitSettled(t, h.Store, acksOf(rs), 3*time.Minute)
	if o.states[refund.Succeeded] != n {
		t.Fatalf("states %v, want all %d succeeded", o.states, n)
	}
	h.auditLedger()

	perWorker, waits := fleetCalls(ctx, t, fleet)
	at, byEndpoint := calls.snapshot()
	w := slidingWindows(at, rateWindow, rateWarmup)
	t.Logf("FIGURES rate limit %d/s across %d worker processes: %d calls %v in %s; per 5s window: "+
		"max %d (%.1f/s) in windows starting in the first second, max %d (%.1f/s) after, mean %.1f (%.1f/s); "+
		"overall %.1f/s; calls per worker %v; rate-limit deferrals %d; test time %s",
		rateLimit, workers, len(at), byEndpoint, w.span.Round(time.Millisecond),
		w.warmMax, perSecond(w.warmMax), w.steadyMax, perSecond(w.steadyMax), w.mean, w.mean/rateWindow.Seconds(),
		float64(len(at)-1)/w.span.Seconds(), perWorker, waits, time.Since(began).Round(time.Second))
	if len(at) < n || sum(perWorker) != len(at) {
		t.Fatalf("the simulator saw %d calls, the workers report %v: every call must reach the timestamping handler",
			len(at), perWorker)
	}
	if waits == 0 {
		t.Fatal("no call was held back by the rate limit: the workers never pushed against it and the test proves nothing")
	}
	steadyMax := int(rateLimit * rateWindow.Seconds() * rateTolerance)
	warmMax := steadyMax + rateLimit
	if w.warmMax > warmMax {
		t.Errorf("%d calls in the 5s window from %s: more than %d (50/s + 10%% plus the burst of %d)",
			w.warmMax, w.warmMaxAt, warmMax, rateLimit)
	}
	if w.steadyMax > steadyMax {
		t.Errorf("%d calls in the 5s window from %s: more than %d (50/s + 10%%)", w.steadyMax, w.steadyMaxAt, steadyMax)
	}
	if t.Failed() {
		t.Logf("calls per 250ms from the first: %v", buckets(at, 250*time.Millisecond))
	}
}

// TestRateLimitWindowsFindTheBusiestWindow checks the measurement itself: a
// window that holds too many calls must be found wherever it lies.
func TestRateLimitWindowsFindTheBusiestWindow(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var at []time.Time
	add := func(from time.Duration, n int, every time.Duration) {
		for i := range n {
			at = append(at, t0.Add(from+time.Duration(i)*every))
		}
	}
	add(0, 50, 0)                                      // the burst at the start
	add(10*time.Millisecond, 600, 20*time.Millisecond) // 50/s for 12 s
	add(7300*time.Millisecond, 40, time.Millisecond)   // 40 more crammed in mid-run
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	w := slidingWindows(at, 5*time.Second, time.Second)
	if w.warmMax != 300 {
		t.Errorf("warm-up max %d, want 300 (the burst of 50 + 250)", w.warmMax)
	}
	if w.steadyMax != 290 || w.steadyMaxAt < 2300*time.Millisecond || w.steadyMaxAt > 7300*time.Millisecond {
		t.Errorf("steady max %d at %s, want 290 in a window that covers 7.3s", w.steadyMax, w.steadyMaxAt)
	}
	if w.mean <= 250 || w.mean >= 290 {
		t.Errorf("mean %.1f, want between the steady 250 and the busiest 290", w.mean)
	}
}

// callLog timestamps every Card API call the simulator receives.
type callLog struct {
	mu         sync.Mutex
	at         []time.Time
	byEndpoint map[string]int
}

func (c *callLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && (r.URL.Path == freedompay.PathRefund || r.URL.Path == freedompay.PathStatus) {
			c.record(filepath.Base(r.URL.Path))
		}
		next.ServeHTTP(w, r)
	})
}

func (c *callLog) record(endpoint string) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byEndpoint == nil {
		c.byEndpoint = map[string]int{}
	}
	c.at = append(c.at, now)
	c.byEndpoint[endpoint]++
}

// snapshot returns the call times in order and the count per endpoint.
func (c *callLog) snapshot() ([]time.Time, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := slices.Clone(c.at)
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	return at, maps.Clone(c.byEndpoint)
}

// windowStats are call counts per sliding window, split at the warm-up.
type windowStats struct {
	span                   time.Duration // first call to last
	warmMax, steadyMax     int
	warmMaxAt, steadyMaxAt time.Duration // start of the busiest window, from the first call
	mean                   float64       // over whole windows on a 100 ms grid
}

// slidingWindows counts the calls in every window of length w. The busiest
// window of any placement can be slid forward until it starts at a call,
// so checking the windows that start at each call finds the true maximum.
func slidingWindows(at []time.Time, w, warmup time.Duration) windowStats {
	var s windowStats
	if len(at) == 0 {
		return s
	}
	t0 := at[0]
	s.span = at[len(at)-1].Sub(t0)
	end := 0
	for i, start := range at {
		for end < len(at) && at[end].Before(start.Add(w)) {
			end++
		}
		count, off := end-i, start.Sub(t0)
		switch {
		case off < warmup && count > s.warmMax:
			s.warmMax, s.warmMaxAt = count, off
		case off >= warmup && count > s.steadyMax:
			s.steadyMax, s.steadyMaxAt = count, off
		}
	}
	var total, windows int
	for off := time.Duration(0); off+w <= s.span; off += 100 * time.Millisecond {
		from := sort.Search(len(at), func(i int) bool { return !at[i].Before(t0.Add(off)) })
		to := sort.Search(len(at), func(i int) bool { return !at[i].Before(t0.Add(off + w)) })
		total += to - from
		windows++
	}
	if windows > 0 {
		s.mean = float64(total) / float64(windows)
	}
	return s
}

// buckets counts calls per interval d from the first call, to show where
// a busy window came from.
func buckets(at []time.Time, d time.Duration) []int {
	if len(at) == 0 {
		return nil
	}
	out := make([]int, int(at[len(at)-1].Sub(at[0])/d)+1)
	for _, a := range at {
		out[int(a.Sub(at[0])/d)]++
	}
	return out
}

func perSecond(perWindow int) float64 { return float64(perWindow) / rateWindow.Seconds() }

func sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

// fleetCalls asks each worker how many Card API calls it made and sums
// the calls the shared rate limit deferred.
func fleetCalls(ctx context.Context, t *testing.T, fleet []*workerProcess) (calls []int, waits int) {
	t.Helper()
	for _, w := range fleet {
		fams := scrape(ctx, t, w.metrics)
		made := 0
		for _, m := range fams["refundq_provider_requests_total"].GetMetric() {
			if label(m.GetLabel(), "outcome") != "breaker_open" {
				made += int(m.GetCounter().GetValue())
			}
		}
		if made == 0 {
			t.Errorf("%s made no provider calls: the limit was not shared by %d processes", w.p.Name(), len(fleet))
		}
		calls = append(calls, made)
		for _, m := range fams["refundq_rate_limit_waits_total"].GetMetric() {
			waits += int(m.GetCounter().GetValue())
		}
	}
	return calls, waits
}

func scrape(ctx context.Context, t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	testenv.Must(t, err)
	resp, err := http.DefaultClient.Do(req)
	testenv.Must(t, err)
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(resp.Body)
	testenv.Must(t, err)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(&buf)
	testenv.Must(t, err)
	return fams
}

func label(ls []*dto.LabelPair, name string) string {
	for _, l := range ls {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
