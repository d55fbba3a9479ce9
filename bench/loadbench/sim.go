package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/fpsim"
)

const (
	benchAuthID = "bench-merchant"
	benchSecret = "bench-signing-secret-not-a-real-one"
)

// provider is the simulator in an httptest server in this process, with
// the time it spends on each request_id recorded, so latency figures can
// leave the provider's own time out.
type provider struct {
	sim *fpsim.Sim
	srv *httptest.Server

	mu    sync.Mutex
	spent map[string]time.Duration
}

// providerOpts is how the simulator behaves in one phase.
type providerOpts struct {
	statusDelay time.Duration
	latency     time.Duration
	orders      int
}

func startProvider(o providerOpts) *provider {
	sim := fpsim.New(fpsim.Config{
		Credentials:  map[string]string{benchAuthID: benchSecret},
		StatusDelay:  o.statusDelay,
		Faults:       fpsim.Faults{Latency: o.latency},
		Transactions: fpsim.GenerateTransactions(o.orders, decimal.NewFromInt(1000)),
		Seed:         1,
	})
	p := &provider{sim: sim, spent: map[string]time.Duration{}}
	p.srv = httptest.NewServer(p.timed(sim.Handler()))
	return p
}

func (p *provider) url() string { return p.srv.URL }

func (p *provider) close() { p.srv.Close() }

// timed measures each Card API call from the first byte read to the reply.
func (p *provider) timed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
		var id struct {
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal(body, &id) != nil || id.RequestID == "" {
			return
		}
		d := time.Since(start)
		p.mu.Lock()
		p.spent[id.RequestID] += d
		p.mu.Unlock()
	})
}

// providerTime is the time the simulator spent on a refund's calls.
func (p *provider) providerTime(requestID string) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.spent[requestID]
}

// executions counts refunds the simulator executed, and any executed twice.
func (p *provider) executions() (executed, twice int) {
	for _, r := range p.sim.Ledger().Requests {
		if r.Executions > 0 {
			executed++
		}
		if r.Executions > 1 {
			twice++
		}
	}
	return executed, twice
}
