package console

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/refundq/refundq/internal/access"
	"github.com/refundq/refundq/internal/batches"
	"github.com/refundq/refundq/internal/operator"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
)

// listLimit bounds every list a page shows.
const listLimit = 200

// awaitingLooks is how many recent batches the overview reads (a round
// trip each) for the ones awaiting approval.
const awaitingLooks = 50

type stateCount struct {
	State refund.State
	N     int64
}

type overviewData struct {
	States         []stateCount
	OldestPending  time.Duration
	FailedLastHour int64
	Queues         []asynq.QueueInfo
	Breakers       []store.BreakerReport
	Awaiting       []*store.BatchMeta
}

func (c *Console) overview(w http.ResponseWriter, r *http.Request, v *view) (string, error) {
	ctx := r.Context()
	st, err := c.ops.Stats(ctx)
	if err != nil {
		return "", err
	}
	d := overviewData{OldestPending: st.OldestPending, FailedLastHour: st.FailedLastHour, Queues: st.Queues}
	for _, s := range operator.ListStates() {
		d.States = append(d.States, stateCount{State: s, N: st.States[s]})
	}
	if d.Breakers, err = c.store.Breakers(ctx); err != nil {
		return "", err
	}
	if d.Awaiting, err = c.awaiting(ctx); err != nil {
		return "", err
	}
	v.Title, v.Nav, v.Data = "Overview", "overview", d
	return "overview", nil
}

// awaiting lists the batches among the latest awaitingLooks that hold
// refunds for a decision; the held count above covers the rest.
func (c *Console) awaiting(ctx context.Context) ([]*store.BatchMeta, error) {
	recent, err := c.store.RecentBatches(ctx, awaitingLooks)
	if err != nil {
		return nil, err
	}
	var out []*store.BatchMeta
	for _, m := range recent {
		if m.Counts[refund.Held] > 0 {
			out = append(out, m)
		}
	}
	return out, nil
}

type attentionRow struct {
	Rec    *refund.Record
	Age    time.Duration
	Advice string
}

// attention is the needs_attention queue, oldest first, each with its
// reason and the runbook's advice (refund.Attention.Advice, the one source
// of those words).
func (c *Console) attention(w http.ResponseWriter, r *http.Request, v *view) (string, error) {
	ctx := r.Context()
	recs, err := c.ops.List(ctx, refund.NeedsAttention, listLimit)
	if err != nil {
		return "", err
	}
	rows := make([]attentionRow, len(recs))
	for i, r := range recs {
		rows[i] = attentionRow{Rec: r, Age: c.now().Sub(r.UpdatedAt), Advice: r.ReasonCode.AdviceFor(r.RequestID)}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Age > rows[j].Age })
	v.Title, v.Nav, v.Data = "Needs attention", "attention", rows
	return "attention", nil
}

type refundsData struct {
	Kind, Query, Merchant string
	State                 refund.State
	States                []refund.State
	Searched              bool
	Results               []*refund.Record
	Note                  string
}

// searchKinds are what the refunds page searches by.
var searchKinds = []string{"request_id", "order_id", "transaction_id", "batch_id"}

// refunds searches by request_id, order_id, transaction_id or batch, or
// lists a state.
func (c *Console) refunds(w http.ResponseWriter, r *http.Request, v *view) (string, error) {
	ctx := r.Context()
	q := r.URL.Query()
	d := refundsData{Kind: q.Get("kind"), Query: strings.TrimSpace(q.Get("q")), Merchant: strings.TrimSpace(q.Get("merchant")),
		State: refund.State(q.Get("state")), States: operator.ListStates()}
	if !slices.Contains(searchKinds, d.Kind) {
		d.Kind = "request_id"
	}
	if d.Merchant == "" {
		d.Merchant = refund.DefaultMerchant
	}
	v.Title, v.Nav, v.Data = "Refunds", "refunds", &d
	var err error
	switch {
	case d.State != "" && slices.Contains(d.States, d.State):
		d.Searched = true
		d.Results, err = c.ops.List(ctx, d.State, listLimit)
	case d.Query != "":
		d.Searched = true
		d.Results, d.Note, err = c.search(ctx, d.Kind, d.Query, d.Merchant)
	}
	return "refunds", err
}

