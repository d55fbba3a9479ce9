package intake_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/refundq/refundq/internal/intake"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

func check(t *testing.T, f intake.Format, content string) *intake.Plan {
	t.Helper()
	pl, err := intake.Check(context.Background(), intake.Bytes(content), intake.CheckOptions{Format: f})
	if err != nil {
		t.Fatalf("Check(%q): %v", content, err)
	}
	return pl
}

// The batch id comes from what the rows say: none of the ways of writing
// the same rows that a person cannot see, or that a spreadsheet changes
// on its own, changes it; the API and the CLI both derive it here.
func TestBatchIDIgnoresHowTheRowsAreWritten(t *testing.T) {
	base := "order_id,amount,description\nA1,10.50,Broken box\nA2,full,\nA3,3,x\n"
	same := map[string]struct {
		f       intake.Format
		content string
	}{
		"CRLF":               {intake.CSV, strings.ReplaceAll(base, "\n", "\r\n")},
		"BOM":                {intake.CSV, "\ufeff" + base},
		"no trailing EOL":    {intake.CSV, strings.TrimSuffix(base, "\n")},
		"quoted":             {intake.CSV, "\"order_id\",\"amount\",\"description\"\n\"A1\",\"10.50\",\"Broken box\"\n\"A2\",\"full\",\"\"\n\"A3\",\"3\",\"x\"\n"},
		"column order":       {intake.CSV, "description,ORDER_ID,Amount\nBroken box,A1,10.50\n,A2,full\nx,A3,3\n"},
		"semicolons":         {intake.CSV, "order_id;amount;description\nA1;10.50;Broken box\nA2;full;\nA3;3;x\n"},
		"spaces and NBSP":    {intake.CSV, "order_id , amount,description\n A1 ,10.50\u00a0, Broken box \nA2, FULL ,\u200b\nA3 , 3.00,x\n"},
		"blank lines":        {intake.CSV, "\norder_id,amount,description\n\nA1,10.50,Broken box\n,,\nA2,full,\n\nA3,3,x\n\n"},
		"amount written 3.0": {intake.CSV, "order_id,amount,description\nA1,10.5,Broken box\nA2,full,\nA3,3.0,x\n"},
		"rows sorted":        {intake.CSV, "order_id,amount,description\nA3,3,x\nA2,full,\nA1,10.50,Broken box\n"},
		"JSONL":              {intake.JSONL, `{"order_id":"A1","amount":"10.50","description":"Broken box"}` + "\n" + `{"amount":"full","order_id":"A2"}` + "\r\n" + `{"order_id":"A3","amount":3,"description":" x"}`},
	}
	want := check(t, intake.CSV, base)
	if !strings.HasPrefix(want.BatchID, "batch-") || want.Rows != 3 {
		t.Fatalf("plan %+v", want)
	}
	for name, v := range same {
		if got := check(t, v.f, v.content); got.BatchID != want.BatchID {
			t.Errorf("%s: batch id %s, want %s", name, got.BatchID, want.BatchID)
		}
	}
	for name, content := range map[string]string{
		"an amount":    strings.Replace(base, "10.50", "10.51", 1),
		"a row more":   base + "A4,1,\n",
		"a row less":   strings.Replace(base, "A3,3,x\n", "", 1),
		"full to 10":   strings.Replace(base, "full", "10", 1),
		"a bad row":    base + "A5,0,\n",
		"repeated row": base + "A3,3,x\n",
	} {
		if got := check(t, intake.CSV, content); got.BatchID == want.BatchID {
			t.Errorf("%s: same batch id as the original", name)
		}
	}
	if got, err := intake.Check(context.Background(), intake.Bytes(base), intake.CheckOptions{BatchID: "mine"}); err != nil || got.BatchID != "mine" {
		t.Errorf("a given batch id: %+v, %v", got, err)
	}
	if _, err := intake.Check(context.Background(), intake.Bytes(base), intake.CheckOptions{BatchID: "-bad"}); err == nil || intake.IsInputError(err) {
		t.Errorf("a bad given batch id: %v", err)
	}
}

