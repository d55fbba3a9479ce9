package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// repoRoot is the module root: go test runs in deploy/.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	return root
}

// loadCompose loads docker-compose.yml the way `docker compose` does, with
// interpolation from env only (never from the test's own environment), and
// with consistency checks and path resolution on.
func loadCompose(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	root := repoRoot(t)
	var kv []string
	for k, v := range env {
		kv = append(kv, k+"="+v)
	}
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(root, "docker-compose.yml")},
		cli.WithWorkingDirectory(root),
		cli.WithEnv(kv),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("docker-compose.yml does not load: %v", err)
	}
	return project
}

// refundqServices are the services built from this repository's Dockerfile,
// with the port each one serves /healthz and /metrics on.
var refundqServices = map[string]string{
	"sim":      "8090",
	"worker-1": "9101",
	"worker-2": "9101",
	"serve":    "8080",
}

func TestComposeServices(t *testing.T) {
	root := repoRoot(t)
	p := loadCompose(t, nil)

	if p.Name != "refundq" {
		t.Errorf("project name = %q, want refundq", p.Name)
	}
	for _, name := range []string{"redis", "sim", "worker-1", "worker-2", "serve", "prometheus", "grafana"} {
		if _, ok := p.Services[name]; !ok {
			t.Errorf("service %q missing", name)
		}
	}

	for name, svc := range p.Services {
		hc := svc.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
			t.Errorf("service %s: no healthcheck", name)
		}
		if svc.Restart != types.RestartPolicyUnlessStopped {
			t.Errorf("service %s: restart = %q, want unless-stopped", name, svc.Restart)
		}
	}

	for name, port := range refundqServices {
		svc, ok := p.Services[name]
		if !ok {
			continue
		}
		if svc.Build == nil {
			t.Errorf("service %s: not built from the Dockerfile", name)
		} else {
			if svc.Build.Context != root {
				t.Errorf("service %s: build context %q, want the repository root %q", name, svc.Build.Context, root)
			}
			df := svc.Build.Dockerfile
			if !filepath.IsAbs(df) {
				df = filepath.Join(svc.Build.Context, df)
			}
			if _, err := os.Stat(df); err != nil {
				t.Errorf("service %s: Dockerfile: %v", name, err)
			}
		}
		if len(svc.Entrypoint) != 0 {
			t.Errorf("service %s: overrides the image entrypoint %v", name, svc.Entrypoint)
		}
		if dep, ok := svc.DependsOn["redis"]; !ok || dep.Condition != types.ServiceConditionHealthy {
			t.Errorf("service %s: must depend on redis with condition service_healthy, got %+v", name, svc.DependsOn)
		}
		want := []string{"CMD", "/refundq", "healthcheck", "http://localhost:" + port + "/healthz"}
		if svc.HealthCheck != nil && !slices.Equal([]string(svc.HealthCheck.Test), want) {
			t.Errorf("service %s: healthcheck %q, want %q", name, svc.HealthCheck.Test, want)
		}
		for _, k := range []string{"REFUNDQ_REDIS_URL", "REFUNDQ_PROVIDER_URL", "REFUNDQ_MERCHANTS_FILE", "FREEDOMPAY_SECRET_DEFAULT"} {
			if v := svc.Environment[k]; v == nil || *v == "" {
				t.Errorf("service %s: environment %s not set", name, k)
			}
		}
		if v := svc.Environment["REFUNDQ_REDIS_URL"]; v != nil && *v != "redis://redis:6379/0" {
			t.Errorf("service %s: REFUNDQ_REDIS_URL = %q", name, *v)
		}
		if v := svc.Environment["REFUNDQ_MERCHANTS_FILE"]; v != nil && !mountsTarget(svc, *v) {
			t.Errorf("service %s: REFUNDQ_MERCHANTS_FILE %q is not mounted", name, *v)
		}
		if v := svc.Environment["REFUNDQ_API_TOKENS_FILE"]; v != nil && !mountsTarget(svc, *v) {
			t.Errorf("service %s: REFUNDQ_API_TOKENS_FILE %q is not mounted", name, *v)
		}
	}

	for _, w := range []string{"worker-1", "worker-2"} {
		if svc, ok := p.Services[w]; ok && !slices.Equal([]string(svc.Command), []string{"worker"}) {
			t.Errorf("service %s: command %q, want [worker]", w, svc.Command)
		}
	}
	if svc, ok := p.Services["serve"]; ok {
		if v := svc.Environment["REFUNDQ_API_TOKENS_FILE"]; v == nil || *v == "" {
			t.Errorf("service serve: REFUNDQ_API_TOKENS_FILE not set")
		}
	}
}

