package freedompay

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// A worker runs many calls at once. net/http's default transport keeps two
// idle connections per host, so most calls would open a new connection (a
// TLS handshake against the real provider); the client keeps them all.
func TestConcurrentCallsReuseTheirConnections(t *testing.T) {
	const concurrency, rounds = 50, 4
	var opened atomic.Int64
	release := make(chan struct{})
	var arrived sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		arrived.Done()
		<-release // hold every call of a round open at once
		_, _ = w.Write([]byte(`{"status":"ok","request_status":"success","dt":"2025-03-01T12:00:00+05:00"}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := New(Credential{AuthID: "42", Secret: "s3cret"}, WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	for range rounds {
		arrived.Add(concurrency)
		var calls sync.WaitGroup
		for range concurrency {
			calls.Go(func() {
				if _, err := c.Status(context.Background(), "828cf71d-a447-4a67-a149-c1df8bc197ca"); err != nil {
					t.Error(err)
				}
			})
		}
		arrived.Wait()
		release <- struct{}{} // wake them one by one: all were in flight together
		for range concurrency - 1 {
			release <- struct{}{}
		}
		calls.Wait()
	}
	if n := opened.Load(); n > concurrency {
		t.Fatalf("%d rounds of %d concurrent calls opened %d connections, want at most %d", rounds, concurrency, n, concurrency)
	}
}