func (c *Console) search(ctx context.Context, kind, query, merchant string) ([]*refund.Record, string, error) {
	var ids []string
	var err error
	note := ""
	switch kind {
	case "request_id":
		ids = []string{query}
	case "order_id":
		ids, err = c.store.ByOrder(ctx, merchant, query)
	case "transaction_id":
		ids, err = c.store.ByTransaction(ctx, merchant, query)
	case "batch_id":
		ids, err = c.store.ByBatch(ctx, query)
		if len(ids) > listLimit {
			note = fmt.Sprintf("The batch has %d refunds; the first %d are shown. Its page has them by state, and its results file has all of them.", len(ids), listLimit)
			ids = ids[:listLimit]
		}
	}
	if err != nil {
		return nil, "", err
	}
	recs, err := c.store.GetMany(ctx, ids)
	if err != nil {
		return nil, "", err
	}
	out := recs[:0]
	for _, r := range recs {
		if r != nil {
			out = append(out, r)
		}
	}
	return out, note, nil
}

type taskView struct {
	Name, Queue, State string
}

type refundData struct {
	Rec         *refund.Record
	Events      []refund.Event
	CallbackURL string
	Advice      string
	Tasks       []taskView
	Runnable    bool
	// The actions the refund's state allows; the operator actions check
	// again, by compare-and-set, when one is taken.
	CanReconcile, CanRetry, CanCancel, CanRepair, CanDecide bool
	OwnHold                                                 bool
}

func (c *Console) refund(w http.ResponseWriter, r *http.Request, v *view) (string, error) {
	ctx := r.Context()
	id := r.PathValue("id")
	rec, err := c.store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", notFound("No refund has the request_id " + id + ".")
	}
	if err != nil {
		return "", err
	}
	evs, err := c.store.Events(ctx, id)
	if err != nil {
		return "", err
	}
	d := &refundData{Rec: rec, Events: evs}
	if rec.CallbackURL != "" {
		d.CallbackURL = refund.RedactURL(rec.CallbackURL)
	}
	if rec.State == refund.NeedsAttention {
		d.Advice = rec.ReasonCode.AdviceFor(rec.RequestID)
	}
	d.Tasks = c.tasks(rec)
	pending := slices.Contains(refund.Pending(), rec.State)
	if pending {
		if d.Runnable, err = c.ops.TaskState(rec); err != nil {
			return "", err
		}
	}
	d.CanReconcile = operator.Reconcilable(rec.State)
	d.CanRetry = rec.State == refund.NeedsAttention || rec.State == refund.Unknown || (rec.State == refund.Queued && !d.Runnable)
	d.CanCancel = rec.State == refund.Queued
	d.CanRepair = pending && !d.Runnable
	d.CanDecide = rec.State == refund.Held
	d.OwnHold = access.SameName(rec.HeldBy, v.Who.Name)
	v.Title, v.Nav, v.Data = "Refund "+id, "refunds", d
	return "refund", nil
}

// tasks reports the refund's submit and poll tasks as asynq has them.
func (c *Console) tasks(rec *refund.Record) []taskView {
	var out []taskView
	for _, t := range []struct{ name, queue, id string }{
		{"submit", rec.Queue, tasks.SubmitID(rec.RequestID)},
		{"poll", tasks.QueuePoll, tasks.PollID(rec.RequestID)},
		{"callback", tasks.QueueCallback, tasks.CallbackID(rec.RequestID)},
	} {
		info, err := c.insp.GetTaskInfo(t.queue, t.id)
		state := "none"
		switch {
		case err == nil:
			state = info.State.String()
		case !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound):
			state = "unknown (" + err.Error() + ")"
		}
		out = append(out, taskView{Name: t.name, Queue: t.queue, State: state})
	}
	return out
}

