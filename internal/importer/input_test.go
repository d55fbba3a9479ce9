package importer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/importer"
	"github.com/refundq/refundq/internal/intake"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

func newProducer(t *testing.T) (*producer.Producer, *store.Redis) {
	t.Helper()
	rdb := testenv.StartRedis(t).Client()
	return producer.NewFromClient(rdb, producer.WithSource("import")), store.New(rdb)
}

// runAsync runs an import in the background; the test bounds how long it
// may take to answer.
func runAsync(ctx context.Context, p *producer.Producer, o importer.Options) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := importer.Run(ctx, p, o)
		done <- err
	}()
	return done
}

func await(t *testing.T, done <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second): // only so a hang fails instead of stalling the suite
		t.Fatalf("%s: the import did not return", what)
		return nil
	}
}

// Devices and directories are refused at once, before a byte is read:
// reading /dev/zero or /dev/urandom would never end.
func TestSpecialFilesAreRefusedAtOnce(t *testing.T) {
	p, _ := newProducer(t)
	for path, want := range map[string]string{
		"/dev/zero":    "is a device (such as /dev/zero or /dev/urandom), not a file",
		"/dev/urandom": "is a device",
		"/dev/null":    "is a device",
		t.TempDir():    "is a directory",
		filepath.Join(t.TempDir(), "missing.csv"): "no such file or directory",
	} {
		err := await(t, runAsync(context.Background(), p, importer.Options{Path: path}), path)
		if !intake.IsInputError(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an input error with %q", path, err, want)
		}
	}
}

// A FIFO works like a file that can be read once (it is spooled), and an
// import waiting for its writer, or reading from a writer that never
// ends, stops on Ctrl-C.
func TestFIFOs(t *testing.T) {
	p, s := newProducer(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "refunds.fifo")
	testenv.Must(t, syscall.Mkfifo(fifo, 0o600))

	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			fmt.Fprint(f, "order_id,amount\nff-1,1.00\nff-2,full\n")
			f.Close()
		}
	}()
	res, err := importer.Run(context.Background(), p, importer.Options{Path: fifo})
	testenv.Must(t, err)
	if res.Accepted != 2 {
		t.Fatalf("import from a FIFO %+v", res.BatchReport)
	}
	if n, _ := s.BatchSize(context.Background(), res.BatchID); n != 2 {
		t.Errorf("batch holds %d", n)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := runAsync(ctx, p, importer.Options{Path: fifo}) // no writer: open blocks
	cancel()
	if err := await(t, done, "waiting for a writer"); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled while waiting for a writer: %v", err)
	}

	wrote := make(chan *os.File, 1)
	ctx, cancel = context.WithCancel(context.Background())
	done = runAsync(ctx, p, importer.Options{Path: fifo})
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err == nil {
			fmt.Fprint(f, "order_id,amount\nfw-1,1.00\n") // and never closes
		}
		wrote <- f
	}()
	f := <-wrote
	cancel() // while the import waits for more
	if err := await(t, done, "reading a writer that never ends"); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled while reading: %v", err)
	}
	if f != nil {
		f.Close()
	}
}

// progress records the passes.
type progress struct{ passes []string }

func (p *progress) Start(pass string, _ int) { p.passes = append(p.passes, pass) }
func (p *progress) Set(int)                  {}
func (p *progress) Finish()                  {}
func (p *progress) String() string           { return strings.Join(p.passes, ",") }

// A pipe given as a path (bash's <(...) gives /dev/fd/N) is read once
// and spooled for the later passes; an endless one stops on cancel.
func TestPipePath(t *testing.T) {
	p, _ := newProducer(t)
	r, w, err := os.Pipe()
	testenv.Must(t, err)
	defer r.Close()
	go func() {
		fmt.Fprint(w, "order_id,amount\npp-1,1.00\npp-2,2.00\n")
		w.Close()
	}()
	pr := &progress{}
	res, err := importer.Run(context.Background(), p, importer.Options{Path: "/dev/fd/" + strconv.Itoa(int(r.Fd())),
		AllOrNothing: true, Progress: pr})
	testenv.Must(t, err)
	if res.Accepted != 2 || pr.String() != "read,check,import" {
		t.Errorf("result %+v, passes %s", res.BatchReport, pr)
	}
	if got := importer.DefaultRejectsPath("/dev/fd/" + strconv.Itoa(int(r.Fd()))); strings.HasPrefix(got, "/dev/") {
		t.Errorf("rejects of a pipe would go to %s", got)
	}
}

