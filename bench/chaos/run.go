package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

// options are the run's knobs beyond the profile.
type options struct {
	seed uint64
	// bin is a prebuilt refundq binary; empty builds one with plain
	// `go build` (no -race: the children are the system under test, and
	// their speed shapes the run).
	bin  string
	keep bool // keep the logs and data directory even when the run passes
	out  io.Writer
}

// stack is the running system: Redis, the simulator and the workers.
type stack struct {
	redis *redisServer
	sim   *simProc
	fleet *fleet
	rdb   *redis.Client
}

// run executes one chaos run and returns its summary, whose violations say
// whether it passed. An error means the run itself could not be carried
// out (a tool missing, a process that would not start).
func run(ctx context.Context, p profile, o options) (*summary, error) {
	rec := newRecorder(o.out)
	dir, err := os.MkdirTemp("", "refundq-chaos-")
	if err != nil {
		return nil, err
	}
	sum, err := runIn(ctx, rec, dir, p, o)
	if err == nil && len(sum.violations) == 0 && !o.keep {
		_ = os.RemoveAll(dir)
	} else {
		rec.logf("logs and data kept in %s", dir)
	}
	return sum, err
}

func runIn(ctx context.Context, rec *recorder, dir string, p profile, o options) (*summary, error) {
	bin, err := refundqBinary(ctx, rec, dir, o.bin)
	if err != nil {
		return nil, err
	}
	pl := newPlan(p.refunds, o.seed)
	pl.markHeld(o.seed)
	rec.logf("%s run, seed %d: %d refunds over %d transactions (%d full, %d partial, %d over-refunds), %d repeated enqueues",
		p.name, o.seed, len(pl.refunds), pl.txns, pl.count(kindFull), pl.count(kindPartial), pl.count(kindOver), len(pl.ops)-len(pl.refunds))
	s, err := startStack(rec, dir, bin, p, pl.txns)
	if s != nil {
		defer s.stop()
	}
	if err != nil {
		return nil, err
	}
	sum := &summary{profile: p, seed: o.seed, plan: pl}
	sum.intake, sum.chaos, sum.held, sum.intakeTook = drive(ctx, rec, s, p, pl, o.seed)
	rec.logf("chaos done; waiting for every accepted refund to settle")

	settleBegan := time.Now()
	accepted := acceptedRefunds(pl)
	st := store.New(s.rdb)
	open, err := waitSettled(ctx, rec, st, ids(accepted), p.settleTimeout)
	if err != nil {
		return nil, fmt.Errorf("wait for settlement: %w", err)
	}
	sum.settleTook = time.Since(settleBegan)
	if err := sum.collect(ctx, st, s, accepted, open); err != nil {
		return nil, err
	}
	sum.workerRestarts = s.fleet.restarts()
	sum.elapsed = rec.elapsed()
	sum.checkCoverage()
	sum.violations = append(rec.list(), sum.violations...)
	return sum, nil
}

// drive enqueues the plan while the chaos runs, and returns once both are
// over, with how long the intake took.
func drive(ctx context.Context, rec *recorder, s *stack, p profile, pl *plan, seed uint64) (*intake, *chaos, *heldRun, time.Duration) {
	prod := producer.NewFromClient(s.rdb, producer.WithSource("chaos"))
	in := &intake{rec: rec, prod: prod}
	ch := &chaos{rec: rec, p: p, fleet: s.fleet, redis: s.redis, sim: s.sim, rng: rand.New(rand.NewPCG(seed, 1))}
	held := &heldRun{rec: rec, prod: prod, ops: operator.New(s.rdb), st: store.New(s.rdb), sim: s.sim, refunds: pl.held(),
		approveAt: p.approveAt}
	// The held batch is in before the first Enqueue, so none of its
	// refunds' repeats can come first.
	held.importBatch(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { ch.run(ctx) })
	wg.Go(func() { held.waitAndApprove(ctx) })
	began := time.Now()
	in.run(ctx, pl.ops, p.rate, p.parallel)
	took := time.Since(began)
	rec.logf("intake done: %d accepted, %d enqueue retries", in.accepted.Load(), in.retries.Load())
	wg.Wait()
	return in, ch, held, took
}

func startStack(rec *recorder, dir, bin string, p profile, txns int) (*stack, error) {
	s := &stack{}
	var err error
	if s.redis, err = startRedis(rec, dir); err != nil {
		return nil, err
	}
	s.rdb = redis.NewClient(&redis.Options{Addr: s.redis.Addr()})
	cred := newCredential()
	if s.sim, err = startSim(rec, dir, bin, txns, p, cred); err != nil {
		return s, err
	}
	s.fleet = newFleet(rec, dir, bin, s.redis.URL(), s.sim.url, cred, p.worker)
	if err := s.fleet.grow(p.workers); err != nil {
		return s, err
	}
	rec.logf("redis-server %s (appendfsync always), simulator %s, %d workers", s.redis.Addr(), s.sim.url, p.workers)
	return s, nil
}

// stop ends the workers first, so none sees its Redis or provider vanish.
func (s *stack) stop() {
	if s.fleet != nil {
		s.fleet.stop()
	}
	if s.sim != nil {
		s.sim.stop()
	}
	if s.rdb != nil {
		_ = s.rdb.Close()
	}
	if s.redis != nil {
		s.redis.Stop()
	}
}

// refundqBinary builds cmd/refundq into dir unless a binary was given.
func refundqBinary(ctx context.Context, rec *recorder, dir, given string) (string, error) {
	if given != "" {
		return given, nil
	}
	rec.logf("building refundq")
	return testenv.BuildRefundq(ctx, dir)
}

func mkdir(dir string) error { return os.MkdirAll(dir, 0o700) }

func acceptedRefunds(pl *plan) []*plannedRefund {
	var out []*plannedRefund
	for _, r := range pl.refunds {
		if r.accepted.Load() {
			out = append(out, r)
		}
	}
	return out
}

func ids(rs []*plannedRefund) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.id
	}
	return out
}

// unsettledDetail describes a refund that never settled, for the report.
func unsettledDetail(ctx context.Context, st *store.Redis, id string) string {
	r, err := st.Get(ctx, id)
	if err != nil {
		return fmt.Sprintf("refund %s never settled: %v", id, err)
	}
	last := ""
	if evs, err := st.Events(ctx, id); err == nil && len(evs) > 0 {
		e := evs[len(evs)-1]
		last = fmt.Sprintf("; last event %s %s at %s", e.Type, e.Detail, e.At.Format(time.TimeOnly))
	}
	return fmt.Sprintf("refund %s never settled: state %s, %d attempts, %d polls, updated %s%s",
		id, r.State, r.Attempts, r.Polls, r.UpdatedAt.Format(time.TimeOnly), last)
}
