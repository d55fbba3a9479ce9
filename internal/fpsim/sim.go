// Package fpsim simulates the two Freedom Pay Card API v5 endpoints a refund
// needs, transaction/refund and request/status, closely enough that the
// refund worker can be tested, demonstrated and benchmarked without the real
// provider, and imperfectly enough that passing against it means something.
//
// It follows shared/freedompay-card-api.md: detached HS512 JWS signatures,
// checked by the simulator's own verifier written from the docs (it shares
// no code with the client in internal/freedompay, so a signing bug cannot
// agree with itself); Content-Type application/json; request_id a UUID in
// the body and never replay-idempotent (a repeat is an error, not the
// original reply); request_status process → success/error; amounts in major
// units with two decimals, an absent amount refunding the remainder and a
// null one refused. Where the provider is undocumented (error schema,
// partial-refund cap, duplicate reply) it answers in one of two dialects
// (see Dialect), so refundq can be shown not to depend on one guess.
//
// # Merchants
//
// Each auth_id in Config.Credentials is a separate merchant: it sees only its
// own transactions and request_ids. A request_id used by merchant A is
// unknown to B's status calls and no duplicate for B. A Transaction that
// names an AuthID belongs to that merchant alone; one that names none
// (GenerateTransactions, a seed file without an auth_id column) is given to
// every configured merchant as that merchant's own copy, with its own
// balance. The ledger records the auth_id of every request and transaction.
//
// # Faults
//
// Beyond the happy path it injects, at random (Faults) or scripted per
// request_id (Script), the failures that matter for exactly-once refunds:
// 5xx, 429, hangs, outages, commit-then-drop, a status endpoint that lags
// behind the refund endpoint, refunds that commit after the client gave up
// (with the duplicate check holding, or racing), and requests the status
// endpoint forgets. All timing uses Config.Now and is evaluated lazily, when
// someone looks, so tests drive it with a fake clock. A ledger records what
// the provider really did, so a test can prove that no refund ran twice and
// no transaction was over-refunded.
package fpsim

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// Config configures a simulator.
type Config struct {
	// Credentials maps auth_id to its signing secret. Calls signed by any
	// other id are refused as a bad signature. Each auth_id is a merchant
	// of its own (see the package doc).
	Credentials map[string]string
	// StatusDelay is how long an accepted refund stays in request_status
	// "process" before it settles. Zero settles it immediately, so the
	// refund reply already carries the final status.
	StatusDelay time.Duration
	// Faults is the initial fault mix; see SetFaults.
	Faults Faults
	// Dialect is the initial wire vocabulary; empty means DialectNative.
	// See SetDialect.
	Dialect Dialect
	// Seed makes random faults, jitter and declines reproducible.
	Seed int64
	// Transactions are the refundable transactions known at start.
	Transactions []Transaction
	// Now is the clock used for settlement, late commits, status lag and
	// dt; nil means time.Now. Tests pass a controllable clock instead of
	// sleeping.
	Now func() time.Time
	// Logger receives debug logs of calls and faults; nil means none.
	Logger *zap.Logger
}

// Validate reports a configuration New would not run as meant: invalid
// faults, an unknown dialect, or a transaction naming an auth_id that has
// no credential (nobody could ever refund it).
func (c Config) Validate() error {
	if err := c.Faults.Validate(); err != nil {
		return err
	}
	if _, err := ParseDialect(string(c.Dialect)); err != nil {
		return err
	}
	return checkOwners(c.Transactions, func(id string) bool { _, ok := c.Credentials[id]; return ok })
}

// checkOwners reports the first transaction whose auth_id is not a merchant.
func checkOwners(txns []Transaction, known func(authID string) bool) error {
	for i, t := range txns {
		if t.AuthID != "" && !known(t.AuthID) {
			return fmt.Errorf("fpsim: transaction %d (%q): auth_id %q has no credential", i+1, t.TransactionID, t.AuthID)
		}
	}
	return nil
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
	dialect Dialect
	// internalErrors counts internal-error replies, for the alt dialect's
	// front proxy that answers every second one.
	internalErrors uint64
	rng            *rand.Rand
	scripts        map[scriptKey][]plan
	book           *book
}

// New returns a simulator for cfg. It does not listen anywhere: serve
// Handler with httptest.Server or http.Server. It does not validate cfg
// (see Config.Validate) but panics on an unknown dialect, a programming
// error.
func New(cfg Config) *Sim {
	dialect, err := ParseDialect(string(cfg.Dialect))
	if err != nil {
		panic(err.Error())
	}
	authIDs := make([]string, 0, len(cfg.Credentials))
	for id := range cfg.Credentials {
		authIDs = append(authIDs, id)
	}
	sort.Strings(authIDs)
	s := &Sim{
		creds:       make(map[string][]byte, len(cfg.Credentials)),
		statusDelay: cfg.StatusDelay,
		now:         cfg.Now,
		log:         cfg.Logger,
		reg:         prometheus.NewRegistry(),
		faults:      cfg.Faults,
		dialect:     dialect,
		rng:         rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(cfg.Seed)^0x9e3779b97f4a7c15)),
		scripts:     map[scriptKey][]plan{},
		book:        newBook(authIDs),
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

// Handler serves the Card API paths and the admin paths (/sim/transactions,
// /sim/faults, /sim/dialect, /sim/script, /sim/ledger, /healthz, /metrics).
func (s *Sim) Handler() http.Handler { return s.handler }

// Registry is the simulator's own Prometheus registry (served on /metrics).
func (s *Sim) Registry() *prometheus.Registry { return s.reg }

// AddTransactions makes transactions refundable, each for its merchant or,
// naming no auth_id, for every merchant (see the package doc). Re-adding a
// known transaction_id updates the merchant's order id, amount and decline
// flag but keeps the refunds already made against it. Input is not
// validated; LoadTransactions and POST /sim/transactions validate before
// calling this.
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

// SetDialect switches the wire vocabulary for all replies from now on.
func (s *Sim) SetDialect(d Dialect) error {
	d, err := ParseDialect(string(d))
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dialect = d
	return nil
}

// Dialect returns the current wire vocabulary.
func (s *Sim) Dialect() Dialect {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.dialect
}

// Ledger returns a snapshot of every request and transaction total, after
// running whatever is due by now (settlements, late commits).
func (s *Sim) Ledger() Ledger {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceLocked(s.now())
	return s.book.snapshot()
}
