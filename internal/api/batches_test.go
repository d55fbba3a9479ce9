package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/internal/testenv"
)

// A CSV as a spreadsheet exports it: BOM, ';', CRLF, a quoted field.
const batchCSV = "\ufefforder_id;amount;description\r\n" +
	"order-1;10.00;\"Broken; returned\"\r\n" +
	"order-2;5.5;\r\n" +
	"order-3;1,50;\r\n" + // line 4: bad amount
	"order-4;2.00;extra;field\r\n" + // line 5: wrong field count
	"order-5;;\r\n" + // line 6: a blank amount is not a full refund
	"order-6;full;\r\n"

func csvReq(path, body string) req {
	return req{method: http.MethodPost, path: path, body: []byte(body), header: map[string]string{"Content-Type": "text/csv"}}
}

func ndjsonReq(path, body string) req {
	return req{method: http.MethodPost, path: path, body: []byte(body), header: map[string]string{"Content-Type": "application/x-ndjson"}}
}

// upload sends a batch and returns its 202 answer.
func (h *harness) upload(r req) batchUploadView {
	h.t.Helper()
	ex := h.do(r).mustStatus(h.t, http.StatusAccepted)
	var v batchUploadView
	testenv.Must(h.t, json.Unmarshal(ex.body, &v))
	if ex.header.Get("Location") != "/v1/batches/"+v.BatchID || v.ErrorsURL != "/v1/batches/"+v.BatchID+"/errors" || v.Status != "running" {
		h.t.Fatalf("upload answered %s, Location %q", ex.body, ex.header.Get("Location"))
	}
	return v
}

func (h *harness) batch(id string) batchView {
	h.t.Helper()
	var v batchView
	ex := h.do(req{method: http.MethodGet, path: "/v1/batches/" + id}).mustStatus(h.t, http.StatusOK)
	testenv.Must(h.t, json.Unmarshal(ex.body, &v))
	return v
}

// settled waits until the batch's latest run has ended.
func (h *harness) settled(id string) batchView {
	h.t.Helper()
	var v batchView
	testenv.WaitFor(h.t, 60*time.Second, "batch "+id+" to finish", func() bool {
		v = h.batch(id)
		return v.Status != store.ReportRunning
	})
	return v
}

// batchErrors fetches every row problem of a batch, page by page.
func (h *harness) batchErrors(id string, limit int) []rowError {
	h.t.Helper()
	var all []rowError
	for offset := 0; ; {
		path := fmt.Sprintf("/v1/batches/%s/errors?offset=%d&limit=%d", id, offset, limit)
		var v batchErrorsView
		testenv.Must(h.t, json.Unmarshal(h.do(req{method: http.MethodGet, path: path}).mustStatus(h.t, http.StatusOK).body, &v))
		all = append(all, v.Errors...)
		if v.NextOffset == nil {
			if len(all) != v.Total {
				h.t.Fatalf("%d errors fetched, total %d", len(all), v.Total)
			}
			return all
		}
		offset = *v.NextOffset
	}
}

func fieldLines(errs []rowError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field+"@"+strconv.Itoa(e.Line))
	}
	return out
}

func TestBatchCSVReportsBadRowsAndQueuesTheRest(t *testing.T) {
	h := newHarness(t)
	up := h.upload(csvReq("/v1/batches?name=march.csv", batchCSV))
	if !strings.HasPrefix(up.BatchID, "batch-") || up.Rows != 6 {
		t.Fatalf("upload %+v", up)
	}
	b := h.settled(up.BatchID)
	if b.Status != store.ReportComplete || b.Total != 3 || b.Counts[refund.Queued] != 3 || b.Rows != 6 || b.Rejected != 3 ||
		b.Name != "march.csv" || b.CompletedAt == nil || b.Settled {
		t.Fatalf("batch = %+v, want 3 queued of 6 rows, complete, not settled", b)
	}
	if got := fieldLines(h.batchErrors(up.BatchID, 2)); !reflect.DeepEqual(got, []string{"amount@4", "row@5", "amount@6"}) {
		t.Fatalf("errors = %v, want amount on line 4, row on line 5, amount on line 6", got)
	}
	info, err := asynq.NewInspectorFromRedisClient(h.rdb).GetQueueInfo(tasks.QueueBulk)
	testenv.Must(t, err)
	if info.Pending != 3 {
		t.Fatalf("bulk queue holds %d tasks, want 3", info.Pending)
	}

	// The same rows again, written differently: the batch id and the
	// request ids come from the content, so nothing new is queued.
	lf := strings.ReplaceAll(strings.TrimPrefix(batchCSV, "\ufeff"), "\r\n", "\n")
	again := h.upload(csvReq("/v1/batches", lf))
	if again.BatchID != up.BatchID {
		t.Fatalf("the same rows got batch %s, then %s", up.BatchID, again.BatchID)
	}
	b = h.settled(again.BatchID)
	if b.Runs != 2 || b.Duplicates != 3 || b.Total != 3 || len(h.batchErrors(up.BatchID, 1000)) != 3 {
		t.Fatalf("re-send = %+v, want the same batch with 3 duplicates", b)
	}
	if info, _ := asynq.NewInspectorFromRedisClient(h.rdb).GetQueueInfo(tasks.QueueBulk); info.Pending != 3 {
		t.Fatalf("re-send queued more tasks: %d pending", info.Pending)
	}
}

