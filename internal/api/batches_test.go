package api

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"

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
	"order-5;;\r\n"

func csvReq(path, body string) req {
	return req{method: http.MethodPost, path: path, body: []byte(body), header: map[string]string{"Content-Type": "text/csv"}}
}

func ndjsonReq(path, body string) req {
	return req{method: http.MethodPost, path: path, body: []byte(body), header: map[string]string{"Content-Type": "application/x-ndjson"}}
}

func (ex *exchange) report(t *testing.T) batchReportView {
	t.Helper()
	var v batchReportView
	testenv.Must(t, json.Unmarshal(ex.body, &v))
	return v
}

func (h *harness) batch(id string) batchView {
	h.t.Helper()
	var v batchView
	ex := h.do(req{method: http.MethodGet, path: "/v1/batches/" + id}).mustStatus(h.t, http.StatusOK)
	testenv.Must(h.t, json.Unmarshal(ex.body, &v))
	return v
}

func TestBatchCSVReportsBadRowsAndQueuesTheRest(t *testing.T) {
	h := newHarness(t)
	ex := h.do(csvReq("/v1/batches?name=march.csv", batchCSV)).mustStatus(t, http.StatusAccepted)
	rep := ex.report(t)
	if rep.Accepted != 3 || rep.Duplicates != 0 || rep.Rejected != 2 || rep.ErrorsTruncated {
		t.Fatalf("report = %+v, want 3 accepted, 2 rejected", rep)
	}
	var lines []string
	for _, e := range rep.Errors {
		lines = append(lines, e.Field+"@"+strconv.Itoa(e.Line))
	}
	if !reflect.DeepEqual(lines, []string{"amount@4", "row@5"}) {
		t.Fatalf("errors = %+v, want amount on line 4 and row on line 5", rep.Errors)
	}
	if !strings.HasPrefix(rep.BatchID, "api-") || ex.header.Get("Location") != "/v1/batches/"+rep.BatchID {
		t.Fatalf("batch id %q, Location %q", rep.BatchID, ex.header.Get("Location"))
	}
	info, err := asynq.NewInspectorFromRedisClient(h.rdb).GetQueueInfo(tasks.QueueBulk)
	testenv.Must(t, err)
	if info.Pending != 3 {
		t.Fatalf("bulk queue holds %d tasks, want 3", info.Pending)
	}

	b := h.batch(rep.BatchID)
	if b.Total != 3 || b.Counts[refund.Queued] != 3 || b.Rows != 5 || b.Name != "march.csv" || b.CompletedAt == nil || b.Settled {
		t.Fatalf("batch = %+v, want 3 queued of 5 rows, complete, not settled", b)
	}

	// The same bytes again: the derived batch id and request ids match,
	// so nothing new is queued.
	again := h.do(csvReq("/v1/batches", batchCSV)).mustStatus(t, http.StatusOK).report(t)
	if again.BatchID != rep.BatchID || again.Accepted != 0 || again.Duplicates != 3 || again.Rejected != 2 {
		t.Fatalf("re-send = %+v, want the same batch with 3 duplicates", again)
	}
	if info, _ := asynq.NewInspectorFromRedisClient(h.rdb).GetQueueInfo(tasks.QueueBulk); info.Pending != 3 {
		t.Fatalf("re-send queued more tasks: %d pending", info.Pending)
	}
}

func TestBatchCountsFollowStates(t *testing.T) {
	h := newHarness(t)
	body := `{"idempotency_key":"b-1","order_id":"o-1","amount":"1.00"}
{"idempotency_key":"b-2","order_id":"o-2","amount":2}

{"idempotency_key":"b-3","order_id":"o-3"}
`
	rep := h.do(ndjsonReq("/v1/batches?batch_id=march-1", body)).mustStatus(t, http.StatusAccepted).report(t)
	if rep.BatchID != "march-1" || rep.Accepted != 3 {
		t.Fatalf("report = %+v", rep)
	}
	ids := map[string]string{}
	for _, k := range []string{"b-1", "b-2", "b-3"} {
		ids[k] = refund.DeriveRequestID(refund.DefaultMerchant, k)
	}
	h.do(req{method: http.MethodPost, path: "/v1/refunds/" + ids["b-1"] + "/cancel"}).mustStatus(t, http.StatusOK)
	h.move(ids["b-2"], refund.Queued, refund.Submitting, refund.Processing, refund.Succeeded)
	h.move(ids["b-3"], refund.Queued, refund.Submitting, refund.Processing)

	b := h.batch("march-1")
	want := map[refund.State]int64{refund.Canceled: 1, refund.Succeeded: 1, refund.Processing: 1}
	for _, st := range refund.States {
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
	bad := "{\"idempotency_key\":\"a\",\"order_id\":\"o-1\"}\n{\"idempotency_key\":\"b\",\"order_id\":\"o-2\",\"amout\":\"1\"}\nnot json\n"
	ex := h.do(ndjsonReq("/v1/batches?batch_id=strict&all_or_nothing=true", bad)).mustStatus(t, http.StatusBadRequest)
	var e struct {
		Error struct {
			Code string     `json:"code"`
			Rows []rowError `json:"rows"`
		} `json:"error"`
	}
	testenv.Must(t, json.Unmarshal(ex.body, &e))
	if e.Error.Code != codeRowsRejected || len(e.Error.Rows) != 2 || e.Error.Rows[0].Line != 2 || e.Error.Rows[1].Line != 3 {
		t.Fatalf("refusal = %s", ex.body)
	}
	if n := h.keyCount(); n != 0 {
		t.Fatalf("an all_or_nothing refusal wrote %d keys", n)
	}
	good := "{\"idempotency_key\":\"a\",\"order_id\":\"o-1\"}\n"
	h.do(ndjsonReq("/v1/batches?batch_id=strict&all_or_nothing=1", good)).mustStatus(t, http.StatusAccepted)
}

func TestBatchRefusals(t *testing.T) {
	h := newHarness(t, WithBodyLimits(0, 256))
	cases := []struct {
		name   string
		r      req
		status int
		code   string
	}{
		{"plain text", req{method: http.MethodPost, path: "/v1/batches", body: []byte("order_id\no-1\n"),
			header: map[string]string{"Content-Type": "text/plain"}}, http.StatusUnsupportedMediaType, codeMediaType},
		{"unknown column", csvReq("/v1/batches", "oder_id,amount\no-1,1.00\n"), http.StatusBadRequest, codeInvalidFile},
		{"empty csv", csvReq("/v1/batches", ""), http.StatusBadRequest, codeInvalidFile},
		{"bad batch id", csvReq("/v1/batches?batch_id=-no", "order_id\no-1\n"), http.StatusBadRequest, codeValidation},
		{"bad flag", csvReq("/v1/batches?all_or_nothing=maybe", "order_id\no-1\n"), http.StatusBadRequest, codeValidation},
		{"too large", csvReq("/v1/batches", "order_id\n"+strings.Repeat("order-123456\n", 30)), http.StatusRequestEntityTooLarge, codeTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ex := h.do(c.r).mustStatus(t, c.status)
			if e := ex.apiErr(t); e.Error.Code != c.code {
				t.Fatalf("code %q, want %q: %s", e.Error.Code, c.code, ex.body)
			}
		})
	}
	if n := h.keyCount(); n != 0 {
		t.Fatalf("refused batches wrote %d keys", n)
	}
}
