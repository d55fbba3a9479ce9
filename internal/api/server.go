// Package api is refundq's HTTP intake and status API, served by
// `refundq serve`: refunds and batches in, states and event logs out, for
// backends that are not written in Go. docs/openapi.yaml is its contract.
//
// Every /v1/ request needs a bearer token; /healthz, /readyz and /metrics
// do not, so probes and Prometheus need no secret. Every error, 404 and 405
// included, is a JSON body {"error": {"code", "message", "fields"}}.
package api

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"golang.org/x/sync/semaphore"

	"github.com/refundq/refundq/internal/access"
	"github.com/refundq/refundq/internal/hold"
	"github.com/refundq/refundq/internal/metrics"
	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/producer"
)

// Default limits. A refund is a few hundred bytes, so 1 MiB only stops
// abuse. A batch body is held in memory from its first byte until its
// rows are enqueued, so its limit is also the memory one upload may take,
// and DefaultBatchMemory caps what all uploads in flight hold together.
const (
	DefaultBodyLimit      = 1 << 20
	DefaultBatchBodyLimit = 64 << 20
	DefaultBatchMemory    = 4 * (2*DefaultBatchBodyLimit + DefaultBatchBodyLimit/8) // four full uploads
)

// Timeouts bound each phase of a connection. Zero fields take defaults.
type Timeouts struct {
	// ReadHeader stops slow-loris clients that trickle headers.
	ReadHeader time.Duration
	// Read covers the whole request, body included (a batch upload).
	Read time.Duration
	// Write runs from the end of the headers to the end of the response.
	// A batch upload is answered once its rows are read, before they are
	// enqueued, so the time to enqueue it is not bound by this.
	Write time.Duration
	// Idle closes keep-alive connections nobody uses.
	Idle time.Duration
	// Shutdown is how long in-flight requests and batch runs may finish
	// once the server is asked to stop; batch runs still going then are
	// stopped, and recorded as incomplete.
	Shutdown time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	def := Timeouts{ReadHeader: 5 * time.Second, Read: time.Minute, Write: 2 * time.Minute,
		Idle: 2 * time.Minute, Shutdown: 10 * time.Second}
	for _, p := range [][2]*time.Duration{{&t.ReadHeader, &def.ReadHeader}, {&t.Read, &def.Read},
		{&t.Write, &def.Write}, {&t.Idle, &def.Idle}, {&t.Shutdown, &def.Shutdown}} {
		if *p[0] <= 0 {
			*p[0] = *p[1]
		}
	}
	return t
}

// Server is the HTTP API. Build it with New, then call Serve or mount
// Handler in a server of your own.
type Server struct {
	rdb      redis.UniversalClient
	store    *store.Redis
	producer *producer.Producer
	ops      *operator.Operator
	tokens   tokenSet
	log      *zap.Logger
	reg      *prometheus.Registry
	http     *httpMetrics
	mux      *http.ServeMux

	bodyLimit, batchBodyLimit, batchMemory int64
	maxProblems                            int // stored per batch run
	timeouts                               Timeouts
	retention                              time.Duration
	// acks and ackTimeout: see WithReplicaAcks.
	acks       int
	ackTimeout time.Duration

	// inflight holds the bytes of batch bodies being read or enqueued.
	inflight *semaphore.Weighted
	runs     *batchRuns
	// policy holds batches and refunds for an approver (see package hold).
	policy hold.Policy
	// opOpts configure the operator actions (merchant credentials for
	// reconcile, the settle window).
	opOpts []operator.Option
	// console, when set, is served at /console/.
	console func(Auth) http.Handler
}

// Option configures a Server.
type Option func(*Server)

// WithTokens adds bearer tokens the API accepts, each an operator's named
// access.DefaultName, as tokens were before they had roles. At least one
// token (this or WithIdentities) is required.
func WithTokens(tokens ...string) Option {
	ts := make([]access.Token, len(tokens))
	for i, t := range tokens {
		ts[i] = access.Token{Secret: t, Identity: access.Identity{Name: access.DefaultName, Role: access.Operator}}
	}
	return WithIdentities(ts...)
}