func mountsTarget(svc types.ServiceConfig, target string) bool {
	for _, v := range svc.Volumes {
		if v.Target == target {
			return true
		}
	}
	return false
}

func TestComposeRedisDurability(t *testing.T) {
	p := loadCompose(t, nil)
	redis, ok := p.Services["redis"]
	if !ok {
		t.Fatal("service redis missing")
	}
	if !strings.HasPrefix(redis.Image, "redis:7") {
		t.Errorf("redis image = %q, want redis:7", redis.Image)
	}
	args := map[string]string{}
	cmd := []string(redis.Command)
	for i := 0; i+1 < len(cmd); i++ {
		if strings.HasPrefix(cmd[i], "--") {
			args[cmd[i]] = cmd[i+1]
		}
	}
	if args["--appendonly"] != "yes" {
		t.Errorf("redis command %q: want --appendonly yes", cmd)
	}
	if args["--appendfsync"] != "always" {
		t.Errorf("redis command %q: want --appendfsync always", cmd)
	}
	var data *types.ServiceVolumeConfig
	for i, v := range redis.Volumes {
		if v.Target == "/data" {
			data = &redis.Volumes[i]
		}
	}
	if data == nil || data.Type != types.VolumeTypeVolume {
		t.Fatalf("redis: /data must be a named volume, got %+v", redis.Volumes)
	}
	if _, ok := p.Volumes[data.Source]; !ok {
		t.Errorf("redis: volume %q not declared at top level", data.Source)
	}
	if hc := redis.HealthCheck; hc == nil || !slices.Contains([]string(hc.Test), "redis-cli") || !slices.Contains([]string(hc.Test), "ping") {
		t.Errorf("redis healthcheck should run redis-cli ping, got %+v", hc)
	}
}

// Every bind mount must point at a file or directory that is in the repository.
func TestComposeBindMountsExist(t *testing.T) {
	root := repoRoot(t)
	p := loadCompose(t, nil)
	n := 0
	for name, svc := range p.Services {
		for _, v := range svc.Volumes {
			if v.Type != types.VolumeTypeBind {
				continue
			}
			n++
			if !strings.HasPrefix(v.Source, root+string(filepath.Separator)) {
				t.Errorf("service %s: bind mount %q is outside the repository", name, v.Source)
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("service %s: bind mount source: %v", name, err)
			}
			if !v.ReadOnly {
				t.Errorf("service %s: bind mount %s should be read-only", name, v.Target)
			}
		}
	}
	if n == 0 {
		t.Fatal("no bind mounts found: the loader did not see the config mounts")
	}
}

// The merchant secret must come from the environment, never from a file in
// the repository; the compose default is the simulator's secret.
func TestMerchantSecretFromEnvironment(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "deploy", "merchants.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^\s*secret\s*:`).Match(b) {
		t.Error("merchants.example.yaml holds a literal secret; use secret_env")
	}
	if !regexp.MustCompile(`(?m)^\s*secret_env\s*:\s*FREEDOMPAY_SECRET_DEFAULT\s*$`).Match(b) {
		t.Error("merchants.example.yaml: merchant default should have secret_env: FREEDOMPAY_SECRET_DEFAULT")
	}
	if !regexp.MustCompile(`(?m)^\s*auth_id\s*:`).Match(b) {
		t.Error("merchants.example.yaml: merchant default has no auth_id")
	}

	for env, want := range map[string]string{"": "sim-secret", "from-the-operator": "from-the-operator"} {
		vars := map[string]string{}
		if env != "" {
			vars["FREEDOMPAY_SECRET_DEFAULT"] = env
		}
		p := loadCompose(t, vars)
		for name := range refundqServices {
			v := p.Services[name].Environment["FREEDOMPAY_SECRET_DEFAULT"]
			if v == nil || *v != want {
				t.Errorf("env %q: service %s gets FREEDOMPAY_SECRET_DEFAULT=%v, want %q", env, name, v, want)
			}
		}
	}
}

func TestPrometheusTargetsMatchCompose(t *testing.T) {
	root := repoRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for _, job := range []string{"refundq-worker", "refundq-serve", "fpsim"} {
		if !strings.Contains(cfg, "job_name: "+job+"\n") {
			t.Errorf("prometheus.yml: job %s missing", job)
		}
	}
	p := loadCompose(t, nil)
	for _, target := range []string{"worker-1:9101", "worker-2:9101", "serve:8080", "sim:8090"} {
		if !strings.Contains(cfg, "- "+target+"\n") {
			t.Errorf("prometheus.yml: target %s missing", target)
		}
		svc := strings.Split(target, ":")[0]
		if _, ok := p.Services[svc]; !ok {
			t.Errorf("prometheus.yml scrapes %s, which is not a compose service", target)
		}
	}
}

