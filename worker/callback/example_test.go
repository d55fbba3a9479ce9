package callback_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/refundq/refundq/worker/callback"
)

// A merchant's endpoint checks every callback before it acts on it.
func ExampleVerify() {
	secret := []byte("the merchant's callback secret") // from the merchant's secret store
	receive := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		// Verify the exact bytes received, before parsing them.
		if err := callback.Verify(secret, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		var ev callback.Event
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		// A callback can arrive more than once: act on a request_id once.
		fmt.Println(ev.RequestID, ev.State, ev.Amount)
		w.WriteHeader(http.StatusNoContent)
	})

	// What refundq sends.
	body := []byte(`{"request_id":"5b0f7d1e-8c2a-4f7e-9d3b-1a2b3c4d5e6f","order_id":"order-1","merchant":"default",` +
		`"amount":"10.00","state":"succeeded","request_status":"success","occurred_at":"2026-01-01T00:00:00Z"}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	req := httptest.NewRequest(http.MethodPost, "/hooks/refunds", bytes.NewReader(body))
	req.Header.Set(callback.TimestampHeader, ts)
	req.Header.Set(callback.SignatureHeader, "v1="+hmacHex(secret, ts+"."+string(body)))
	rec := httptest.NewRecorder()
	receive.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	// Output:
	// 5b0f7d1e-8c2a-4f7e-9d3b-1a2b3c4d5e6f succeeded 10.00
	// 204
}

// hmacHex is how refundq signs: hex HMAC-SHA256 of "<timestamp>.<body>".
func hmacHex(secret []byte, msg string) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}