func TestBatchCountsFollowStates(t *testing.T) {
	h := newHarness(t)
	body := `{"idempotency_key":"b-1","order_id":"o-1","amount":"1.00"}
{"idempotency_key":"b-2","order_id":"o-2","amount":2}

{"idempotency_key":"b-3","order_id":"o-3","amount":"full"}
`
	up := h.upload(ndjsonReq("/v1/batches?batch_id=march-1", body))
	if up.BatchID != "march-1" || up.Rows != 3 {
		t.Fatalf("upload %+v", up)
	}
	if b := h.settled("march-1"); b.Accepted != 3 {
		t.Fatalf("batch %+v", b)
	}
	ids := map[string]string{}
	for _, k := range []string{"b-1", "b-2", "b-3"} {
		ids[k] = refund.DeriveRequestID(refund.DefaultMerchant, k)
	}
	h.do(req{method: http.MethodPost, path: "/v1/refunds/" + ids["b-1"] + "/cancel"}).mustStatus(t, http.StatusOK)
	h.move(ids["b-2"], refund.Queued, refund.Submitting, refund.Processing, refund.Succeeded)
	h.move(ids["b-3"], refund.Queued, refund.Submitting, refund.Processing)

	b := h.batch("march-1")
	want := map[refund.State]int{refund.Canceled: 1, refund.Succeeded: 1, refund.Processing: 1}
	for _, st := range refund.States() {
		if b.Counts[st] != want[st] {
			t.Fatalf("counts = %v, want %v", b.Counts, want)
		}
	}
	if b.Settled {
		t.Fatal("a batch with a refund in processing is reported settled")
	}
	h.move(ids["b-3"], refund.Processing, refund.Failed)
	if b := h.batch("march-1"); !b.Settled {
		t.Fatalf("every refund is terminal but settled is false: %+v", b)
	}
	got := h.do(req{method: http.MethodGet, path: "/v1/refunds/" + ids["b-2"]}).mustStatus(t, http.StatusOK).refund(t)
	if got.BatchID != "march-1" || *got.Amount != "2.00" {
		t.Fatalf("refund of the batch = %+v", got)
	}
	if full := h.do(req{method: http.MethodGet, path: "/v1/refunds/" + ids["b-3"]}).mustStatus(t, http.StatusOK).refund(t); full.Amount != nil {
		t.Fatalf("the row that said full is a refund of %s", *full.Amount)
	}
}

// move walks a refund through states the way a worker would.
func (h *harness) move(id string, path ...refund.State) {
	h.t.Helper()
	for i := 1; i < len(path); i++ {
		_, err := h.server.store.Transition(context.Background(), id,
			store.Change{From: []refund.State{path[i-1]}, To: path[i], Event: "state"})
		testenv.Must(h.t, err)
	}
}

func TestBatchAllOrNothing(t *testing.T) {
	h := newHarness(t)
	bad := "{\"idempotency_key\":\"a\",\"order_id\":\"o-1\",\"amount\":1}\n{\"idempotency_key\":\"b\",\"order_id\":\"o-2\",\"amount\":1,\"amout\":\"1\"}\nnot json\n"
	h.upload(ndjsonReq("/v1/batches?batch_id=strict&all_or_nothing=true", bad))
	b := h.settled("strict")
	if b.Status != store.ReportRefused || b.Total != 0 || b.Rejected != 2 || !strings.Contains(b.Message, "nothing was enqueued") {
		t.Fatalf("refused batch = %+v", b)
	}
	if got := fieldLines(h.batchErrors("strict", 1000)); !reflect.DeepEqual(got, []string{"amout@2", "json@3"}) {
		t.Fatalf("errors %v", got)
	}
	if n := h.refundKeys(); n != 0 {
		t.Fatalf("an all_or_nothing refusal wrote %d refundq records", n)
	}
	good := "{\"idempotency_key\":\"a\",\"order_id\":\"o-1\",\"amount\":1}\n"
	h.upload(ndjsonReq("/v1/batches?batch_id=strict&all_or_nothing=1", good))
	if b := h.settled("strict"); b.Status != store.ReportComplete || b.Total != 1 || len(h.batchErrors("strict", 10)) != 0 {
		t.Fatalf("clean batch = %+v", b)
	}
}

