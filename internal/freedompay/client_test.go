package freedompay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestRefundBodyIsSignedAsSentWithDecimalAmount(t *testing.T) {
	var gotBody []byte
	var gotSig string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotBody, _ = io.ReadAll(r.Body)
		gotSig = r.Header.Get(SignatureHeader)
		_, _ = w.Write([]byte(`{"status":"ok","request_status":"process","dt":"2025-03-01T12:00:00+05:00"}`))
	}))
	defer srv.Close()
	c, _ := New(Credential{AuthID: "42", Secret: "s3cret"}, WithBaseURL(srv.URL))
	amount := decimal.RequireFromString("1250.5")
	resp, err := c.Refund(context.Background(), RefundRequest{RequestID: "828cf71d-a447-4a67-a149-c1df8bc197ca", OrderID: "o<1>", Amount: &amount})
	if err != nil || resp.RequestStatus != RequestProcess {
		t.Fatalf("refund: %+v %v", resp, err)
	}
	want := `{"request_id":"828cf71d-a447-4a67-a149-c1df8bc197ca","order_id":"o\u003c1\u003e","amount":1250.50}`
	if string(gotBody) != want {
		t.Fatalf("body\n got %s\nwant %s", gotBody, want)
	}
	if want := Sign([]byte("s3cret"), "42", PathRefund, gotBody); gotSig != want {
		t.Fatalf("signature is not over the sent bytes:\n got %s\nwant %s", gotSig, want)
	}
}

func TestFullRefundOmitsAmount(t *testing.T) {
	b, _ := json.Marshal(RefundRequest{RequestID: "x", TransactionID: "t"})
	if strings.Contains(string(b), "amount") {
		t.Fatalf("full refund sent an amount: %s", b)
	}
}

func TestClassification(t *testing.T) {
	checkReplies(t, []replyCase{
		{"rate limited", 429, "", `{"status":"error","error_code":"RATE_LIMITED"}`, false, KindRateLimited, true},
		{"bad signature", 401, "", `{"status":"error","error_code":"INVALID_SIGNATURE"}`, false, KindAuth, true},
		{"server error", 500, "", `oops`, false, KindAmbiguous, true},
		{"gateway timeout", 504, "", ``, false, KindAmbiguous, true},
		{"unreadable 200", 200, "", `<html>`, false, KindAmbiguous, false},
		{"over-refund", 200, "", `{"status":"error","error_code":"AMOUNT_EXCEEDED","message":"too much"}`, false, KindPermanent, true},
		{"unknown transaction", 200, "", `{"status":"error","error_code":"TRANSACTION_NOT_FOUND"}`, false, KindPermanent, true},
		{"validation", 200, "", `{"status":"error","error_code":"VALIDATION_ERROR"}`, false, KindPermanent, true},
		{"duplicate", 200, "", `{"status":"error","error_code":"DUPLICATE_REQUEST_ID"}`, false, KindDuplicate, true},
		{"unrecognised code", 200, "", `{"status":"error","error_code":"SOMETHING_NEW"}`, false, KindAmbiguous, false},
	})
}

func TestStatusNotFoundAndUnexpectedStatus(t *testing.T) {
	body := `{"status":"error","error_code":"REQUEST_NOT_FOUND"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) }))
	defer srv.Close()
	cl, _ := New(Credential{AuthID: "1", Secret: "s"}, WithBaseURL(srv.URL))
	if _, err := cl.Status(context.Background(), "r"); KindOf(err) != KindNotFound {
		t.Fatalf("not found: %v", err)
	}
	body = `{"status":"ok","request_status":"weird"}`
	if _, err := cl.Status(context.Background(), "r"); KindOf(err) != KindAmbiguous {
		t.Fatalf("unexpected request_status: %v", err)
	}
}

func TestTransportErrors(t *testing.T) {
	// Nothing listens: the request was never written, so it is safe to resend.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	cl, _ := New(Credential{AuthID: "1", Secret: "s"}, WithBaseURL("http://"+addr))
	if _, err := cl.Refund(context.Background(), RefundRequest{RequestID: "r", OrderID: "o"}); KindOf(err) != KindRetryable {
		t.Fatalf("connection refused: %v, want retryable", err)
	}
	// Written, then no answer before the deadline: ambiguous.
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	cl, _ = New(Credential{AuthID: "1", Secret: "s"}, WithBaseURL(srv.URL))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := cl.Refund(ctx, RefundRequest{RequestID: "r", OrderID: "o"})
	if KindOf(err) != KindAmbiguous || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timeout after write: %v, want ambiguous wrapping the deadline", err)
	}
}

func TestSecretNeverFormats(t *testing.T) {
	c := Credential{AuthID: "1", Secret: "topsecret"}
	for _, s := range []string{fmtAll(c), fmtAll(c.Secret)} {
		if strings.Contains(s, "topsecret") {
			t.Fatalf("secret leaked: %s", s)
		}
	}
	b, _ := json.Marshal(c)
	if strings.Contains(string(b), "topsecret") {
		t.Fatalf("secret leaked in JSON: %s", b)
	}
}

func fmtAll(v any) string {
	return strings.Join([]string{fmt.Sprintf("%v", v), fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v), fmt.Sprintf("%s", v)}, " ")
}