// refundAction takes one operator action on a refund, as the CLI would,
// and says what it did in the CLI's words.
func (c *Console) refundAction(ctx context.Context, r *http.Request, se *session) (string, string, error) {
	id, act := r.PathValue("id"), r.PathValue("action")
	back := "/console/refunds/" + url.PathEscape(id)
	if next := r.PostFormValue("back"); strings.HasPrefix(next, "/console/") && !strings.HasPrefix(next, "//") {
		back = next
	}
	by := se.who.Name
	var msg string
	var err error
	switch act {
	case "reconcile":
		var res *operator.Reconciliation
		if res, err = c.ops.Reconcile(ctx, id, by); err == nil {
			msg = fmt.Sprintf("Reconciled %s: %s → %s. %s", id, res.Before, res.Record.State, res.Verdict)
		}
	case "retry":
		var res *operator.Retried
		if res, err = c.ops.Retry(ctx, id, by); err == nil {
			msg = fmt.Sprintf("Retried %s: %s → %s, with the same request_id.", id, res.Before, res.Record.State)
		}
	case "cancel":
		if _, err = c.ops.Cancel(ctx, id, by); err == nil {
			msg = "Canceled " + id + "; it was never sent to the provider."
		}
	case "repair":
		var res *operator.Repaired
		if res, err = c.ops.Repair(ctx, id, by); err == nil {
			msg = fmt.Sprintf("Repaired %s: its task was %s; a worker takes it up now.", id, res.Task)
			if res.Task == tasks.Alive {
				msg = id + " has a task that will run; nothing to repair."
			}
		}
	case "approve", "reject":
		if !se.who.Role.Allows(access.Approver) {
			return back, "Your role is " + se.who.Role.String() + "; approving and rejecting needs approver. Nothing was done.", nil
		}
		if act == "approve" {
			_, err = c.ops.ApproveRefund(ctx, id, by)
			msg = "Approved " + id + " as " + by + ": it is queued and a worker sends it."
		} else {
			_, err = c.ops.RejectRefund(ctx, id, by)
			msg = "Rejected " + id + " as " + by + ": canceled, never sent."
		}
	default:
		return back, "", notFound("no such action")
	}
	if refusal := refusal(err); refusal != "" {
		return back, "Refused: " + refusal, nil
	}
	return back, msg, err
}

// refusal words an action the rules refused; "" for any other error.
func refusal(err error) string {
	var (
		se *operator.StateError
		me *store.MakerError
		de *store.DecidedError
	)
	switch {
	case err == nil:
		return ""
	case errors.As(err, &se), errors.As(err, &me), errors.As(err, &de),
		errors.Is(err, operator.ErrBusy), errors.Is(err, operator.ErrSameIdentity), errors.Is(err, store.ErrNothingHeld):
		return err.Error()
	case errors.Is(err, operator.ErrNoProvider):
		return "this server has no credential for the refund's merchant, so it cannot ask the provider; " +
			"start refundq serve with REFUNDQ_MERCHANTS_FILE (or REFUNDQ_AUTH_ID and REFUNDQ_SECRET), or run refundq reconcile"
	case errors.Is(err, store.ErrNotFound):
		return "no such refund or batch"
	}
	return ""
}

func (c *Console) batchList(w http.ResponseWriter, r *http.Request, v *view) (string, error) {
	ctx := r.Context()
	if id := strings.TrimSpace(r.URL.Query().Get("id")); id != "" {
		http.Redirect(w, r, "/console/batches/"+url.PathEscape(id), http.StatusSeeOther)
		return "", errWritten
	}
	recent, err := c.store.RecentBatches(ctx, listLimit)
	if err != nil {
		return "", err
	}
	v.Title, v.Nav, v.Data = "Batches", "batches", recent
	return "batches", nil
}