// refundKeys counts refund records, to prove a refused batch wrote none.
func (h *harness) refundKeys() int {
	h.t.Helper()
	keys, err := h.rdb.Keys(context.Background(), "refundq:{*}").Result()
	testenv.Must(h.t, err)
	return len(keys)
}

func TestBatchRefusals(t *testing.T) {
	h := newHarness(t, WithBodyLimits(0, 256), WithBatchMemory(1024))
	type refusal struct {
		name   string
		r      req
		status int
		code   string
		field  string
	}
	cases := []refusal{
		{"plain text", req{method: http.MethodPost, path: "/v1/batches", body: []byte("order_id,amount\no-1,1\n"),
			header: map[string]string{"Content-Type": "text/plain"}}, http.StatusUnsupportedMediaType, codeMediaType, ""},
		{"unknown column", csvReq("/v1/batches", "oder_id,amount\no-1,1.00\n"), http.StatusBadRequest, codeInvalidFile, ""},
		{"no amount column", csvReq("/v1/batches", "order_id\no-1\n"), http.StatusBadRequest, codeInvalidFile, ""},
		{"empty csv", csvReq("/v1/batches", ""), http.StatusBadRequest, codeInvalidFile, ""},
		{"empty jsonl", ndjsonReq("/v1/batches", "\n\n"), http.StatusBadRequest, codeInvalidFile, ""},
		{"binary", csvReq("/v1/batches", "\x00\x01\x02"), http.StatusBadRequest, codeInvalidFile, ""},
		{"too large", csvReq("/v1/batches", "order_id,amount\n"+strings.Repeat("order-123456,1\n", 30)), http.StatusRequestEntityTooLarge, codeTooLarge, ""},
	}
	// A bad query is refused however good the file: these send a good one.
	badQueries := []struct{ name, query, field string }{
		{"bad batch id", "batch_id=-no", "batch_id"},
		{"bad flag", "all_or_nothing=maybe", "all_or_nothing"},
		{"flag and ;", "all_or_nothing=true;x=1", "all_or_nothing"},
		{"flag in camel case", "allOrNothing=true", "allOrNothing"},
		{"flag without a value", "all_or_nothing", "all_or_nothing"},
		{"flag with an empty value", "all_or_nothing=", "all_or_nothing"},
		{"flag twice", "all_or_nothing=true&all_or_nothing=false", "all_or_nothing"},
		{"bad escape", "batch_id=%zz", "batch_id"},
	}
	for _, q := range badQueries {
		cases = append(cases, refusal{q.name, csvReq("/v1/batches?"+q.query, "order_id,amount\no-1,1\n"), http.StatusBadRequest, codeValidation, q.field})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ex := h.do(c.r).mustStatus(t, c.status)
			e := ex.apiErr(t)
			if e.Error.Code != c.code || c.field != "" && !reflect.DeepEqual(e.fieldNames(), []string{c.field}) {
				t.Fatalf("got %s, want code %q naming %q", ex.body, c.code, c.field)
			}
		})
	}
	if n := h.keyCount(); n != 0 {
		t.Fatalf("refused batches wrote %d keys", n)
	}
}

