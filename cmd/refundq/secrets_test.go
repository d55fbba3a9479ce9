package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/refundq/refundq/internal/config"
	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/merchants"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/internal/teststack"
	"github.com/refundq/refundq/producer"
)

// Distinctive secrets: any appearance of one in the collected output is a leak.
const (
	canarySigning  = "CANARY-signing-secret-4f9d2a7e"
	canaryCallback = "CANARY-callback-secret-b71e0c55"
	canaryStale    = "CANARY-stale-secret-93c5aa10"
)

// A full run through the real wiring (merchants file, config, worker,
// producer, simulator, callbacks) with successes, a reconcile after a 5xx,
// a rejection and a refused credential, then a search of everything the run
// left behind for the secrets.
func TestSecretsAppearInNoOutput(t *testing.T) {
	s := teststack.New(t, teststack.WithCredential("shop-auth", canarySigning), teststack.WithSim(func(c *fpsim.Config) {
		c.StatusDelay, c.Seed = 0, 0
		c.Transactions = fpsim.GenerateTransactions(5, decimal.NewFromInt(1000))
	}))
	rdb := s.RDB
	hooks := &hookLog{}
	hookSrv := httptest.NewServer(hooks)
	t.Cleanup(hookSrv.Close)

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "callback.secret"), canaryCallback+"\n")
	writeFile(t, filepath.Join(dir, "stale.secret"), canaryStale)
	writeFile(t, filepath.Join(dir, "merchants.yaml"), `merchants:
  default:
    auth_id: shop-auth
    secret_env: SHOP_SECRET
    callback_secret_file: callback.secret
  stale:
    auth_id: shop-auth
    secret_file: stale.secret
`)
	vars := map[string]string{"SHOP_SECRET": canarySigning, "REFUNDQ_REDIS_URL": s.Redis.URL(),
		"REFUNDQ_MERCHANTS_FILE": filepath.Join(dir, "merchants.yaml"), "REFUNDQ_PROVIDER_URL": s.SimURL,
		"REFUNDQ_SETTLE_WINDOW": "1s"}
	getenv := func(k string) string { return vars[k] }
	var stdout, stderr bytes.Buffer
	cfg, _, err := config.Load("worker", nil, getenv, &stderr)
	testenv.Must(t, err)
	e := &env{cfg: cfg, stdout: &stdout, stderr: &stderr, getenv: getenv}

	var logs testenv.Buffer
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()), &logs, zap.DebugLevel))
	reg := prometheus.NewRegistry()
	stop := startWiredWorker(s, e, log, reg)

	enq := s.Enqueue
	hook := hookSrv.URL + "/refunds?token=hook-token"
	retried := "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"
	s.Sim.Script("refund", retried, "5xx") // ambiguous: reconciled, then resubmitted
	ids := []string{
		enq(producer.Refund{IdempotencyKey: "ok", OrderID: "order-000001", Amount: "10.00", CallbackURL: hook}),
		enq(producer.Refund{RequestID: retried, OrderID: "order-000002", Amount: "20.00", CallbackURL: hook}),
		enq(producer.Refund{IdempotencyKey: "rejected", TransactionID: "txn-999999", CallbackURL: hook}),
		enq(producer.Refund{IdempotencyKey: "stale", Merchant: "stale", OrderID: "order-000003"}),
	}
	testenv.WaitFor(t, 30*time.Second, "every refund to settle and its callback to end", func() bool {
		for _, id := range ids {
			rec, err := s.Store.Get(context.Background(), id)
			if err != nil || !rec.State.Settled() || (rec.CallbackURL != "" && !rec.Callback.State.Done()) {
				return false
			}
		}
		return true
	})
	stop()
	for i, want := range []refund.State{refund.Succeeded, refund.Succeeded, refund.Failed, refund.NeedsAttention} {
		if rec := s.Get(ids[i]); rec.State != want {
			t.Fatalf("refund %d is %s, want %s: the run did not take the paths this test is about", i, rec.State, want)
		}
	}

	out := map[string]string{
		"logs": logs.String(), "stdout": stdout.String(), "stderr": stderr.String(),
		"metrics":   scrape(t, reg),
		"redis":     dumpRedis(t, rdb),
		"tasks":     dumpTasks(t, rdb),
		"callbacks": hooks.String(),
		"errors":    configErrors(t, dir, getenv),
		"formatted": formatted(t, e),
	}
	for what, must := range map[string]string{"logs": "refund settled", "metrics": "refundq_callbacks_total",
		"redis": ids[3], "tasks": ids[0], "callbacks": ids[0], "errors": "must name an environment variable"} {
		if !strings.Contains(out[what], must) {
			t.Fatalf("%s lacks %q: the search below would prove nothing", what, must)
		}
	}
	for what, text := range out {
		for _, secret := range []string{canarySigning, canaryCallback, canaryStale} {
			for _, form := range encodings(secret) {
				if i := strings.Index(text, form); i >= 0 {
					t.Errorf("%s contains a secret: ...%s...", what, text[max(0, i-80):min(len(text), i+len(form)+20)])
				}
			}
		}
	}
}