func TestDefaultRejectsPath(t *testing.T) {
	for in, want := range map[string]string{
		"-":                  "stdin.rejects.csv",
		"/dev/stdin":         "stdin.rejects.csv",
		"refunds.csv":        "refunds.csv.rejects.csv",
		"/data/march.jsonl":  "/data/march.jsonl.rejects.csv",
		"/dev/fd/63":         "63.rejects.csv",
		"/proc/self/fd/0":    "0.rejects.csv",
		"./relative/x.jsonl": "./relative/x.jsonl.rejects.csv",
	} {
		if in == "/proc/self/fd/0" {
			if fi, err := os.Stat(in); err != nil || fi.Mode().IsRegular() {
				continue // only when stdin is not a file
			}
		}
		if got := importer.DefaultRejectsPath(in); got != want {
			t.Errorf("DefaultRejectsPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// A rejects file that cannot be written is found before anything is
// read, and the file being imported is never overwritten by it.
func TestRejectsFileProblemsComeFirst(t *testing.T) {
	p, s := newProducer(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "r.csv")
	testenv.Must(t, os.WriteFile(path, []byte("order_id,amount\nrj-1,0\nrj-2,1\n"), 0o600))
	for name, rejects := range map[string]string{
		"no such directory": filepath.Join(dir, "nope", "rejects.csv"),
		"the input itself":  path,
	} {
		_, err := importer.Run(context.Background(), p, importer.Options{Path: path, RejectsPath: rejects})
		var re *importer.RejectsError
		if !errors.As(err, &re) {
			t.Errorf("%s: err = %v, want a RejectsError", name, err)
		}
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "rj-2,1") {
		t.Fatalf("the input was overwritten: %q", b)
	}
	if keys, _ := s.Client().DBSize(context.Background()).Result(); keys != 0 {
		t.Errorf("%d keys written although the rejects file could not be", keys)
	}
}

// A file that changes between the passes is not imported as if it had
// not: its rows are still each identified by themselves.
func TestFileChangedDuringTheImport(t *testing.T) {
	p, _ := newProducer(t)
	path := filepath.Join(t.TempDir(), "moving.csv")
	testenv.Must(t, os.WriteFile(path, []byte("order_id,amount\nmv-1,1\n"), 0o600))
	pr := &rewrite{path: path}
	_, err := importer.Run(context.Background(), p, importer.Options{Path: path, Progress: pr})
	if !errors.Is(err, intake.ErrChanged) {
		t.Fatalf("err = %v, want ErrChanged", err)
	}
}

// rewrite appends a row to the file once the first pass has read it.
type rewrite struct{ path string }

func (r *rewrite) Start(pass string, _ int) {
	if pass == "import" {
		f, _ := os.OpenFile(r.path, os.O_APPEND|os.O_WRONLY, 0)
		fmt.Fprint(f, "mv-2,2\n")
		f.Close()
	}
}
func (*rewrite) Set(int) {}
func (*rewrite) Finish() {}

// cancelAt cancels the import once it has finished n rows, as Ctrl-C would.
type cancelAt struct {
	n      int
	cancel context.CancelFunc
	pass   string
}

func (c *cancelAt) Start(pass string, _ int) { c.pass = pass }
func (c *cancelAt) Finish()                  {}
func (c *cancelAt) Set(done int) {
	if c.pass == "import" && done >= c.n {
		c.cancel()
	}
}

func TestInterruptedImportCompletesWhenRunAgain(t *testing.T) {
	p, s := newProducer(t)
	path := filepath.Join(t.TempDir(), "big.csv")
	var b strings.Builder
	b.WriteString("transaction_id,amount\n")
	for i := 1; i <= 3000; i++ {
		fmt.Fprintf(&b, "txn-%06d,1.%02d\n", i, i%100)
	}
	testenv.Must(t, os.WriteFile(path, []byte(b.String()), 0o600))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := importer.Run(ctx, p, importer.Options{Path: path, Concurrency: 2, Progress: &cancelAt{n: 500, cancel: cancel}})
	if !errors.Is(err, context.Canceled) || !res.Started {
		t.Fatalf("err = %v, started %v; want context.Canceled after starting", err, res.Started)
	}
	first, _ := s.BatchSize(context.Background(), res.BatchID)
	if first == 0 || first == 3000 {
		t.Fatalf("interrupted import left %d refunds; the test needs a partial batch", first)
	}
	meta, err := s.Batch(context.Background(), res.BatchID)
	testenv.Must(t, err)
	if !meta.CompletedAt.IsZero() || meta.Name != "big.csv" {
		t.Errorf("metadata after interruption %+v", meta)
	}

	again, err := importer.Run(context.Background(), p, importer.Options{Path: path})
	testenv.Must(t, err)
	if again.BatchID != res.BatchID || again.Accepted+again.Duplicates != 3000 || again.Duplicates < first {
		t.Errorf("re-run %+v after %d refunds", again.BatchReport, first)
	}
	if n, _ := s.BatchSize(context.Background(), res.BatchID); n != 3000 {
		t.Errorf("batch holds %d refunds after the re-run, want 3000", n)
	}
}
