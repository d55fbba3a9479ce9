package api

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/refundq/refundq/internal/testenv"
)

func TestBodyLimit(t *testing.T) {
	h := newHarness(t, WithBodyLimits(512, 0))
	big := []byte(`{"idempotency_key":"k","order_id":"o-1","description":"` + strings.Repeat("x", 600) + `"}`)
	for _, stream := range []bool{false, true} { // declared length, then chunked
		ex := h.do(req{method: http.MethodPost, path: "/v1/refunds", body: big, stream: stream}).
			mustStatus(t, http.StatusRequestEntityTooLarge)
		if e := ex.apiErr(t); e.Error.Code != codeTooLarge {
			t.Fatalf("stream=%v: code %q", stream, e.Error.Code)
		}
	}
	if n := h.keyCount(); n != 0 {
		t.Fatalf("an oversized request wrote %d keys", n)
	}
	// Just under the limit is fine.
	ok := []byte(`{"idempotency_key":"k","order_id":"o-1","description":"` + strings.Repeat("x", 200) + `"}`)
	h.do(req{method: http.MethodPost, path: "/v1/refunds", body: ok, stream: true}).mustStatus(t, http.StatusAccepted)
}

// TestReadHeaderTimeout proves the server's timeouts are wired: a client
// that never finishes its headers is disconnected instead of holding a
// connection forever.
func TestReadHeaderTimeout(t *testing.T) {
	h := newHarness(t, WithTimeouts(Timeouts{ReadHeader: 50 * time.Millisecond}))
	conn, err := net.Dial("tcp", strings.TrimPrefix(h.base, "http://"))
	testenv.Must(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n")) // no blank line: headers never end
	testenv.Must(t, err)
	// A generous bound only so a broken server fails the test instead of
	// hanging it; the server must close the connection well before.
	testenv.Must(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
	_, err = io.ReadAll(bufio.NewReader(conn))
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the server kept a connection with unfinished headers open")
	}
	// A complete request on a fresh connection still works.
	h.do(req{method: http.MethodGet, path: "/healthz", noAuth: true}).mustStatus(t, http.StatusOK)
}
