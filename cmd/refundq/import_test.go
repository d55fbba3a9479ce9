package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/worker"
)

// importFile writes n refund rows to a CSV. Every 50th row has a zero
// amount, every 50th from row 25 an order id with a space, and every
// 400th from row 7 a missing field. It returns the bad rows' line numbers.
func importFile(t *testing.T, n int) (path string, bad []int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("order_id,amount,description\r\n")
	for i := 1; i <= n; i++ {
		line := i + 1
		switch {
		case i%50 == 0:
			fmt.Fprintf(&b, "order-%06d,0,zero\r\n", i)
		case i%50 == 25:
			fmt.Fprintf(&b, "order %06d,1.00,space\r\n", i)
		case i%400 == 7:
			fmt.Fprintf(&b, "order-%06d,1.00\r\n", i)
		default:
			fmt.Fprintf(&b, "order-%06d,%d.%02d,\"refund, row %d\"\r\n", i, i%90+1, i%100, i)
			continue
		}
		bad = append(bad, line)
	}
	path = filepath.Join(t.TempDir(), "refunds.csv")
	testenv.Must(t, os.WriteFile(path, []byte(b.String()), 0o600))
	return path, bad
}

var summaryLine = regexp.MustCompile(`(?m)^(batch|accepted|duplicates|rejected)\s+(\S+)$`)

func summary(t *testing.T, stdout string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, s := range summaryLine.FindAllStringSubmatch(stdout, -1) {
		m[s[1]] = s[2]
	}
	if m["batch"] == "" {
		t.Fatalf("no summary in %q", stdout)
	}
	return m
}

func (o *opsEnv) pending(queue string) int {
	o.t.Helper()
	info, err := asynq.NewInspectorFromRedisClient(o.store.Client()).GetQueueInfo(queue)
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return 0
	}
	testenv.Must(o.t, err)
	return info.Pending
}

func (o *opsEnv) recordCount() int {
	o.t.Helper()
	keys, err := o.store.Client().Keys(context.Background(), "refundq:{*}").Result()
	testenv.Must(o.t, err)
	return len(keys)
}

