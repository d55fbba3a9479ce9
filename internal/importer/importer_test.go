package importer_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/importer"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

// cancelAt cancels the import once it has finished n rows, as Ctrl-C would.
type cancelAt struct {
	n      int
	cancel context.CancelFunc
	passes []string
}

func (c *cancelAt) Start(pass string, _ int) { c.passes = append(c.passes, pass) }
func (c *cancelAt) Finish()                  {}
func (c *cancelAt) Set(done int) {
	if c.n > 0 && done >= c.n {
		c.cancel()
	}
}

func TestInterruptedImportCompletesWhenRunAgain(t *testing.T) {
	rdb := testenv.StartRedis(t).Client()
	p := producer.NewFromClient(rdb, producer.WithSource("import"))
	s := store.New(rdb)
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
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
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
	meta, err = s.Batch(context.Background(), res.BatchID)
	testenv.Must(t, err)
	if meta.CompletedAt.IsZero() || meta.Runs != 2 || meta.Rows != 3000 {
		t.Errorf("metadata after re-run %+v", meta)
	}
}

func TestAllOrNothingChecksBeforeImporting(t *testing.T) {
	rdb := testenv.StartRedis(t).Client()
	p := producer.NewFromClient(rdb)
	path := filepath.Join(t.TempDir(), "two.csv")
	testenv.Must(t, os.WriteFile(path, []byte("order_id,amount\no-1,1\no-2,1\n"), 0o600))
	pr := &cancelAt{}
	res, err := importer.Run(context.Background(), p, importer.Options{Path: path, AllOrNothing: true, Progress: pr})
	testenv.Must(t, err)
	if !res.Enqueued || res.Accepted != 2 || strings.Join(pr.passes, ",") != "check,import" {
		t.Errorf("result %+v, passes %v", res, pr.passes)
	}
}
