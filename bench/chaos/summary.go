package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

// maxListed bounds how many violations the table lists one by one; the
// count is always complete.
const maxListed = 20

// summary is the outcome of a run.
type summary struct {
	profile profile
	seed    uint64
	plan    *plan
	intake  *intake
	chaos   *chaos
	held    *heldRun
	tally   tally
	faults  map[string]int
	// staleIndex counts, per pending state, the request_ids its index still
	// lists although every refund settled (see collect).
	staleIndex     map[string]int
	workerRestarts int

	intakeTook, settleTook, elapsed time.Duration
	violations                      []string
}

// collect gathers the final records, the ledger and the simulator's fault
// counts, and audits them.
func (s *summary) collect(ctx context.Context, st *store.Redis, stk *stack, accepted []*plannedRefund, open []string) error {
	for i, id := range open {
		if i == maxListed {
			s.violations = append(s.violations, fmt.Sprintf("... and %d more refunds never settled", len(open)-maxListed))
			break
		}
		s.violations = append(s.violations, unsettledDetail(ctx, st, id))
	}
	recs, err := loadRecords(ctx, st, ids(accepted))
	if err != nil {
		return fmt.Errorf("load records: %w", err)
	}
	l, err := stk.sim.ledger(ctx)
	if err != nil {
		return err
	}
	v, t := audit(accepted, recs, l)
	s.violations, s.tally = append(s.violations, v...), t
	if s.faults, err = stk.sim.faultCounts(ctx); err != nil {
		return err
	}
	// The state indexes are a listing aid the operator tools and the
	// oldest-pending metric read; a leftover entry is not a lost refund
	// but shows as one there, so it is reported (not failed).
	counts, _, err := st.StateCounts(ctx)
	if err != nil {
		return err
	}
	s.staleIndex = map[string]int{}
	for _, p := range refund.Pending() {
		if counts[p] > 0 {
			s.staleIndex[string(p)] = int(counts[p])
		}
	}
	return nil
}

// print writes the summary table, then every violation (up to maxListed),
// in one Write so a line-oriented writer (t.Log) keeps the table whole.
func (s *summary) print(out io.Writer) {
	w := &strings.Builder{}
	defer func() { _, _ = io.WriteString(out, w.String()) }()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(k string, v any) { fmt.Fprintf(tw, "%s\t%v\n", k, v) }
	p, in, ch, t := s.profile, s.intake, s.chaos, s.tally
	fmt.Fprintf(w, "refundq chaos run (%s), seed %d\n", p.name, s.seed)
	row("refunds planned", fmt.Sprintf("%d (%d full, %d partial, %d over-refunds) on %d transactions",
		len(s.plan.refunds), s.plan.count(kindFull), s.plan.count(kindPartial), s.plan.count(kindOver), s.plan.txns))
	heldIn := 0
	if s.held != nil && s.held.imported.Load() {
		heldIn = len(s.held.refunds)
	}
	row("accepted", fmt.Sprintf("%d (%d one by one, %d in the held batch)", in.accepted.Load()+int64(heldIn), in.accepted.Load(), heldIn))
	row("duplicate enqueues", in.repeats.Load())
	row("enqueues retried (Redis down)", fmt.Sprintf("%d refunds, %d retries", in.retried.Load(), in.retries.Load()))
	for _, st := range refund.States() {
		row("state "+string(st), t.states[st])
	}
	row("failed, though the ledger executed it", t.failedExecuted)
	row("succeeded, though the ledger did not execute it", t.succeededUnexecuted)
	row("provider executions", t.executions)
	row("provider refund calls", fmt.Sprintf("%d (%d request_ids sent more than once, %d rejected)", t.submissions, t.resubmitted, t.rejected))
	row("refundq attempts / polls", fmt.Sprintf("%d / %d", t.attempts, t.polls))
	row("injected faults", countLine(s.faults))
	row("workers SIGKILLed", ch.kills.Load())
	row("workers SIGTERMed (exit 0)", fmt.Sprintf("%d (shutdown took %s)", ch.terms.Load(), time.Duration(ch.termTook.Load()).Round(time.Millisecond)))
	row("worker restarts", s.workerRestarts)
	row("redis-server restarts", fmt.Sprintf("%d (SIGKILL to serving: %s)", ch.restarts.Load(), time.Duration(ch.redisDown.Load()).Round(time.Millisecond)))
	row("provider outages", fmt.Sprintf("%d x %s", ch.outages.Load(), p.outage))
	if h := s.held; h != nil {
		row("held batch", fmt.Sprintf("%d refunds imported held by %s; refund calls before approval at %s: %d; importer's approval refused: %v; approved by %s: %v",
			len(h.refunds), heldMaker, p.approveAt, h.sentBefore.Load(), h.makerRefused.Load(), heldChecker, h.approved.Load()))
	}
	row("stale pending-index entries", orNone(countLine(s.staleIndex)))
	row("elapsed: intake", s.intakeTook.Round(time.Second))
	row("elapsed: chaos end to all settled", s.settleTook.Round(time.Second))
	row("elapsed: total", s.elapsed.Round(time.Second))
	row("violations", len(s.violations))
	row("needs_attention by reason", orNone(countLine(t.attentionReasons)))
	_ = tw.Flush()
	// Every needs_attention refund, with what the ledger says about it: an
	// operator's queue is only as good as the account of each entry.
	for _, l := range t.attention {
		fmt.Fprintf(w, "needs_attention: %s\n", l)
	}
	listed(w, "VIOLATION", s.violations)
}

func listed(w io.Writer, label string, lines []string) {
	for i, l := range lines {
		if i == maxListed {
			fmt.Fprintf(w, "%s: ... and %d more\n", label, len(lines)-maxListed)
			return
		}
		fmt.Fprintf(w, "%s: %s\n", label, l)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// countLine is "a 1, b 2", sorted by key.
func countLine(f map[string]int) string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, f[k])
	}
	return strings.Join(parts, ", ")
}

// checkCoverage fails a run whose faults did not all happen: a run with no
// crash or no committed-then-failed call passes without proving anything.
func (s *summary) checkCoverage() {
	ch := s.chaos
	for _, c := range []struct {
		ok   bool
		what string
	}{
		{ch.kills.Load() > 0, "no worker was SIGKILLed"},
		{ch.terms.Load() == 1, "no worker was stopped gracefully"},
		{ch.restarts.Load() == 1, "redis-server was not restarted"},
		{ch.outages.Load() == 1, "the provider outage did not happen"},
		{s.faults["5xx_commit"] > 0 && s.faults["timeout_commit"] > 0 && s.faults["drop"] > 0,
			"the simulator executed no refund behind a fault (commit_on_fault not applied?)"},
		{s.faults["status_lag"] > 0 && s.faults["late_commit"] > 0 && s.faults["late_commit_race"] > 0 && s.faults["forget"] > 0,
			"the provider never lagged, committed late, raced its duplicate check or forgot a request"},
		{s.tally.executions > 0, "the provider executed nothing"},
		{s.held != nil && s.held.imported.Load() && s.held.makerRefused.Load() && s.held.approved.Load(),
			"the held batch was not imported, its importer's approval was not refused, or it was never approved"},
	} {
		if !c.ok {
			s.violations = append(s.violations, "coverage: "+c.what)
		}
	}
}