// WithIdentities adds bearer tokens with their names and roles, as a
// token file gives them.
func WithIdentities(tokens ...access.Token) Option {
	return func(s *Server) { s.tokens = append(s.tokens, newTokenSet(tokens)...) }
}

// WithHoldPolicy holds batches and refunds for an approver as p says.
func WithHoldPolicy(p hold.Policy) Option { return func(s *Server) { s.policy = p } }

// WithOperator configures the operator actions the API and the console
// take: operator.WithProviders for reconcile (without it reconcile answers
// 503), and the workers' settle window and provider timeout.
func WithOperator(opts ...operator.Option) Option {
	return func(s *Server) { s.opOpts = append(s.opOpts, opts...) }
}

// WithConsole serves the handler that mount builds at /console/. It signs
// people in with the API's own tokens, through Auth.
func WithConsole(mount func(Auth) http.Handler) Option { return func(s *Server) { s.console = mount } }

// WithLogger logs to l instead of nowhere.
func WithLogger(l *zap.Logger) Option { return func(s *Server) { s.log = l } }

// WithRegistry registers the API's metrics, refundq's and the Go runtime's
// on reg and serves reg at /metrics. reg must not already hold refundq's
// metrics. Without it the server uses a registry of its own.
func WithRegistry(reg *prometheus.Registry) Option { return func(s *Server) { s.reg = reg } }

// WithBodyLimits sets the largest request body of POST /v1/refunds and of
// POST /v1/batches, in bytes. Zero keeps the default.
func WithBodyLimits(refund, batch int64) Option {
	return func(s *Server) {
		if refund > 0 {
			s.bodyLimit = refund
		}
		if batch > 0 {
			s.batchBodyLimit = batch
		}
	}
}

// WithBatchMemory caps the bytes that all batch uploads in flight may
// hold at once; past it, uploads are answered 503 with Retry-After. Zero
// keeps the default. It must be at least the batch body limit.
func WithBatchMemory(n int64) Option {
	return func(s *Server) {
		if n > 0 {
			s.batchMemory = n
		}
	}
}

// WithRetention sets how long refund records are kept after their last
// change (default 90 days).
func WithRetention(d time.Duration) Option { return func(s *Server) { s.retention = d } }

// WithTimeouts sets the connection timeouts Serve uses.
func WithTimeouts(t Timeouts) Option { return func(s *Server) { s.timeouts = t } }

// WithReplicaAcks makes the API acknowledge a refund, and finish a batch,
// only once n Redis replicas hold it (producer.WithReplicaAcks). A refund
// they did not confirm in time gets 503 with Retry-After.
func WithReplicaAcks(n int, timeout time.Duration) Option {
	return func(s *Server) { s.acks, s.ackTimeout = n, timeout }
}