type batchData struct {
	Meta     *store.BatchMeta
	Report   *store.BatchReport
	Counts   []stateCount
	Settled  int
	Total    int
	Held     int
	Problems []store.ReportRow
	More     int
	IsMaker  bool
}

func (c *Console) batch(w http.ResponseWriter, r *http.Request, v *view) (string, error) {
	ctx := r.Context()
	id := r.PathValue("id")
	meta, err := c.store.Batch(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", notFound("No batch has the id " + id + ".")
	}
	if err != nil {
		return "", err
	}
	counts, err := batches.States(ctx, c.store, meta)
	if err != nil {
		return "", err
	}
	d := &batchData{Meta: meta, Held: counts[refund.Held]}
	d.Settled, d.Total = batches.Settled(counts)
	for _, st := range refund.States() {
		d.Counts = append(d.Counts, stateCount{State: st, N: int64(counts[st])})
	}
	for _, m := range meta.Makers {
		d.IsMaker = d.IsMaker || access.SameName(m, v.Who.Name)
	}
	rep, err := c.store.Report(ctx, id)
	switch {
	case err == nil:
		d.Report = rep
		if d.Problems, err = c.store.ReportRows(ctx, id, 0, listLimit); err != nil {
			return "", err
		}
		d.More = rep.Problems - len(d.Problems)
	case !errors.Is(err, store.ErrNotFound):
		return "", err
	}
	v.Title, v.Nav, v.Data = "Batch "+id, "batches", d
	return "batch", nil
}

// results sends the batch's results file, the one `refundq batch --out`
// writes.
func (c *Console) results(w http.ResponseWriter, r *http.Request, v *view) (string, error) {
	ctx := r.Context()
	id := r.PathValue("id")
	if _, err := c.store.Batch(ctx, id); errors.Is(err, store.ErrNotFound) {
		return "", notFound("No batch has the id " + id + ".")
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+safeFile(id)+`.results.csv"`)
	if err := batches.WriteResults(ctx, c.store, id, w); err != nil {
		return "", err
	}
	return "", errWritten
}

func safeFile(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, s)
}

// batchDecision approves or rejects a held batch as the session's name.
func (c *Console) batchDecision(ctx context.Context, r *http.Request, se *session) (string, string, error) {
	id, decision := r.PathValue("id"), r.PathValue("decision")
	back := "/console/batches/" + url.PathEscape(id)
	decide := map[string]func(context.Context, string, string) (*operator.BatchDecision, error){
		"approve": c.ops.ApproveBatch, "reject": c.ops.RejectBatch}[decision]
	if decide == nil {
		return back, "", notFound("no such decision")
	}
	// Once recorded, a decision runs to its end if the browser goes away.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
	defer cancel()
	d, err := decide(dctx, id, se.who.Name)
	if refusal := refusal(err); refusal != "" {
		return back, "Refused: " + refusal, nil
	}
	if err != nil {
		return back, "", err
	}
	msg := fmt.Sprintf("Batch %s %s by %s: %d held refunds moved.", id, d.Decision, se.who.Name, d.Moved)
	if d.Again {
		msg += fmt.Sprintf(" The decision already stood; this finished it (%d submit tasks repaired).", d.Repaired)
	}
	if d.Own > 0 {
		msg += fmt.Sprintf(" %d refunds you created stay held for another approver.", d.Own)
	}
	return back, msg, nil
}

func (c *Console) stranded(w http.ResponseWriter, r *http.Request, v *view) (string, error) {
	ctx := r.Context()
	list, err := c.ops.FindStranded(ctx, listLimit)
	if err != nil {
		return "", err
	}
	v.Title, v.Nav, v.Data = "Stranded tasks", "stranded", list
	return "stranded", nil
}
