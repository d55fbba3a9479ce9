package deploy_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
	"github.com/shopspring/decimal"
	"go.yaml.in/yaml/v3"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/metrics"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/internal/teststack"
	"github.com/refundq/refundq/producer"
	"github.com/refundq/refundq/worker"
)

// TestPrometheusLive runs the real deploy/prometheus configuration and rules
// in a real Prometheus against a real worker, a stand-in for serve (a
// producer and the queue collector on their own /metrics) and the simulator,
// during a small run with successes, a rejection, a provider 429, a callback
// and a refund that needs attention. It then holds the dashboard and the
// rules to what that Prometheus answers.
func TestPrometheusLive(t *testing.T) {
	bin := prometheusBinary(t)
	root := repoRoot(t)
	st := startStack(t)
	prom := startPrometheus(t, bin, root, map[string]string{
		"refundq-worker": st.workerAddr, "refundq-serve": st.serveAddr, "fpsim": st.simAddr,
	})
	ids := st.runLoad()
	st.waitSettled(ids, 30*time.Second)

	deadline := time.Now().Add(40 * time.Second)
	t.Run("targets up", func(t *testing.T) { prom.waitTargetsUp(t, deadline, 3) })
	t.Run("design metric set", func(t *testing.T) { prom.checkMetricSet(t, deadline) })
	t.Run("dashboard queries", func(t *testing.T) {
		prom.checkExprs(t, deadline, dashboardExprs(t), true)
	})
	t.Run("alert rule queries", func(t *testing.T) {
		prom.checkExprs(t, deadline, alertExprs(t, root), false)
	})
	t.Run("RefundsNeedAttention alert", func(t *testing.T) {
		prom.waitAlert(t, deadline, "RefundsNeedAttention")
	})
}

// prometheusBinary finds prometheus, skipping outside CI when it is
// missing; `make test` installs it.
func prometheusBinary(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("prometheus not installed (apt-get install prometheus); required when CI is set")
		}
		t.Fatalf("prometheus not found and CI is set: %v", err)
	}
	return path
}

const (
	// ghostMerchant has no credential: its refund goes to needs_attention.
	ghostMerchant = "ghost"
	// liveRateLimit is low enough that the run's burst meets the shared
	// rate limit, so its metric has data.
	liveRateLimit = 8
)

// liveStack is everything Prometheus scrapes, on free loopback ports.
type liveStack struct {
	*teststack.Stack
	callback string

	workerAddr, serveAddr, simAddr string
}

func startStack(t *testing.T) *liveStack {
	t.Helper()
	// serve's /metrics: the producer's metrics and the queue collector, as
	// `refundq serve` registers them.
	sreg := prometheus.NewRegistry()
	s := teststack.New(t, teststack.WithProducer(producer.WithSource("api"), producer.WithRegisterer(sreg)),
		teststack.WithSim(func(c *fpsim.Config) {
			c.StatusDelay, c.Seed = 300*time.Millisecond, 11
			c.Transactions = fpsim.GenerateTransactions(20, decimal.NewFromInt(1000))
		}))
	sreg.MustRegister(metrics.NewQueueCollector(asynq.NewInspectorFromRedisClient(s.RDB), tasks.QueueNames()...))

	cfg := s.WorkerConfig()
	wreg := cfg.Registerer.(*prometheus.Registry)
	cfg.Logger, cfg.ProviderTimeout, cfg.ShutdownTimeout = nil, 5*time.Second, 5*time.Second
	cfg.PollSchedule, cfg.DelayedTaskCheckInterval = []time.Duration{250 * time.Millisecond}, 100*time.Millisecond
	cfg.SettleWindow, cfg.TaskCheckInterval = 0, 0
	cfg.Providers = func(merchant string) (*worker.Provider, bool) { return s.Provider, merchant != ghostMerchant }
	cfg.Protection = worker.Protection{RateLimit: func(string) int { return liveRateLimit }}
	cfg.Callbacks = worker.Callbacks{Secret: func(string) ([]byte, bool) { return []byte("live-callback-secret"), true }}
	s.RunWorker(cfg)

	receiver := serve(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	return &liveStack{
		Stack: s, callback: receiver.URL + "/refunds",
		workerAddr: hostPort(serve(t, promhttp.HandlerFor(wreg, promhttp.HandlerOpts{})).URL),
		serveAddr:  hostPort(serve(t, promhttp.HandlerFor(sreg, promhttp.HandlerOpts{})).URL),
		simAddr:    hostPort(s.SimURL),
	}
}

func serve(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func hostPort(raw string) string {
	u, _ := url.Parse(raw)
	return u.Host
}

// runLoad enqueues successes (one with a callback, one answered 429 once),
// a refund of a transaction the provider does not know (a permanent
// rejection) and one for a merchant with no credential (needs_attention).
func (s *liveStack) runLoad() []string {
	s.T.Helper()
	var refunds []producer.Refund
	for i := 1; i <= 10; i++ {
		refunds = append(refunds, producer.Refund{RequestID: uuid.NewString(), OrderID: fmt.Sprintf("order-%06d", i),
			Amount: strconv.Itoa(i) + ".50"})
	}
	refunds[0].CallbackURL = s.callback
	s.Sim.Script("refund", refunds[1].RequestID, "429")
	refunds = append(refunds,
		producer.Refund{RequestID: uuid.NewString(), OrderID: "order-unknown", Amount: "1.00"},
		producer.Refund{RequestID: uuid.NewString(), Merchant: ghostMerchant, OrderID: "order-000011", Amount: "1.00"},
	)
	ids := make([]string, 0, len(refunds))
	for _, r := range refunds {
		ids = append(ids, s.Enqueue(r))
	}
	return ids
}

// waitSettled waits until every refund is final or needs attention, and
// checks the run produced each outcome the queries need.
func (s *liveStack) waitSettled(ids []string, timeout time.Duration) {
	s.T.Helper()
	states := s.WaitAllSettled(ids, timeout)
	want := map[refund.State]int{refund.Succeeded: len(ids) - 2, refund.Failed: 1, refund.NeedsAttention: 1}
	if fmt.Sprint(states) != fmt.Sprint(want) {
		s.T.Fatalf("run ended %v, want %v", states, want)
	}
}

// liveProm is a Prometheus process owned by the test.
type liveProm struct {
	api promv1.API
	out *testenv.Buffer
}

// startPrometheus runs prometheus with deploy/prometheus/prometheus.yml,
// its targets pointed at the test's servers and its intervals cut to 1s,
// and with the unchanged deploy/prometheus/alerts.yml.
func startPrometheus(t *testing.T, bin, root string, targets map[string]string) *liveProm {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "prometheus.yml")
	testenv.Must(t, os.WriteFile(cfgPath, liveConfig(t, root, targets), 0o644))
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	out := &testenv.Buffer{}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	testenv.Must(t, cmd.Start())
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("prometheus output:\n%s", out.String())
		}
	})
	waitReady(t, "http://"+addr+"/-/ready", exited, out)
	c, err := promapi.NewClient(promapi.Config{Address: "http://" + addr})
	testenv.Must(t, err)
	return &liveProm{api: promv1.NewAPI(c), out: out}
}