// promtool returns its path, skipping the test when it is missing outside CI.
func promtool(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skip("promtool not installed (apt-get install prometheus); required when CI is set")
		}
		t.Fatalf("promtool not found and CI is set: %v", err)
	}
	return path
}

func runPromtool(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(promtool(t), args...)
	cmd.Dir = repoRoot(t)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func TestPromtoolCheckConfig(t *testing.T) {
	runPromtool(t, "check", "config", "deploy/prometheus/prometheus.yml")
}

func TestPromtoolCheckRules(t *testing.T) {
	runPromtool(t, "check", "rules", "deploy/prometheus/alerts.yml")
}

func TestPromtoolTestRules(t *testing.T) {
	runPromtool(t, "test", "rules", "deploy/prometheus/alerts_test.yml")
}

// allowedMetrics are the only metric names dashboards and alerts may use.
var allowedMetrics = map[string]bool{
	"refundq_enqueued_total":                           true,
	"refundq_provider_requests_total":                  true,
	"refundq_provider_request_duration_seconds_bucket": true,
	"refundq_provider_request_duration_seconds_sum":    true,
	"refundq_provider_request_duration_seconds_count":  true,
	"refundq_refunds_terminal_total":                   true,
	"refundq_needs_attention_total":                    true,
	"refundq_refund_duration_seconds_bucket":           true,
	"refundq_refund_duration_seconds_sum":              true,
	"refundq_refund_duration_seconds_count":            true,
	"refundq_refund_polls_bucket":                      true,
	"refundq_refund_polls_sum":                         true,
	"refundq_refund_polls_count":                       true,
	"refundq_refunded_amount_total":                    true,
	"refundq_refunds":                                  true,
	"refundq_oldest_pending_seconds":                   true,
	"refundq_breaker_state":                            true,
	"refundq_rate_limit_waits_total":                   true,
	"refundq_callbacks_total":                          true,
	"refundq_queue_size":                               true,
	"refundq_queue_latency_seconds":                    true,
	"fpsim_requests_total":                             true,
	"fpsim_executions_total":                           true,
}

var metricName = regexp.MustCompile(`\b(?:refundq|fpsim)_[a-zA-Z0-9_]+\b`)

func checkMetricNames(t *testing.T, where, expr string) {
	t.Helper()
	for _, m := range metricName.FindAllString(expr, -1) {
		if !allowedMetrics[m] {
			t.Errorf("%s: unknown metric %q in %q", where, m, expr)
		}
	}
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr       string `json:"expr"`
		RefID      string `json:"refId"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // collapsed rows
}

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "grafana", "dashboards", "refundq.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("refundq.json: %v", err)
	}
	return d
}

// flatten returns the non-row panels, including those inside collapsed rows.
func flatten(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		if p.Type == "row" {
			out = append(out, flatten(p.Panels)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

func dashboardExprs(t *testing.T) []string {
	t.Helper()
	var exprs []string
	for _, p := range flatten(loadDashboard(t).Panels) {
		for _, tg := range p.Targets {
			if tg.Expr != "" {
				exprs = append(exprs, tg.Expr)
			}
		}
	}
	return exprs
}

func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Error("dashboard needs a uid and a title")
	}
	if d.SchemaVersion < 36 {
		t.Errorf("schemaVersion = %d, want a current one (>= 36)", d.SchemaVersion)
	}
	panels := flatten(d.Panels)
	if len(panels) < 12 {
		t.Errorf("only %d panels", len(panels))
	}
	ids := map[int]bool{}
	for _, p := range panels {
		where := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if ids[p.ID] {
			t.Errorf("%s: duplicate id", where)
		}
		ids[p.ID] = true
		if p.Type != "timeseries" && p.Type != "stat" {
			t.Errorf("%s: type %q, want timeseries or stat", where, p.Type)
		}
		if p.Datasource == nil || p.Datasource.UID != "prometheus" {
			t.Errorf("%s: datasource uid must be prometheus", where)
		}
		n := 0
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				continue
			}
			n++
			if tg.Datasource != nil && tg.Datasource.UID != "prometheus" {
				t.Errorf("%s: target %s datasource uid %q", where, tg.RefID, tg.Datasource.UID)
			}
			// Expressions run as-is against Prometheus: no Grafana variables.
			if strings.Contains(tg.Expr, "$") {
				t.Errorf("%s: expr uses a Grafana variable: %q", where, tg.Expr)
			}
			if len(metricName.FindAllString(tg.Expr, -1)) == 0 {
				t.Errorf("%s: expr uses no refundq metric: %q", where, tg.Expr)
			}
			checkMetricNames(t, where, tg.Expr)
		}
		if n == 0 {
			t.Errorf("%s: no target with an expr", where)
		}
	}

	// The panels the operators asked for, by the metric each one must show.
	used := strings.Join(dashboardExprs(t), "\n")
	for _, m := range []string{
		"refundq_enqueued_total", "refundq_refunds_terminal_total", "refundq_provider_requests_total",
		"refundq_provider_request_duration_seconds_bucket", "refundq_queue_size", "refundq_queue_latency_seconds",
		`refundq_refunds{state="needs_attention"}`, `refundq_refunds{state="unknown"}`,
		"refundq_oldest_pending_seconds", "refundq_refunded_amount_total", "refundq_breaker_state",
		"refundq_callbacks_total",
	} {
		if !strings.Contains(used, m) {
			t.Errorf("no panel shows %s", m)
		}
	}
	for _, q := range []string{"0.5", "0.99"} {
		if !strings.Contains(used, "histogram_quantile("+q+", sum by (le, endpoint) (rate(refundq_provider_request_duration_seconds_bucket") {
			t.Errorf("no provider latency p%s panel", q)
		}
	}
}

// Every dashboard expression must parse: promtool checks them as recording rules.
func TestDashboardExprsParse(t *testing.T) {
	bin := promtool(t)
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, e := range dashboardExprs(t) {
		q, _ := json.Marshal(e) // a JSON string is a valid YAML double-quoted scalar
		fmt.Fprintf(&b, "      - record: dashboard:expr_%d\n        expr: %s\n", i, q)
	}
	f := filepath.Join(t.TempDir(), "dashboard_rules.yml")
	if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "check", "rules", f).CombinedOutput()
	if err != nil {
		t.Fatalf("dashboard expressions do not parse: %v\n%s", err, out)
	}
}

var (
	alertName  = regexp.MustCompile(`(?m)^\s*- alert:\s*(\S+)\s*$`)
	alertExpr  = regexp.MustCompile(`(?ms)^\s+expr:\s*(.*?)\n\s+for:`)
	runbookURL = regexp.MustCompile(`(?m)^\s*runbook_url:\s*(\S+)\s*$`)
	heading    = regexp.MustCompile(`(?m)^#{1,6}\s+(.+?)\s*$`)
)

// githubAnchor is how GitHub turns a Markdown heading into a fragment.
func githubAnchor(h string) string {
	h = strings.ToLower(h)
	var b strings.Builder
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

func TestAlertsHaveRunbooks(t *testing.T) {
	root := repoRoot(t)
	rules, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	runbook, err := os.ReadFile(filepath.Join(root, "docs", "runbook.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, m := range heading.FindAllStringSubmatch(string(runbook), -1) {
		anchors[githubAnchor(m[1])] = true
	}

	var names []string
	for _, m := range alertName.FindAllStringSubmatch(string(rules), -1) {
		names = append(names, m[1])
	}
	sort.Strings(names)
	want := []string{
		"CircuitBreakerOpen", "NoWorkerUp", "OldestPendingRefundTooOld", "ProviderErrorRateHigh",
		"ProviderRateLimited", "RefundFailureRateHigh", "RefundsNeedAttention", "RefundsStuckUnknown",
	}
	if !slices.Equal(names, want) {
		t.Errorf("alerts = %v, want %v", names, want)
	}

	urls := runbookURL.FindAllStringSubmatch(string(rules), -1)
	if len(urls) != len(names) {
		t.Errorf("%d alerts but %d runbook_url annotations", len(names), len(urls))
	}
	for _, m := range urls {
		u := m[1]
		i := strings.Index(u, "docs/runbook.md#")
		if i < 0 {
			t.Errorf("runbook_url %q does not point at docs/runbook.md#...", u)
			continue
		}
		if a := u[i+len("docs/runbook.md#"):]; !anchors[a] {
			t.Errorf("runbook_url %q: no heading with anchor %q in docs/runbook.md", u, a)
		}
	}
	for _, n := range names {
		if !anchors[strings.ToLower(n)] {
			t.Errorf("docs/runbook.md has no section for %s", n)
		}
	}

	for _, m := range alertExpr.FindAllStringSubmatch(string(rules), -1) {
		checkMetricNames(t, "alerts.yml", m[1])
	}
	sevs := regexp.MustCompile(`(?m)^\s*severity:\s*(\S+)\s*$`).FindAllStringSubmatch(string(rules), -1)
	if len(sevs) != len(names) {
		t.Errorf("%d alerts but %d severity labels", len(names), len(sevs))
	}
	for _, sev := range sevs {
		if sev[1] != "critical" && sev[1] != "warning" {
			t.Errorf("alerts.yml: severity %q, want critical or warning", sev[1])
		}
	}
}