// The answer comes once the body is read, before the long work: a batch
// that takes far longer to enqueue than the write timeout still answers,
// is fully enqueued, and every bad row can be fetched afterwards.
func TestBatchAnswersBeforeTheLongWork(t *testing.T) {
	const write = 300 * time.Millisecond // shorter than the check pass of 100k rows
	h := newHarness(t, WithTimeouts(Timeouts{Write: write}))
	var b strings.Builder
	b.WriteString("order_id,amount\n")
	const rows, badEvery = 100000, 20
	for i := 1; i <= rows; i++ {
		amount := "1.00"
		if i%badEvery == 0 {
			amount = ""
		}
		fmt.Fprintf(&b, "long-%06d,%s\n", i, amount)
	}
	start := time.Now()
	up := h.upload(csvReq("/v1/batches", b.String()))
	answered := time.Since(start)
	v := h.settled(up.BatchID)
	if v.Status != store.ReportComplete || v.Total != rows-rows/badEvery || v.Rejected != rows/badEvery {
		t.Fatalf("batch %+v", v)
	}
	errs := h.batchErrors(up.BatchID, 700)
	if len(errs) != rows/badEvery || errs[0].Line != badEvery+1 || errs[len(errs)-1].Line != rows+1 ||
		errs[0].Field != "amount" || !strings.Contains(errs[0].Reason, "full for a full refund") {
		t.Fatalf("%d errors, first %+v, last %+v", len(errs), errs[0], errs[len(errs)-1])
	}
	took := v.UpdatedAt.Sub(start)
	if took < write {
		t.Fatalf("the batch took %s to enqueue, less than the write timeout: the test proves nothing", took)
	}
	t.Logf("%d rows answered in %s, enqueued by %s", rows, answered, took)
}

// Batch bodies in flight share a memory cap: while one is being read,
// another that would go past the cap gets 503 with Retry-After, and once
// the first is done there is room again.
func TestBatchMemoryCap(t *testing.T) {
	const limit = 4096
	h := newHarness(t, WithBodyLimits(0, limit), WithBatchMemory(uploadCost(limit)))
	pr, pw := io.Pipe()
	first := make(chan *http.Response, 1)
	go func() {
		r := h.newRequest(csvReq("/v1/batches", ""))
		r.Body, r.ContentLength = pr, -1 // a slow upload of unknown length holds the whole limit
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Error(err)
		}
		first <- res
	}()
	_, err := io.WriteString(pw, "order_id,amount\nmem-1,1.00\n")
	testenv.Must(t, err)
	testenv.WaitFor(t, 10*time.Second, "the slow upload to hold its memory", func() bool {
		if h.server.inflight.TryAcquire(1) {
			h.server.inflight.Release(1)
			return false
		}
		return true
	})
	ex := h.do(csvReq("/v1/batches", "order_id,amount\nmem-2,1.00\n")).mustStatus(t, http.StatusServiceUnavailable)
	if ex.header.Get("Retry-After") != strconv.Itoa(retryAfterBusy) || ex.apiErr(t).Error.Code != codeUnavailable {
		t.Fatalf("busy answer: %v %s", ex.header, ex.body)
	}
	testenv.Must(t, pw.Close())
	res := <-first
	if res == nil || res.StatusCode != http.StatusAccepted {
		t.Fatalf("the slow upload: %v", res)
	}
	res.Body.Close()
	testenv.WaitFor(t, 10*time.Second, "the first batch's memory to be given back", func() bool {
		if !h.server.inflight.TryAcquire(uploadCost(limit)) {
			return false
		}
		h.server.inflight.Release(uploadCost(limit))
		return true
	})
	h.upload(csvReq("/v1/batches", "order_id,amount\nmem-2,1.00\n"))
}

func TestBatchUploadWithRedisDown(t *testing.T) {
	h := newHarness(t)
	h.redis.Kill()
	ex := h.do(csvReq("/v1/batches", "order_id,amount\ndown-1,1.00\n")).mustStatus(t, http.StatusServiceUnavailable)
	if e := ex.apiErr(t); e.Error.Code != codeUnavailable || !strings.Contains(e.Error.Message, "nothing was enqueued") {
		t.Fatalf("answer %s", ex.body)
	}
	if h.server.inflight.TryAcquire(h.server.batchMemory) {
		h.server.inflight.Release(h.server.batchMemory)
	} else {
		t.Fatal("a refused upload kept its memory")
	}
}

// A run whose server died leaves its report running with an old
// heartbeat: GET says it is incomplete and how to complete it.
func TestStaleRunShowsIncomplete(t *testing.T) {
	now := time.Now()
	rep := &store.BatchReport{State: store.ReportRunning, StartedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-staleAfter - time.Second), Rows: 5}
	v := viewBatch("b-1", nil, rep, 0, nil, now)
	if v.Status != store.ReportIncomplete || !strings.Contains(v.Message, "send the same upload again") || v.Rows != 5 {
		t.Errorf("stale run shown as %+v", v)
	}
	rep.UpdatedAt = now.Add(-heartbeatEvery)
	if v := viewBatch("b-1", nil, rep, 0, nil, now); v.Status != store.ReportRunning {
		t.Errorf("live run shown as %+v", v)
	}
}

