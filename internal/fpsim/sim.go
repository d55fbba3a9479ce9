// Package fpsim simulates the two Freedom Pay Card API v5 endpoints a refund
// needs, transaction/refund and request/status, closely enough that the
// refund worker can be tested, demonstrated and benchmarked without the real
// provider.
//
// It follows shared/freedompay-card-api.md: detached HS512 JWS signatures,
// request_id in the body and never replay-idempotent (a repeat is an error,
// not the original reply), request_status process → success/error, amounts in
// major units with two decimals. Where the provider is undocumented (error
// schema, partial-refund cap, duplicate reply) it does what the freedompay
// client expects and says so.
//
// Beyond the happy path it injects the failures that matter for exactly-once
// refunds (random or scripted per request_id): 5xx, 429, hangs, outages and
// commit-then-drop. It keeps a ledger of every execution so a test can prove
// that no refund ran twice and no transaction was over-refunded.
package fpsim

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Config configures a simulator.
type Config struct {
	// Credentials maps auth_id to its signing secret. Calls signed by any
	// other id are refused with 401.
	Credentials map[string]string
	// StatusDelay is how long an accepted refund stays in request_status
	// "process" before it settles. Zero settles it immediately, so the
	// refund reply already carries the final status.
	StatusDelay time.Duration
	// Faults is the initial fault mix; see SetFaults.
	Faults Faults
	// Seed makes random faults, jitter and declines reproducible.
	Seed int64
	// Transactions are the refundable transactions known at start.
	Transactions []Transaction
	// Now is the clock used for settlement and dt; nil means time.Now.
	// Tests pass a controllable clock instead of sleeping.
	Now func() time.Time
	// Logger receives debug logs of calls and faults; nil means none.
	Logger *zap.Logger
}

// Sim is a running simulator. It is safe for concurrent use; all state sits
// behind one mutex so each refund decision (duplicate check, remaining
// amount, commit) is atomic, like a provider's database transaction.
type Sim struct {
	creds       map[string][]byte
	statusDelay time.Duration
	now         func() time.Time
	log         *zap.Logger
	reg         *prometheus.Registry
	metrics     *metrics
	handler     http.Handler

	mu      sync.Mutex
	faults  Faults
	rng     *rand.Rand
	scripts map[scriptKey][]fault
	book    *book
}

// New returns a simulator for cfg. It does not listen anywhere: serve
// Handler with httptest.Server or http.Server.
func New(cfg Config) *Sim {
	s := &Sim{
		creds:       make(map[string][]byte, len(cfg.Credentials)),
		statusDelay: cfg.StatusDelay,
		now:         cfg.Now,
		log:         cfg.Logger,
		reg:         prometheus.NewRegistry(),
		faults:      cfg.Faults,
		rng:         rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)),
		scripts:     map[scriptKey][]fault{},
		book:        newBook(),
	}
	for id, secret := range cfg.Credentials {
		s.creds[id] = []byte(secret)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.metrics = newMetrics(s.reg)
	for _, t := range cfg.Transactions {
		s.book.addTransaction(t)
	}
	s.handler = s.routes()
	return s
}

// Handler serves the Card API paths and the admin paths (/sim/*, /healthz,
// /metrics).
func (s *Sim) Handler() http.Handler { return s.handler }

// Registry is the simulator's own Prometheus registry (served on /metrics).
func (s *Sim) Registry() *prometheus.Registry { return s.reg }

// AddTransactions makes transactions refundable. Re-adding a known
// transaction_id updates its order id, amount and decline flag but keeps the
// refunds already made against it. Input is not validated; LoadTransactions
// and POST /sim/transactions validate before calling this.
func (s *Sim) AddTransactions(txns ...Transaction) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range txns {
		s.book.addTransaction(t)
	}
}

// SetFaults replaces the random fault mix for all calls from now on. It does
// not validate; see Faults.Validate.
func (s *Sim) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Faults returns the current random fault mix.
func (s *Sim) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Script queues one-shot faults for the next calls of endpoint ("refund",
// "status" or the full Card API path) carrying requestID, one fault per call
// in order; scripted faults take precedence over random ones. Fault names
// are "5xx", "5xx_commit", "timeout", "timeout_commit", "429", "drop"
// (execute, then close without a reply) and "down". An unknown endpoint or
// fault name is a programming error and panics; POST /sim/script reports it
// as 400 instead.
func (s *Sim) Script(endpoint, requestID string, faults ...string) {
	path, fs, err := parseScript(endpoint, faults)
	if err != nil {
		panic(fmt.Sprintf("fpsim.Script: %v", err))
	}
	s.script(path, requestID, fs)
}

func (s *Sim) script(path, requestID string, fs []fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := scriptKey{path, requestID}
	s.scripts[key] = append(s.scripts[key], fs...)
}

// Ledger returns a snapshot of every refund request and transaction total,
// after settling whatever is due by now.
func (s *Sim) Ledger() Ledger {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settleDueLocked(s.now())
	return s.book.snapshot()
}

// settleDueLocked settles due requests; s.mu must be held. A decline is the
// transaction's Decline flag or a seeded DeclineRate draw.
func (s *Sim) settleDueLocked(now time.Time) {
	s.book.settleDue(now, s.statusDelay, s.declinesLocked)
}

func (s *Sim) declinesLocked(t *txnState) bool {
	if t.Decline {
		return true
	}
	return s.faults.DeclineRate > 0 && s.rng.Float64() < s.faults.DeclineRate
}