// startWiredWorker runs a worker on the stack's Redis as `refundq worker`
// wires it from e, only polling faster.
func startWiredWorker(s *teststack.Stack, e *env, log *zap.Logger, reg *prometheus.Registry) (stop func()) {
	s.T.Helper()
	set, err := merchantSet(e)
	testenv.Must(s.T, err)
	ps, err := providerSet(e.cfg, set)
	testenv.Must(s.T, err)
	wc := workerConfig(e.cfg, s.RDB, set, ps, log, reg)
	wc.PollSchedule = []time.Duration{50 * time.Millisecond}
	wc.DelayedTaskCheckInterval, wc.SweepInterval, wc.ShutdownTimeout = 50*time.Millisecond, -1, 5*time.Second
	_, stop = s.StartWorker(wc)
	s.T.Cleanup(stop)
	return stop
}

// encodings are the forms a leaked secret might take.
func encodings(s string) []string {
	return []string{s, base64.StdEncoding.EncodeToString([]byte(s)), base64.RawURLEncoding.EncodeToString([]byte(s)),
		hex.EncodeToString([]byte(s))}
}

func scrape(t *testing.T, reg *prometheus.Registry) string {
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("/metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// dumpRedis renders every key and value in Redis.
func dumpRedis(t *testing.T, rdb redis.UniversalClient) string {
	ctx := context.Background()
	var b strings.Builder
	iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		k := iter.Val()
		var v any
		var err error
		switch typ := rdb.Type(ctx, k).Val(); typ {
		case "string":
			v, err = rdb.Get(ctx, k).Result()
		case "hash":
			v, err = rdb.HGetAll(ctx, k).Result()
		case "list":
			v, err = rdb.LRange(ctx, k, 0, -1).Result()
		case "set":
			v, err = rdb.SMembers(ctx, k).Result()
		case "zset":
			v, err = rdb.ZRangeWithScores(ctx, k, 0, -1).Result()
		default:
			v, err = rdb.Dump(ctx, k).Result()
		}
		testenv.Must(t, err)
		fmt.Fprintf(&b, "%s = %v\n", k, v)
	}
	testenv.Must(t, iter.Err())
	return b.String()
}

// dumpTasks renders every asynq task's payload and last error.
func dumpTasks(t *testing.T, rdb redis.UniversalClient) string {
	insp := asynq.NewInspectorFromRedisClient(rdb)
	var b strings.Builder
	for _, q := range tasks.QueueNames() {
		for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){
			insp.ListPendingTasks, insp.ListActiveTasks, insp.ListScheduledTasks, insp.ListRetryTasks,
			insp.ListArchivedTasks, insp.ListCompletedTasks,
		} {
			infos, err := list(q)
			if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
				t.Fatal(err)
			}
			for _, ti := range infos {
				fmt.Fprintf(&b, "%s %s %s %s\n", ti.Queue, ti.Type, ti.Payload, ti.LastErr)
			}
		}
	}
	return b.String()
}

// configErrors collects the errors of merchants files that get a secret
// wrong in the ways people do.
func configErrors(t *testing.T, dir string, getenv func(string) string) string {
	var b strings.Builder
	for i, yaml := range []string{
		"merchants:\n  m:\n    auth_id: a\n    secret: " + canarySigning + "\n",
		"merchants:\n  m:\n    auth_id: a\n    secret_env: \"" + canarySigning + "\"\n",
		"merchants:\n  m:\n    secret_env: SHOP_SECRET\n",
		"merchants:\n  m:\n    auth_id: a\n    secret_env: SHOP_SECRET\n    rate_limit: -3\n",
		"merchants:\n  m:\n    auth_id: a\n    secret_env: SHOP_SECRET\n    callback_secret_env: " + canaryCallback + "\n",
	} {
		path := filepath.Join(dir, fmt.Sprintf("bad-%d.yaml", i))
		writeFile(t, path, yaml)
		_, err := merchants.Load(path, getenv)
		if err == nil {
			t.Fatalf("bad merchants file %d loaded", i)
		}
		b.WriteString(err.Error() + "\n")
	}
	return b.String()
}

// formatted prints the loaded credentials the ways code might.
func formatted(t *testing.T, e *env) string {
	set, err := merchantSet(e)
	testenv.Must(t, err)
	m, _ := set.Get("default")
	return fmt.Sprintf("%v %+v %#v %v", set, m, m, *e.cfg)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	testenv.Must(t, os.WriteFile(path, []byte(content), 0o600))
}

// hookLog is a merchant callback endpoint that records what it receives.
type hookLog struct{ testenv.Buffer }

func (h *hookLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	fmt.Fprintf(&h.Buffer, "%s %s %v %s\n", r.Method, r.URL, r.Header, body)
	w.WriteHeader(http.StatusNoContent)
}
