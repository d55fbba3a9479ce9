package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSteadyRateLeavesOutStartAndTail(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	var ts []time.Time
	// 10 refunds late at the start, 1000 at 1 per ms, then a 5 s tail.
	for i := range 10 {
		ts = append(ts, start.Add(time.Duration(i)*100*time.Millisecond))
	}
	for i := range 1000 {
		ts = append(ts, start.Add(time.Second+time.Duration(i)*time.Millisecond))
	}
	ts = append(ts, start.Add(10*time.Second))
	if got := steadyRate(ts); math.Abs(got-1000) > 20 {
		t.Fatalf("steady rate %.0f/s, want about 1000/s", got)
	}
	if got := steadyRate(ts[:5]); got != 0 {
		t.Fatalf("rate of 5 samples %.0f, want 0 (too few to tell)", got)
	}
}

func TestPercentile(t *testing.T) {
	xs := make([]float64, 100)
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	if p50, p99 := percentile(xs, 0.5), percentile(xs, 0.99); p50 != 50 || p99 != 99 {
		t.Fatalf("p50 %v p99 %v, want 50 and 99", p50, p99)
	}
	if percentile(nil, 0.99) != 0 {
		t.Fatal("percentile of nothing is not 0")
	}
}

// Commands the benchmark itself sends must not be charged to refundq.
func TestUsageLeavesOutTheObserversOwnCommands(t *testing.T) {
	before := snapshot{usedMemory: 1000, calls: map[string]int64{"evalsha": 10, "info": 3, "zcard": 0},
		usec: map[string]int64{"evalsha": 100}, own: map[string]int64{"info": 4}}
	after := snapshot{usedMemory: 5000, calls: map[string]int64{"evalsha": 70, "info": 8, "zcard": 40, "hset": 20},
		usec: map[string]int64{"evalsha": 700}, own: map[string]int64{"info": 9, "zcard": 40}}
	u := before.to(after)
	if u.total != 80 || u.scripts != 60 || u.calls["info"] != 0 || u.calls["zcard"] != 0 || u.memory != 4000 || u.usec["evalsha"] != 600 {
		t.Fatalf("usage %+v, want 60 evalsha + 20 hset, nothing of info or zcard", u)
	}
}

func TestInfoField(t *testing.T) {
	info := "# Memory\r\nused_memory:123456\r\nused_memory_human:120.56K\r\n"
	if got := infoField(info, "used_memory"); got != "123456" {
		t.Fatalf("used_memory %q", got)
	}
	if got := infoField(info, "missing"); got != "" {
		t.Fatalf("missing field %q", got)
	}
}

// The issue names the keys latest.json must hold, each a number.
func TestReportHasTheRequiredNumericKeys(t *testing.T) {
	r := &report{RawEnqueue32: 100, ImportRows: 80, RawNoop: 10, E2E: 6, E2EPoll: 4, Littles: 960}
	r.finish()
	path := filepath.Join(t.TempDir(), "latest.json")
	if err := r.write(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"import_ratio", "e2e_ratio", "e2e_poll_ratio", "littles_law_efficiency", "added_p99_ms",
		"worker_rss_mib", "redis_bytes_per_refund", "redis_cmds_per_refund"} {
		if _, ok := got[k].(float64); !ok {
			t.Errorf("%s is %v, want a number", k, got[k])
		}
	}
	if got["import_ratio"] != 0.8 || got["e2e_ratio"] != 0.6 || got["e2e_poll_ratio"] != 0.4 || got["littles_law_efficiency"] != 0.96 {
		t.Errorf("ratios %v %v %v %v", got["import_ratio"], got["e2e_ratio"], got["e2e_poll_ratio"], got["littles_law_efficiency"])
	}
}