// liveConfig rewrites the shipped scrape config for the test. A job the
// test has no target for fails the test: the config and this test must
// agree on what is scraped.
func liveConfig(t *testing.T, root string, targets map[string]string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "prometheus.yml"))
	testenv.Must(t, err)
	var cfg map[string]any
	testenv.Must(t, yaml.Unmarshal(raw, &cfg))
	global, _ := cfg["global"].(map[string]any)
	if global == nil {
		global = map[string]any{}
	}
	global["scrape_interval"], global["scrape_timeout"], global["evaluation_interval"] = "1s", "1s", "1s"
	cfg["global"] = global
	cfg["rule_files"] = []string{filepath.Join(root, "deploy", "prometheus", "alerts.yml")}
	jobs, _ := cfg["scrape_configs"].([]any)
	seen := map[string]bool{}
	for _, j := range jobs {
		job, _ := j.(map[string]any)
		name, _ := job["job_name"].(string)
		target, ok := targets[name]
		if !ok {
			t.Fatalf("prometheus.yml scrapes job %q, which this test does not run", name)
		}
		seen[name] = true
		job["static_configs"] = []map[string]any{{"targets": []string{target}}}
	}
	for name := range targets {
		if !seen[name] {
			t.Fatalf("prometheus.yml has no job %q", name)
		}
	}
	out, err := yaml.Marshal(cfg)
	testenv.Must(t, err)
	return out
}

func waitReady(t *testing.T, u string, exited <-chan struct{}, out *testenv.Buffer) {
	t.Helper()
	var err error
	ready := testenv.Poll(30*time.Second, 50*time.Millisecond, func() bool {
		var res *http.Response
		if res, err = http.Get(u); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return true
			}
		}
		select {
		case <-exited:
			t.Fatalf("prometheus exited at start:\n%s", out.String())
		default:
		}
		return false
	})
	if !ready {
		t.Fatalf("prometheus not ready at %s: %v\n%s", u, err, out.String())
	}
}

// eventually retries check until it reports no problem or the deadline
// passes; then the last problems fail the test. Scrapes and rule
// evaluations run every second, so most checks pass within a few tries.
func eventually(t *testing.T, deadline time.Time, check func() []string) {
	t.Helper()
	var problems []string
	testenv.Poll(time.Until(deadline), 250*time.Millisecond, func() bool {
		problems = check()
		return len(problems) == 0
	})
	for _, p := range problems {
		t.Error(p)
	}
}

func (p *liveProm) waitTargetsUp(t *testing.T, deadline time.Time, n int) {
	eventually(t, deadline, func() []string {
		res, err := p.api.Targets(context.Background())
		if err != nil {
			return []string{"targets: " + err.Error()}
		}
		var problems []string
		up := 0
		for _, tg := range res.Active {
			if tg.Health == promv1.HealthGood {
				up++
			} else {
				problems = append(problems, fmt.Sprintf("target %s (%s): %s %s", tg.ScrapeURL, tg.Labels["job"], tg.Health, tg.LastError))
			}
		}
		if up != n {
			problems = append(problems, fmt.Sprintf("%d of %d targets up", up, n))
		}
		return problems
	})
}