// Shutting the server down stops a batch run it cannot finish in time,
// and the run records that it is incomplete.
func TestShutdownRecordsAnUnfinishedRun(t *testing.T) {
	h := newHarness(t, WithTimeouts(Timeouts{Shutdown: 50 * time.Millisecond}))
	var b strings.Builder
	b.WriteString("order_id,amount\n")
	for i := range 200000 {
		fmt.Fprintf(&b, "sd-%07d,1.00\n", i)
	}
	up := h.upload(csvReq("/v1/batches", b.String()))
	h.stop()
	rep, err := h.server.store.Report(context.Background(), up.BatchID)
	testenv.Must(t, err)
	if rep.State != store.ReportIncomplete || !strings.Contains(rep.Message, "the server stopped") {
		t.Fatalf("report after shutdown %+v", rep)
	}
}

// An upload an earlier refundq took (its batch id was the body's digest,
// and its keyless rows' request_ids came from that id) is refused, not
// refunded a second time under new request_ids.
func TestBatchAnEarlierVersionTookIsRefused(t *testing.T) {
	h := newHarness(t)
	body := "order_id,amount\nearly-1,1.00\nearly-2,2.00\n"
	sum := sha256.Sum256([]byte(body))
	earlier := "api-" + hex.EncodeToString(sum[:16])
	testenv.Must(t, h.rdb.HSet(context.Background(), "refundq:batchmeta:"+earlier, "created_at", 1, "runs", 1).Err())
	v := h.upload(csvReq("/v1/batches", body))
	b := h.settled(v.BatchID)
	if b.Status != store.ReportRefused || b.Total != 0 || !strings.Contains(b.Message, earlier) ||
		!strings.Contains(b.Message, "nothing was enqueued") {
		t.Fatalf("batch = %+v", b)
	}
	if n := h.refundKeys(); n != 0 {
		t.Fatalf("%d refunds written", n)
	}
}

// An upload under a batch_id whose run of other rows is going, here or on
// another server of the same Redis, is refused with 409 and enqueues
// nothing; it is never answered 202 and dropped. One with the same rows
// is the same batch.
func TestBatchIDBusyWithOtherRows(t *testing.T) {
	h := newHarness(t)
	body := "order_id,amount\nbusy-1,1.00\n"
	// Another server's live run of other rows under the same id.
	testenv.Must(t, h.server.store.StartReport(context.Background(), "daily", 150000, "other-rows", time.Minute))
	ex := h.do(csvReq("/v1/batches?batch_id=daily", body)).mustStatus(t, http.StatusConflict)
	if !strings.Contains(string(ex.body), codeBatchBusy) || !strings.Contains(string(ex.body), "nothing of this upload was enqueued") {
		t.Fatalf("body %s", ex.body)
	}
	if n := h.refundKeys(); n != 0 {
		t.Fatalf("%d refunds written", n)
	}
	// Once that run is dead (no heartbeat), the upload runs.
	testenv.Must(t, h.server.store.StartReport(context.Background(), "daily", 150000, "other-rows", 0))
	testenv.Must(t, h.rdb.HSet(context.Background(), "refundq:batchreport:{daily}", "updated_at", 1).Err())
	h.upload(csvReq("/v1/batches?batch_id=daily", body))
	if b := h.settled("daily"); b.Status != store.ReportComplete || b.Total != 1 {
		t.Fatalf("batch %+v", b)
	}
}

// A run stores a bounded number of row problems in Redis and says how
// many more it only counted.
func TestBatchStoresBoundedProblems(t *testing.T) {
	h := newHarness(t)
	h.server.maxProblems = 3
	body := "order_id,amount\nbp-1,\nbp-2,\nbp-3,\nbp-4,\nbp-5,\nbp-6,1.00\n"
	v := h.upload(csvReq("/v1/batches", body))
	b := h.settled(v.BatchID)
	if b.Status != store.ReportComplete || b.Rejected != 5 || b.Total != 1 ||
		!strings.Contains(b.Message, "the first 3 row problems are stored; 2 more were counted but not stored") {
		t.Fatalf("batch %+v", b)
	}
	if errs := h.batchErrors(v.BatchID, 10); len(errs) != 3 || errs[2].Line != 4 {
		t.Fatalf("stored problems %+v", errs)
	}
}
