package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
)

func TestBatchReportRoundTripsAndExpires(t *testing.T) {
	s, rdb, ctx := started(t, store.WithRetention(time.Hour))
	if _, err := s.Report(ctx, "b-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("report of an unknown batch: %v", err)
	}
	testenv.Must(t, s.StartReport(ctx, "b-1", 9, "c-1", time.Minute))
	testenv.Must(t, s.AppendReport(ctx, "b-1", []store.ReportRow{{Line: 2, Field: "amount", Reason: "is blank"}, {Line: 5, Field: "row", Reason: "x"}}))
	testenv.Must(t, s.AppendReport(ctx, "b-1", nil)) // a heartbeat
	testenv.Must(t, s.AppendReport(ctx, "b-1", []store.ReportRow{{Line: 7, Field: "json", Reason: "y"}}))
	rep, err := s.Report(ctx, "b-1")
	testenv.Must(t, err)
	if rep.State != store.ReportRunning || rep.Rows != 9 || rep.Problems != 3 || rep.StartedAt.IsZero() {
		t.Fatalf("running report %+v", rep)
	}
	rows, err := s.ReportRows(ctx, "b-1", 1, 5)
	testenv.Must(t, err)
	if len(rows) != 2 || rows[0].Line != 5 || rows[1].Field != "json" {
		t.Fatalf("rows from 1: %+v", rows)
	}
	testenv.Must(t, s.FinishReport(ctx, "b-1", store.BatchReport{State: store.ReportRefused, Message: "m", Rows: 9, Rejected: 3}))
	rep, err = s.Report(ctx, "b-1")
	testenv.Must(t, err)
	if rep.State != store.ReportRefused || rep.Message != "m" || rep.Rejected != 3 || rep.FinishedAt.IsZero() {
		t.Fatalf("finished report %+v", rep)
	}
	for _, k := range []string{"refundq:batchreport:{b-1}", "refundq:batchreport:{b-1}:rows"} {
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Hour {
			t.Errorf("%s has TTL %s, want the retention", k, ttl)
		}
	}
	// A new run starts a new report.
	testenv.Must(t, s.StartReport(ctx, "b-1", 4, "c-1", time.Minute))
	// ... but not over a live run's, wherever that run is; a run silent
	// for longer than alive is dead and its report is taken over.
	if err := s.StartReport(ctx, "b-1", 5, "c-1", time.Minute); !errors.Is(err, store.ErrReportRunning) {
		t.Fatalf("a second run over a live one: %v", err)
	}
	if err := s.StartReport(ctx, "b-1", 5, "c-2", time.Minute); !errors.Is(err, store.ErrReportBusy) {
		t.Fatalf("a run of other content over a live one: %v", err)
	}
	if rep, _ := s.Report(ctx, "b-1"); rep.Rows != 4 {
		t.Fatalf("the live run's report was changed: %+v", rep)
	}
	testenv.Must(t, s.StartReport(ctx, "b-1", 4, "c-1", 0))
	if rep, _ := s.Report(ctx, "b-1"); rep.Problems != 0 || rep.State != store.ReportRunning || rep.Message != "" {
		t.Errorf("report of a new run %+v", rep)
	}
}