// designMetrics is the metric set of shared/design.md, by the job that
// must expose it: the worker everything about processing, serve the
// intake, both the asynq queues.
var designMetrics = map[string][]string{
	"refundq-worker": {
		"refundq_provider_requests_total", "refundq_provider_request_duration_seconds_bucket",
		"refundq_refunds_terminal_total", "refundq_refund_duration_seconds_bucket", "refundq_refund_polls_bucket",
		"refundq_refunds", "refundq_needs_attention_total", "refundq_oldest_pending_seconds",
		"refundq_breaker_state", "refundq_refunded_amount_total", "refundq_rate_limit_waits_total",
		"refundq_callbacks_total", "refundq_queue_size", "refundq_queue_latency_seconds",
	},
	"refundq-serve": {"refundq_enqueued_total", "refundq_queue_size", "refundq_queue_latency_seconds"},
}

func (p *liveProm) checkMetricSet(t *testing.T, deadline time.Time) {
	eventually(t, deadline, func() []string {
		var problems []string
		for job, want := range designMetrics {
			v, err := p.query(fmt.Sprintf(`count by (__name__) ({job=%q, __name__=~"refundq_.+"})`, job))
			if err != nil {
				return []string{err.Error()}
			}
			have := map[string]bool{}
			for _, s := range v {
				have[string(s.Metric[model.MetricNameLabel])] = true
			}
			for _, m := range want {
				if !have[m] {
					problems = append(problems, fmt.Sprintf("job %s exposes no %s", job, m))
				}
			}
		}
		for _, st := range []string{"unknown", "needs_attention"} {
			if v, err := p.query(`refundq_refunds{job="refundq-worker", state="` + st + `"}`); err != nil || len(v) == 0 {
				problems = append(problems, fmt.Sprintf("worker exposes no refundq_refunds{state=%q} (%v)", st, err))
			}
		}
		return problems
	})
}

// selector finds the series selectors of an expression: every refundq_,
// fpsim_ or up metric with its label matchers.
var selector = regexp.MustCompile(`\b(?:(?:refundq|fpsim)_\w+|up)\b(?:\{[^}]*\})?`)

// checkExprs runs every expression: it must parse, and each series
// selector in it must match data. Dashboard expressions must return data
// themselves too; an alert expression is empty while it does not fire.
func (p *liveProm) checkExprs(t *testing.T, deadline time.Time, exprs []string, wantData bool) {
	if len(exprs) == 0 {
		t.Fatal("no expressions")
	}
	eventually(t, deadline, func() []string {
		var problems []string
		for _, e := range exprs {
			v, err := p.query(e)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%q: %v", e, err))
				continue
			}
			if wantData && len(v) == 0 {
				problems = append(problems, fmt.Sprintf("%q returned no data", e))
			}
			for _, sel := range selector.FindAllString(e, -1) {
				if v, err := p.query(sel); err != nil || len(v) == 0 {
					problems = append(problems, fmt.Sprintf("%q: selector %s matches no series (%v)", e, sel, err))
				}
			}
		}
		return problems
	})
}

func (p *liveProm) query(q string) (model.Vector, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, _, _, err := p.api.Query(ctx, q, time.Now())
	if err != nil {
		return nil, err
	}
	switch v := v.(type) {
	case model.Vector:
		return v, nil
	case *model.Scalar:
		return model.Vector{{Value: v.Value, Timestamp: v.Timestamp}}, nil
	}
	return nil, fmt.Errorf("unexpected result type %s", v.Type())
}

// waitAlert waits for the alert to be pending or firing: its `for` may be
// longer than the test, and pending already proves the rule matched.
func (p *liveProm) waitAlert(t *testing.T, deadline time.Time, name string) {
	eventually(t, deadline, func() []string {
		res, err := p.api.Alerts(context.Background())
		if err != nil {
			return []string{"alerts: " + err.Error()}
		}
		var seen []string
		for _, a := range res.Alerts {
			seen = append(seen, fmt.Sprintf("%s=%s", a.Labels["alertname"], a.State))
			if string(a.Labels["alertname"]) == name && (a.State == promv1.AlertStatePending || a.State == promv1.AlertStateFiring) {
				return nil
			}
		}
		sort.Strings(seen)
		return []string{fmt.Sprintf("alert %s is not pending or firing; active alerts: %v", name, seen)}
	})
}

// alertExprs returns the expression of every alerting and recording rule.
func alertExprs(t *testing.T, root string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "alerts.yml"))
	testenv.Must(t, err)
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	testenv.Must(t, yaml.Unmarshal(raw, &rules))
	var exprs []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, strings.TrimSpace(r.Expr))
		}
	}
	return exprs
}
