package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/intake"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
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
	o.T.Helper()
	info, err := asynq.NewInspectorFromRedisClient(o.RDB).GetQueueInfo(queue)
	if errors.Is(err, asynq.ErrQueueNotFound) {
		return 0
	}
	testenv.Must(o.T, err)
	return info.Pending
}

func (o *opsEnv) recordCount() int {
	o.T.Helper()
	keys, err := o.RDB.Keys(context.Background(), "refundq:{*}").Result()
	testenv.Must(o.T, err)
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
	// The first rejects are shown as they are found; the file has them all.
	for _, line := range bad[:shownRejects] {
		if !strings.Contains(stderr, fmt.Sprintf("line %d: ", line)) {
			t.Errorf("stderr does not report line %d", line)
		}
	}
	more := fmt.Sprintf("... and %d more problems, all in %s", len(bad)-shownRejects, path+".rejects.csv")
	if !strings.Contains(stderr, "line 51: amount: must be greater than 0") || !strings.Contains(stderr, more) ||
		!strings.Contains(stderr, "line 26: order_id: ") || !strings.Contains(stderr, "line 8: row: has 2 fields") {
		t.Errorf("stderr lacks field and reason:\n%s", firstLines(stderr, 25))
	}
	if strings.Contains(stderr, "run the same command again") {
		t.Errorf("a finished import with rejects says to run it again: %s", stderr)
	}
	checkRejectsFile(t, path+".rejects.csv", bad)

	// Nothing for the bad rows reached Redis, everything else did.
	if o.recordCount() != good || o.pending(tasks.QueueBulk) != good {
		t.Fatalf("%d records and %d bulk tasks, want %d of each", o.recordCount(), o.pending(tasks.QueueBulk), good)
	}
	if n, err := o.Store.BatchSize(context.Background(), batchID); err != nil || n != good {
		t.Fatalf("batch %s holds %d (%v), want %d", batchID, n, err, good)
	}
	for _, order := range []string{"order-000050", "order-001000"} { // zero amounts
		if ids, _ := o.Store.ByOrder(context.Background(), refund.DefaultMerchant, order); len(ids) != 0 {
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

	code, stdout, stderr := o.cli("import", path, "--all-or-nothing", "--rejects", filepath.Join(dir, "r.csv"))
	if code != 1 || !strings.Contains(stderr, "line 77: amount:") || !strings.Contains(stderr, "1 of 100 rows rejected") ||
		!strings.Contains(stderr, "nothing was enqueued") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	// Nothing was enqueued, so the summary must not say 99 were.
	if sum := summary(t, stdout); sum["accepted"] != "0" || sum["rejected"] != "1" {
		t.Fatalf("summary of a refused import %v", sum)
	}
	if keys, _ := o.RDB.DBSize(context.Background()).Result(); keys != 0 {
		t.Fatalf("all-or-nothing with a bad row left %d keys in Redis", keys)
	}
	if rows := readCSV(t, filepath.Join(dir, "r.csv")); len(rows) != 2 || rows[1][0] != "77" {
		t.Errorf("rejects file %v", rows)
	}

	fixed := strings.Replace(b.String(), `"-2.00"`, `"2.00"`, 1)
	testenv.Must(t, os.WriteFile(path, []byte(fixed), 0o600))
	code, stdout, stderr = o.cli("import", "--all-or-nothing", path)
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
}

// Messages are true: a file that cannot be imported, a bad flag or an
// unwritable rejects file say so and that nothing was enqueued, never
// "run the same command again", which cannot help them.
// fifo makes a named pipe that nobody reads.
func fifo(t *testing.T, dir string) string {
	p := filepath.Join(dir, "rejects.fifo")
	testenv.Must(t, syscall.Mkfifo(p, 0o600))
	return p
}

func TestImportRefusalsSayWhatToFix(t *testing.T) {
	o := newOpsEnv(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		testenv.Must(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	good := write("good.csv", "order_id,amount\nmsg-1,1.00\n")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown column", []string{write("typo.csv", "order_id,amout\nx,1\n")}, `unknown column "amout"`},
		{"no amount column", []string{write("noamount.csv", "order_id\nx\n")}, "needs an amount column"},
		{"empty csv", []string{write("empty.csv", "")}, "the file is empty"},
		{"empty jsonl", []string{write("empty.jsonl", "")}, "the file has no refund rows"},
		{"binary", []string{write("bin.csv", "\x00\x01\x02\x03")}, "not a text file"},
		{"a device", []string{"/dev/zero"}, "is a device"},
		{"a directory", []string{dir}, "is a directory"},
		{"missing file", []string{filepath.Join(dir, "missing.csv")}, "no such file or directory"},
		{"bad batch id", []string{good, "--batch-id", "bad id"}, `--batch-id "bad id": use 1-128 characters`},
		{"unwritable rejects", []string{good, "--rejects", filepath.Join(dir, "no", "such", "dir.csv")}, "cannot write the rejects file"},
		{"rejects is a fifo", []string{good, "--rejects", fifo(t, dir)}, "not a regular file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := o.cli(append([]string{"import"}, c.args...)...)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, stderr %q, want %q", code, stderr, c.want)
			}
			if strings.Contains(stderr, "run the same command again") {
				t.Errorf("stderr says to run it again: %q", stderr)
			}
			if c.name != "bad batch id" && !strings.Contains(stderr, "nothing was enqueued") {
				t.Errorf("stderr does not say nothing was enqueued: %q", stderr)
			}
		})
	}
	if o.recordCount() != 0 {
		t.Errorf("refused imports wrote %d records", o.recordCount())
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
	b.WriteString("txn-000001;1.00\ntxn-000002;2\ntxn-000003;full\n")
	testenv.Must(t, os.WriteFile(path, []byte(b.String()), 0o600))
	code, stdout, _ := o.cli("import", path, "--batch-id", "wait-1")
	if code != 1 || summary(t, stdout)["accepted"] != "3" {
		t.Fatalf("import: exit %d\n%s", code, stdout)
	}

	cfg := o.WorkerConfig()
	cfg.Concurrency, cfg.PollSchedule, cfg.ShutdownTimeout = 4, []time.Duration{50 * time.Millisecond}, 5*time.Second
	o.RunWorker(cfg)

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

// importProc is `refundq import` as a child process, so signals, standard
// input and what reaches the real stderr are tested as an operator meets
// them.
type importProc struct {
	cmd            *exec.Cmd
	stdout, stderr strings.Builder
	done           chan error
}

func startImport(t *testing.T, redisURL, dir string, stdin io.Reader, args ...string) *importProc {
	t.Helper()
	p := &importProc{cmd: exec.Command(binary(t), append([]string{"import"}, args...)...), done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), "REFUNDQ_REDIS_URL="+redisURL)
	p.cmd.Dir, p.cmd.Stdin, p.cmd.Stdout, p.cmd.Stderr = dir, stdin, &p.stdout, &p.stderr
	testenv.Must(t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait returns the exit code; a hang fails the test instead of stalling it.
func (p *importProc) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("refundq import did not exit within %s\nstderr: %s", within, p.stderr.String())
		return -1
	}
}

// connected waits until the child has a connection to Redis: it has
// passed its start and works on the input.
func connected(t *testing.T, watch *redis.Client, before int) {
	t.Helper()
	testenv.WaitFor(t, 30*time.Second, "refundq import to connect to Redis", func() bool {
		return clients(t, watch) > before
	})
}

func clients(t *testing.T, watch *redis.Client) int {
	info, err := watch.ClientList(context.Background()).Result()
	testenv.Must(t, err)
	return strings.Count(info, "\n")
}

func writeRows(t *testing.T, path string, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("order_id,amount\n")
	for i := range n {
		fmt.Fprintf(&b, "big-%07d,1.00\n", i)
	}
	testenv.Must(t, os.WriteFile(path, []byte(b.String()), 0o600))
}

// `-` and /dev/stdin read standard input: in one pass over the pipe (it
// is spooled for the others), with the rejects file in the current
// directory, and the same rows sent again add nothing.
func TestImportReadsStandardInput(t *testing.T) {
	r := testenv.StartRedis(t)
	rows := `{"order_id":"in-1","amount":"1.00"}` + "\n" + `{"order_id":"in-2","amount":""}` + "\n"
	for i, path := range []string{"-", "/dev/stdin"} {
		dir := t.TempDir()
		p := startImport(t, r.URL(), dir, strings.NewReader(rows), path)
		if code := p.wait(t, time.Minute); code != 1 {
			t.Fatalf("%s: exit %d\n%s", path, code, p.stderr.String())
		}
		sum := summary(t, p.stdout.String())
		if want := []string{"1", "0"}[i]; sum["accepted"] != want || sum["rejected"] != "1" {
			t.Errorf("%s: summary %v, want %s accepted", path, sum, want)
		}
		if rows := readCSV(t, filepath.Join(dir, "stdin.rejects.csv")); len(rows) != 2 || rows[1][0] != "2" {
			t.Errorf("%s: rejects %v", path, rows)
		}
	}
	if _, err := os.Stat("/dev/stdin.rejects.csv"); !os.IsNotExist(err) {
		t.Errorf("a rejects file was written under /dev: %v", err)
	}
}

// Ctrl-C and SIGTERM stop an import in every phase: waiting for a FIFO's
// writer, reading a pipe that never ends, and enqueueing, after which the
// same command completes the batch.
func TestImportHonoursSignals(t *testing.T) {
	r := testenv.StartRedis(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "in.fifo")
	testenv.Must(t, syscall.Mkfifo(fifo, 0o600))
	watch := r.Client()
	base := clients(t, watch)

	p := startImport(t, r.URL(), dir, nil, fifo)
	connected(t, watch, base)
	testenv.Must(t, p.cmd.Process.Signal(syscall.SIGINT))
	if code := p.wait(t, 20*time.Second); code != 1 || !strings.Contains(p.stderr.String(), "interrupted before anything was enqueued") {
		t.Errorf("FIFO without a writer: exit %d, %s", code, p.stderr.String())
	}

	// An *os.File, so the child reads the pipe itself: os/exec would
	// otherwise copy into its own pipe and wait for this one to close.
	pr, pw, err := os.Pipe()
	testenv.Must(t, err)
	defer pw.Close()
	defer pr.Close()
	_, err = io.WriteString(pw, "order_id,amount\nsig-1,1.00\n") // and the pipe stays open
	testenv.Must(t, err)
	p = startImport(t, r.URL(), dir, pr, "-")
	connected(t, watch, base)
	testenv.Must(t, p.cmd.Process.Signal(syscall.SIGTERM))
	if code := p.wait(t, 20*time.Second); code != 1 || !strings.Contains(p.stderr.String(), "interrupted") {
		t.Errorf("endless standard input: exit %d, %s", code, p.stderr.String())
	}

	big := filepath.Join(dir, "big.csv")
	writeRows(t, big, 40000)
	p = startImport(t, r.URL(), dir, nil, big, "--import-concurrency", "2")
	enqueuing(t, r, big)
	testenv.Must(t, p.cmd.Process.Signal(syscall.SIGINT))
	if code := p.wait(t, 30*time.Second); code != 1 || !strings.Contains(p.stderr.String(), "stopped early") ||
		!strings.Contains(p.stderr.String(), "run the same command again to complete it") {
		t.Errorf("interrupted import: exit %d, %s", code, p.stderr.String())
	}
	if out := p.stdout.String(); !strings.Contains(out, "at least") {
		t.Errorf("an interrupted import states exact counts: %s", out)
	}
	p = startImport(t, r.URL(), dir, nil, big)
	if code := p.wait(t, 3*time.Minute); code != 0 {
		t.Fatalf("re-run: exit %d, %s", code, p.stderr.String())
	}
	if sum := summary(t, p.stdout.String()); atoi(sum["accepted"])+atoi(sum["duplicates"]) != 40000 || atoi(sum["duplicates"]) == 0 {
		t.Errorf("re-run summary %v", sum)
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// enqueuing waits until the import of path has written rows to its batch,
// whose id it derives as the command does.
func enqueuing(t *testing.T, r *testenv.Redis, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	testenv.Must(t, err)
	plan, err := intake.Check(context.Background(), intake.Bytes(b), intake.CheckOptions{Name: filepath.Base(path)})
	testenv.Must(t, err)
	s := store.New(r.Client())
	testenv.WaitFor(t, time.Minute, "rows to be enqueued", func() bool {
		n, _ := s.BatchSize(context.Background(), plan.BatchID)
		return n > 0
	})
}

// Redis trouble is said once, in plain words, with what it means: no
// flood of connection pool lines, no "autopipeline: no batch permit".
func TestImportStatesRedisTroubleOnce(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.csv")
	writeRows(t, big, 40000)

	down := fmt.Sprintf("redis://127.0.0.1:%d/0", testenv.FreePort(t))
	p := startImport(t, down, dir, nil, big)
	if code := p.wait(t, 30*time.Second); code != 1 {
		t.Fatalf("exit %d", code)
	}
	want := "refundq import: Redis at " + down + " is unreachable: connect: connection refused"
	if got := p.stderr.String(); !strings.HasPrefix(got, want) || strings.Count(got, "\n") != 1 ||
		!strings.Contains(got, "nothing was read or enqueued") {
		t.Errorf("Redis down: stderr %q, want one line starting %q", got, want)
	}

	r := testenv.StartRedis(t)
	p = startImport(t, r.URL(), dir, nil, big, "--import-concurrency", "2")
	enqueuing(t, r, big)
	r.Pause()
	code := p.wait(t, time.Minute)
	r.Resume()
	got := p.stderr.String()
	if code != 1 || !strings.Contains(got, "Redis at "+r.URL()+" stopped answering") ||
		!strings.Contains(got, "run the same command again to complete it") || strings.Count(got, "Redis at") != 1 ||
		strings.Contains(got, "pool.go") || strings.Contains(got, "autopipeline") {
		t.Errorf("Redis paused: exit %d, stderr %q", code, got)
	}
}

// An order id may be a valid provider string and a formula at once: the
// results file a spreadsheet opens shows it as text.
func TestBatchResultsAreSpreadsheetSafe(t *testing.T) {
	o := newOpsEnv(t)
	path := filepath.Join(t.TempDir(), "f.csv")
	testenv.Must(t, os.WriteFile(path, []byte("order_id,amount\n=SUM(1)*9,1.00\n@x,full\n"), 0o600))
	if code, stdout, stderr := o.cli("import", path, "--batch-id", "formulas"); code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, stdout, stderr)
	}
	out := filepath.Join(t.TempDir(), "results.csv")
	if code, _, stderr := o.cli("batch", "formulas", "--out", out); code != 0 {
		t.Fatalf("batch: exit %d %s", code, stderr)
	}
	rows := readCSV(t, out)
	got := []string{rows[1][1], rows[2][1]}
	slices.Sort(got)
	if !slices.Equal(got, []string{"'=SUM(1)*9", "'@x"}) {
		t.Errorf("order ids in the results file %q", got)
	}
}

// refundq before batch ids came from the rows gave keyless rows
// request_ids derived from the batch id, which for a file was a digest of
// its bytes. Re-running such a file now would give every row a new
// request_id: a second refund each. The import refuses instead, whether
// the earlier run chose the batch id from the bytes or by --batch-id.
func TestImportRefusesAFileAnEarlierVersionImported(t *testing.T) {
	o := newOpsEnv(t)
	content := []byte("order_id,amount\nearly-1,1.00\nearly-2,2.00\n")
	path := filepath.Join(t.TempDir(), "early.csv")
	testenv.Must(t, os.WriteFile(path, content, 0o600))
	sum := sha256.Sum256(content)
	earlier := func(id string) {
		// What the earlier StartBatch left: no "ids" field.
		testenv.Must(t, o.Store.Client().HSet(context.Background(), "refundq:batchmeta:"+id,
			"created_at", 1, "name", "early.csv", "runs", 1).Err())
	}
	for _, c := range []struct {
		name, batch string
		args        []string
	}{
		{"by digest", "file-" + hex.EncodeToString(sum[:])[:20], nil},
		{"by api digest", "api-" + hex.EncodeToString(sum[:16]), nil},
		{"by --batch-id", "ops-2026-01", []string{"--batch-id", "ops-2026-01"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			earlier(c.batch)
			defer o.Store.Client().Del(context.Background(), "refundq:batchmeta:"+c.batch)
			code, _, stderr := o.cli(append([]string{"import", path}, c.args...)...)
			if code != 1 || !strings.Contains(stderr, "earlier refundq") || !strings.Contains(stderr, c.batch) ||
				!strings.Contains(stderr, "nothing was enqueued") || strings.Contains(stderr, "run the same command again") {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if n := o.recordCount(); n != 0 {
				t.Fatalf("%d refunds written", n)
			}
		})
	}
	// A batch this version began is no earlier batch: running it again is
	// how an interrupted import completes.
	if code, _, stderr := o.cli("import", path, "--batch-id", "ops-2026-02"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if code, stdout, stderr := o.cli("import", path, "--batch-id", "ops-2026-02"); code != 0 || summary(t, stdout)["duplicates"] != "2" {
		t.Fatalf("rerun exit %d: %s %s", code, stdout, stderr)
	}
}