func TestImportReportsEveryBadRowAndRerunAddsNothing(t *testing.T) {
	o := newOpsEnv(t)
	path, bad := importFile(t, 2000)
	good := 2000 - len(bad)

	code, stdout, stderr := o.cli("import", path)
	if code != 1 || !strings.Contains(stderr, fmt.Sprintf("%d rows rejected", len(bad))) {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	sum := summary(t, stdout)
	if sum["accepted"] != strconv.Itoa(good) || sum["rejected"] != strconv.Itoa(len(bad)) || sum["duplicates"] != "0" {
		t.Fatalf("summary %v", sum)
	}
	batchID := sum["batch"]
	for _, line := range bad {
		if !strings.Contains(stderr, fmt.Sprintf("line %d: ", line)) {
			t.Errorf("stderr does not report line %d", line)
		}
	}
	if !strings.Contains(stderr, "line 51: amount: must be greater than 0") ||
		!strings.Contains(stderr, "line 26: order_id: ") || !strings.Contains(stderr, "line 8: row: has 2 fields") {
		t.Errorf("stderr lacks field and reason:\n%s", firstLines(stderr, 10))
	}
	checkRejectsFile(t, path+".rejects.csv", bad)

	// Nothing for the bad rows reached Redis, everything else did.
	if o.recordCount() != good || o.pending(tasks.QueueBulk) != good {
		t.Fatalf("%d records and %d bulk tasks, want %d of each", o.recordCount(), o.pending(tasks.QueueBulk), good)
	}
	if n, err := o.store.BatchSize(context.Background(), batchID); err != nil || n != good {
		t.Fatalf("batch %s holds %d (%v), want %d", batchID, n, err, good)
	}
	for _, order := range []string{"order-000050", "order-001000"} { // zero amounts
		if ids, _ := o.store.ByOrder(context.Background(), refund.DefaultMerchant, order); len(ids) != 0 {
			t.Errorf("rejected row %s has refunds %v", order, ids)
		}
	}

	code, stdout, _ = o.cli("import", path)
	sum = summary(t, stdout)
	if code != 1 || sum["batch"] != batchID || sum["accepted"] != "0" || sum["duplicates"] != strconv.Itoa(good) {
		t.Fatalf("re-run: exit %d, summary %v", code, sum)
	}
	if o.recordCount() != good || o.pending(tasks.QueueBulk) != good {
		t.Fatalf("re-run changed Redis: %d records, %d tasks", o.recordCount(), o.pending(tasks.QueueBulk))
	}

	out := filepath.Join(t.TempDir(), "results.csv")
	code, stdout, stderr = o.cli("batch", batchID, "--out", out)
	if code != 0 || !regexp.MustCompile(`(?m)^\s+queued\s+`+strconv.Itoa(good)+`$`).MatchString(stdout) {
		t.Fatalf("batch: exit %d\n%s%s", code, stdout, stderr)
	}
	if rows := readCSV(t, out); len(rows) != good+1 || rows[1][4] != "queued" {
		t.Errorf("results file has %d rows, first %v", len(rows), rows[1])
	}
}

func checkRejectsFile(t *testing.T, path string, bad []int) {
	t.Helper()
	rows := readCSV(t, path)
	if !slices.Equal(rows[0], []string{"line", "field", "reason", "raw"}) {
		t.Fatalf("rejects header %v", rows[0])
	}
	var lines []int
	for _, r := range rows[1:] {
		n, _ := strconv.Atoi(r[0])
		lines = append(lines, n)
		if r[3] == "" || !strings.HasPrefix(r[3], "order") {
			t.Errorf("reject of line %d lacks its raw text: %q", n, r)
		}
	}
	if !slices.Equal(lines, bad) {
		t.Errorf("rejects file lines %v\nwant %v", lines, bad)
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	testenv.Must(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	testenv.Must(t, err)
	return rows
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

func TestImportAllOrNothing(t *testing.T) {
	o := newOpsEnv(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "mixed.jsonl")
	var b strings.Builder
	for i := 1; i <= 100; i++ {
		amount := "2.00"
		if i == 77 {
			amount = "-2.00"
		}
		fmt.Fprintf(&b, `{"idempotency_key":"k-%d","order_id":"order-%06d","amount":%q}`+"\n", i, i, amount)
	}
	testenv.Must(t, os.WriteFile(path, []byte(b.String()), 0o600))

	code, _, stderr := o.cli("import", path, "--all-or-nothing", "--rejects", filepath.Join(dir, "r.csv"))
	if code != 1 || !strings.Contains(stderr, "line 77: amount:") || !strings.Contains(stderr, "nothing was enqueued") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if keys, _ := o.store.Client().DBSize(context.Background()).Result(); keys != 0 {
		t.Fatalf("all-or-nothing with a bad row left %d keys in Redis", keys)
	}
	if rows := readCSV(t, filepath.Join(dir, "r.csv")); len(rows) != 2 || rows[1][0] != "77" {
		t.Errorf("rejects file %v", rows)
	}

	fixed := strings.Replace(b.String(), `"-2.00"`, `"2.00"`, 1)
	testenv.Must(t, os.WriteFile(path, []byte(fixed), 0o600))
	code, stdout, stderr := o.cli("import", "--all-or-nothing", path)
	if code != 0 || summary(t, stdout)["accepted"] != "100" {
		t.Fatalf("clean file: exit %d\n%s%s", code, stdout, stderr)
	}
	if o.pending(tasks.QueueBulk) != 100 {
		t.Errorf("%d bulk tasks, want 100", o.pending(tasks.QueueBulk))
	}
}

func TestImportLogsProgressWithoutATerminal(t *testing.T) {
	o := newOpsEnv(t)
	path, _ := importFile(t, 10)
	_, _, stderr := o.cli("import", path, "--batch-id", "small-1")
	if !regexp.MustCompile(`(?m)^import: 10 rows in \S+ \(\d+ rows/s\)$`).MatchString(stderr) {
		t.Errorf("no final progress line in %q", stderr)
	}
	if code, _, stderr := o.cli("import", path, "--batch-id", "bad id"); code == 0 || !strings.Contains(stderr, "batch id") {
		t.Errorf("bad batch id: exit %d, %q", code, stderr)
	}
	if code, _, _ := o.cli("import", filepath.Join(t.TempDir(), "missing.csv")); code != 1 {
		t.Errorf("missing file: exit %d", code)
	}
}

func TestBatchWaitFollowsTheBatchToTheEnd(t *testing.T) {
	o := newOpsEnv(t)
	path := filepath.Join(t.TempDir(), "ten.csv")
	var b strings.Builder
	b.WriteString("transaction_id;amount\n")
	for i := 1; i <= 10; i++ {
		fmt.Fprintf(&b, "txn-%06d;%d,00\n", i, i) // a semicolon file with decimal commas: rejected
	}
	b.WriteString("txn-000001;1.00\ntxn-000002;2\ntxn-000003;\n")
	testenv.Must(t, os.WriteFile(path, []byte(b.String()), 0o600))
	code, stdout, _ := o.cli("import", path, "--batch-id", "wait-1")
	if code != 1 || summary(t, stdout)["accepted"] != "3" {
		t.Fatalf("import: exit %d\n%s", code, stdout)
	}

	w, err := worker.New(worker.Config{
		Redis: o.store.Client(), Providers: worker.SingleProvider(o.client), Registerer: prometheus.NewRegistry(),
		Concurrency: 4, PollSchedule: []time.Duration{50 * time.Millisecond},
		DelayedTaskCheckInterval: 50 * time.Millisecond, SweepInterval: -1, ShutdownTimeout: 5 * time.Second,
	})
	testenv.Must(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() { cancel(); testenv.Must(t, <-done) })

	out := filepath.Join(t.TempDir(), "results.csv")
	code, stdout, stderr := o.cli("batch", "wait-1", "--wait", "--interval", "50ms", "--out", out)
	if code != 0 || !regexp.MustCompile(`(?m)^\s+succeeded\s+3$`).MatchString(stdout) {
		t.Fatalf("batch --wait: exit %d\n%s%s", code, stdout, stderr)
	}
	rows := readCSV(t, out)
	if len(rows) != 4 {
		t.Fatalf("results %v", rows)
	}
	for _, r := range rows[1:] {
		if r[4] != "succeeded" || r[5] == "" {
			t.Errorf("result row %v: want succeeded with the provider's request_status", r)
		}
	}
	if code, _, stderr := o.cli("batch", "no-such-batch"); code != 1 || !strings.Contains(stderr, "not found") {
		t.Errorf("unknown batch: exit %d, %q", code, stderr)
	}
}