func TestCheckRefusesInputWithoutRows(t *testing.T) {
	for _, tc := range []struct {
		f              intake.Format
		content, wants string
	}{
		{intake.CSV, "", "the file is empty"},
		{intake.CSV, "order_id,amount\r\n\r\n,\r\n", "a header row but no refund rows"},
		{intake.JSONL, "", "the file has no refund rows"},
		{intake.JSONL, "\n \r\n", "the file has no refund rows"},
		{0, "\x00\x00\x00", "NUL byte"},
	} {
		_, err := intake.Check(context.Background(), intake.Bytes(tc.content), intake.CheckOptions{Format: tc.f})
		if !intake.IsInputError(err) || !strings.Contains(err.Error(), tc.wants) {
			t.Errorf("%v %q: %v, want an InputError with %q", tc.f, tc.content, err, tc.wants)
		}
	}
}

func TestCheckHonoursCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := intake.Check(ctx, endless{}, intake.CheckOptions{Format: intake.JSONL})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

// endless is a source that never ends, like a pipe from `yes`.
type endless struct{}

func (endless) Open(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(repeatReader(`{"order_id":"A1","amount":1}` + "\n")), nil
}

type repeatReader string

func (r repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n+len(r) <= len(p) {
		n += copy(p[n:], r)
	}
	return n, nil
}

func newProducer(t *testing.T) (*producer.Producer, *store.Redis) {
	rdb := testenv.StartRedis(t).Client()
	return producer.NewFromClient(rdb, producer.WithSource("import")), store.New(rdb)
}

// All or nothing: a dry run against Redis finds every bad row, including
// a request_id already used with other parameters and a repeated keyless
// row, and nothing is written; the clean content then goes in whole.
func TestRunAllOrNothing(t *testing.T) {
	p, s := newProducer(t)
	ctx := context.Background()
	_, err := p.Enqueue(ctx, producer.Refund{IdempotencyKey: "k-9", OrderID: "o-9", Amount: "5.00"})
	testenv.Must(t, err)
	bad := "order_id,amount,idempotency_key\no-1,1,\no-9,6,k-9\no-1,1,\no-3,,\n"
	var rejects []string
	res, err := check(t, intake.CSV, bad).Run(ctx, p, intake.RunOptions{AllOrNothing: true,
		OnReject: func(e producer.RowError) error { rejects = append(rejects, e.Field+"@"+e.Raw); return nil }})
	testenv.Must(t, err)
	if res.Enqueued || res.Started || res.Rejected != 3 {
		t.Fatalf("result %+v", res)
	}
	want := []string{"idempotency_key@o-9,6,k-9", "row@o-1,1,", "amount@o-3,,"}
	if strings.Join(rejects, " ") != strings.Join(want, " ") {
		t.Errorf("rejects %q, want %q", rejects, want)
	}
	if n, _ := s.BatchSize(ctx, res.BatchID); n != 0 {
		t.Errorf("the refused batch holds %d refunds", n)
	}
	if _, err := s.Batch(ctx, res.BatchID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refused batch has metadata: %v", err)
	}
	good := "order_id,amount,idempotency_key\no-1,1,\no-3,full,\n"
	res, err = check(t, intake.CSV, good).Run(ctx, p, intake.RunOptions{AllOrNothing: true})
	testenv.Must(t, err)
	if !res.Enqueued || res.Accepted != 2 {
		t.Errorf("clean content: %+v", res)
	}
}

// A source that reads differently in a later pass is caught.
func TestRunNoticesChangedInput(t *testing.T) {
	p, _ := newProducer(t)
	src := &changing{first: "order_id,amount\no-1,1\n", later: "order_id,amount\no-1,1\no-2,2\n"}
	pl, err := intake.Check(context.Background(), src, intake.CheckOptions{Format: intake.CSV})
	testenv.Must(t, err)
	if _, err := pl.Run(context.Background(), p, intake.RunOptions{}); !errors.Is(err, intake.ErrChanged) {
		t.Errorf("err = %v, want ErrChanged", err)
	}
}

type changing struct {
	first, later string
	opened       int
}

func (c *changing) Open(context.Context) (io.ReadCloser, error) {
	c.opened++
	if c.opened == 1 {
		return io.NopCloser(strings.NewReader(c.first)), nil
	}
	return io.NopCloser(bytes.NewReader([]byte(c.later))), nil
}