// New builds the API over rdb, which the caller closes after the server
// has stopped.
func New(rdb redis.UniversalClient, opts ...Option) (*Server, error) {
	s := &Server{rdb: rdb, log: zap.NewNop(), bodyLimit: DefaultBodyLimit, batchBodyLimit: DefaultBatchBodyLimit,
		batchMemory: DefaultBatchMemory, maxProblems: maxStoredProblems}
	for _, o := range opts {
		o(s)
	}
	if len(s.tokens) == 0 {
		return nil, errors.New("api: no bearer tokens configured; the API refuses to run open")
	}
	if s.batchMemory < uploadCost(s.batchBodyLimit) {
		return nil, fmt.Errorf("api: the batch memory cap (%d bytes) must hold one batch body of the limit (%d bytes, %d with its working memory)",
			s.batchMemory, s.batchBodyLimit, uploadCost(s.batchBodyLimit))
	}
	s.inflight = semaphore.NewWeighted(s.batchMemory)
	s.runs = newBatchRuns()
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	s.timeouts = s.timeouts.withDefaults()
	m := metrics.New(s.reg)
	if s.retention == 0 {
		s.retention = store.DefaultRetention
	}
	s.reg.MustRegister(metrics.NewQueueCollector(asynq.NewInspectorFromRedisClient(rdb), tasks.QueueNames()...))
	s.store = store.New(rdb, store.WithRetention(s.retention))
	s.producer = producer.NewFromClient(rdb, producer.WithSource("api"), producer.WithRegisterer(s.reg), producer.WithRetention(s.retention),
		producer.WithReplicaAcks(s.acks, s.ackTimeout))
	s.ops = operator.New(rdb, append([]operator.Option{operator.WithMetrics(m), operator.WithLogger(s.log),
		operator.WithRetention(s.retention)}, s.opOpts...)...)
	s.http = newHTTPMetrics(s.reg)
	s.mux = s.routes()
	if s.console != nil {
		s.mux.Handle("/console/", s.console(Auth{s: s}))
		s.mux.Handle("GET /console", http.RedirectHandler("/console/", http.StatusFound))
	}
	return s, nil
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("POST /v1/refunds", s.handle(need(write, s.createRefund)))
	mux.Handle("GET /v1/refunds", s.handle(need(read, s.listRefunds), "order_id", "merchant"))
	mux.Handle("GET /v1/refunds/{request_id}", s.handle(need(read, s.getRefund)))
	mux.Handle("POST /v1/refunds/{request_id}/cancel", s.handle(need(write, s.cancelRefund)))
	mux.Handle("POST /v1/refunds/{request_id}/retry", s.handle(need(write, s.retryRefund)))
	mux.Handle("POST /v1/refunds/{request_id}/reconcile", s.handle(need(write, s.reconcileRefund)))
	mux.Handle("POST /v1/refunds/{request_id}/approve", s.handle(need(approve, s.decideRefund(true))))
	mux.Handle("POST /v1/refunds/{request_id}/reject", s.handle(need(approve, s.decideRefund(false))))
	mux.Handle("POST /v1/batches", s.handle(need(write, s.createBatch), "batch_id", "name", "all_or_nothing", "hold"))
	mux.Handle("POST /v1/batches/{batch_id}/approve", s.handle(need(approve, s.decideBatch(true))))
	mux.Handle("POST /v1/batches/{batch_id}/reject", s.handle(need(approve, s.decideBatch(false))))
	mux.Handle("GET /v1/batches/{batch_id}", s.handle(need(read, s.getBatch)))
	mux.Handle("GET /v1/batches/{batch_id}/errors", s.handle(need(read, s.getBatchErrors), "offset", "limit"))
	mux.Handle("GET /healthz", s.handle(s.healthz))
	mux.Handle("GET /readyz", s.handle(s.readyz))
	mux.Handle("GET /metrics", s.metricsHandler())
	return mux
}

// handlerFunc is an endpoint that returns its error instead of writing it,
// so every error reaches the client through one mapping (toAPIError).
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle serves h after checking that the query has only params, each
// at most once and well formed.
func (s *Server) handle(h handlerFunc, params ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := checkQuery(r, params)
		if err == nil {
			err = h(w, r)
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

// Handler returns the API as an http.Handler.
func (s *Server) Handler() http.Handler { return s.observe(http.HandlerFunc(s.serveHTTP)) }

// serveHTTP checks the token before routing, for every /v1/ path: an
// unauthenticated client learns nothing, not even which paths exist.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	routed := r
	if strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == "/v1" {
		id, err := s.authorized(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		routed = r.WithContext(withIdentity(r.Context(), id))
	}
	if _, pattern := s.mux.Handler(routed); pattern == "" {
		s.serveUnmatched(w, routed)
		return
	}
	s.mux.ServeHTTP(w, routed)
	r.Pattern = routed.Pattern // for observe's route label
}

// Serve answers requests on ln until ctx ends, then lets in-flight requests
// and batch runs finish for up to the shutdown timeout, and stops the
// batch runs left.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	t := s.timeouts
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read, WriteTimeout: t.Write, IdleTimeout: t.Idle,
		MaxHeaderBytes: 64 << 10,
		ErrorLog:       zap.NewStdLog(s.log.Named("http")),
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("api: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), t.Shutdown)
	defer cancel()
	err := srv.Shutdown(sctx)
	s.runs.drain(sctx)
	if err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: serve: %w", err)
	}
	return nil
}

// Close stops the batch runs still going and waits until each has
// recorded where it stopped. Serve does this itself; call Close when the
// server runs through Handler in a server of your own.
func (s *Server) Close() { s.runs.drain(nil) }
