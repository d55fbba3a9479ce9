package main

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"time"
)

// measure runs the phases -only selects, in order, printing progress.
func (b *bench) measure(ctx context.Context, r *report, out io.Writer) error {
	only, err := regexp.Compile(b.cfg.only)
	if err != nil {
		return fmt.Errorf("-only: %w", err)
	}
	fmt.Fprintf(out, "loadbench on redis-server %s at %s (%s); worker: %s\n", b.redis.version, b.redis.Addr(),
		b.redis.Persistence(), b.cfg.refundqBin)
	for _, p := range b.phases(ctx, r) {
		if !only.MatchString(p.name) {
			continue
		}
		fmt.Fprintf(out, "  %-44s", p.name+" ...")
		start := time.Now()
		if err := p.run(); err != nil {
			fmt.Fprintln(out, "failed")
			return fmt.Errorf("%s: %w", p.name, err)
		}
		fmt.Fprintf(out, "%5.1fs\n", time.Since(start).Seconds())
	}
	return nil
}

// phase is one measurement; it records its figures in the report.
type phase struct {
	name string
	run  func() error
}

// phases lists every measurement in the order they run: the later ones
// use figures of the earlier ones (the half-load rate, for one).
func (b *bench) phases(ctx context.Context, r *report) []phase {
	s := b.cfg.sizes
	wo := workerOpts{concurrency: b.cfg.concurrency, pollSchedule: "1s", logLevel: b.cfg.logLevel, taskCheck: b.cfg.taskCheck}
	return []phase{
		{"raw asynq Enqueue, 1 goroutine", func() (err error) {
			r.RawEnqueue1, err = b.rawEnqueuePhase(ctx, s.raw1, 1)
			return err
		}},
		{fmt.Sprintf("raw asynq Enqueue, %d goroutines", b.cfg.enqueuers), func() (err error) {
			r.RawEnqueue32Cost, err = b.costOf(ctx, s.raw32, func() (err error) {
				r.RawEnqueue32, err = b.rawEnqueuePhase(ctx, s.raw32, b.cfg.enqueuers)
				return err
			})
			return err
		}},
		{"raw asynq no-op processing", func() error { return b.rawProcessPhase(ctx, r, s.rawProcess) }},
		{"refundq import of a CSV", func() (err error) {
			r.ImportCost, err = b.costOf(ctx, s.imports, func() (err error) {
				r.ImportRows, err = b.importRows(ctx, s.imports)
				return err
			})
			return err
		}},
		{"refundq e2e, success at once", func() error {
			res, err := b.e2e(ctx, "e2e", providerOpts{}, wo, s.e2e, 0)
			r.addE2E(res)
			return err
		}},
		{"refundq e2e, one poll per refund", func() error {
			// asynq schedules in whole seconds, so a poll due in 1s may run
			// at once; due in 2s it runs a second or more after the submit,
			// long after the simulator settles the refund.
			pw := wo
			pw.pollSchedule = "2s"
			res, err := b.e2e(ctx, "poll", providerOpts{statusDelay: 100 * time.Millisecond}, pw, s.e2ePoll, 1)
			r.addPoll(res)
			return err
		}},
		{"refundq 200 ms provider, concurrency 200", func() error {
			lw := wo
			lw.concurrency = littlesConcurrency
			res, err := b.e2e(ctx, "littles", providerOpts{latency: littlesLatency}, lw, s.littles, 0)
			r.addLittles(res)
			return err
		}},
		{"refundq open loop at half e2e capacity", func() error {
			rate := r.E2E / 2
			switch {
			case b.cfg.halfRate > 0:
				rate = b.cfg.halfRate
			case rate == 0:
				rate = 500 // -only skipped the e2e phase
			}
			res, err := b.halfLoad(ctx, rate, s.half, wo)
			r.addHalf(res)
			return err
		}},
		{"refundq idle worker", func() error {
			res, err := b.idle(ctx, wo, 10*time.Second)
			r.IdleWorkerCPU, r.IdleRedisCPU, r.IdleRedisCmds = res.workerCPU, res.redisCPU, res.redisCmds
			r.IdleStartP50, r.IdleStartP99 = res.startP50, res.startP99
			return err
		}},
		{"refundq idle worker by task check interval", func() error {
			for _, d := range b.cfg.idleTable {
				iw := wo
				iw.taskCheck = d
				res, err := b.idle(ctx, iw, 10*time.Second)
				if err != nil {
					return fmt.Errorf("at %s: %w", d, err)
				}
				r.IdleTable = append(r.IdleTable, idleRow{Interval: d.String(), WorkerCPU: res.workerCPU, RedisCPU: res.redisCPU,
					RedisCmds: res.redisCmds, StartP50: res.startP50, StartP99: res.startP99})
			}
			return nil
		}},
		{"raw asynq open loop at the same rate", func() (err error) {
			if err = b.reset(ctx); err != nil {
				return err
			}
			rate := r.HalfLoadRate
			if rate == 0 {
				rate = 500 // -only skipped the refundq latency phase
			}
			r.RawLatencyP50, r.RawLatencyP99, err = rawLatency(ctx, b.rdb, rate, s.half, b.cfg.concurrency, b.cfg.taskCheck)
			return err
		}},
	}
}

// Little's law phase: 200 calls in flight of 200 ms each is 1000/s.
const (
	littlesConcurrency = 200
	littlesLatency     = 200 * time.Millisecond
)
