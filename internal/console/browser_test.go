package console_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/refundq/refundq/internal/fpsim"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/testenv"
)

// chromium finds the headless browser: the Debian chromium package that
// `make deps` installs. Without it the test is skipped on a developer's
// machine and fails in CI, where it must run.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium: `make deps` installs the Debian chromium package")
	}
	t.Skip("no chromium installed (make deps installs it)")
	return ""
}

// browser is one headless Chromium with its own profile, so each sign-in
// starts without cookies.
type browser struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string // screenshots
	shot int
}

func newBrowser(t *testing.T, base, dir string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx, base: base, dir: dir}
	// The first run starts the browser; it must not run under a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// limit bounds one browser step.
func (b *browser) limit() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, 30*time.Second)
}

func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.limit()
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// open loads a console page and returns its HTTP status.
func (b *browser) open(path string) int64 {
	b.t.Helper()
	return b.respond("open "+path, chromedp.Navigate(b.base+path))
}

// respond runs steps that load a page and returns the page's status.
func (b *browser) respond(what string, steps ...chromedp.Action[chromedp.Void]) int64 {
	b.t.Helper()
	ctx, cancel := b.limit()
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	return resp.Status
}

// text is the visible text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	ctx, cancel := b.limit()
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// count is how many elements match sel, without waiting for any.
func (b *browser) count(sel string) int {
	b.t.Helper()
	ctx, cancel := b.limit()
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
	if err != nil {
		b.t.Fatalf("count %s: %v", sel, err)
	}
	return n
}

// screenshot saves the whole page as NN-name.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := b.limit()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	b.shot++
	path := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.shot, name))
	testenv.Must(b.t, os.WriteFile(path, png, 0o644))
}

func (b *browser) signIn(token, name string) {
	b.t.Helper()
	b.open("/console/login")
	b.respond("sign in", chromedp.SendKeys(chromedp.CSS("#token"), token), chromedp.Click(chromedp.CSS("#signin")))
	if who := b.text("#who"); !strings.HasPrefix(who, name+" ") {
		b.t.Fatalf("signed in as %q, want %s", who, name)
	}
}

func (b *browser) signOut() {
	b.t.Helper()
	b.respond("sign out", chromedp.Click(chromedp.CSS("header form button")))
	if b.count("#signin") != 1 {
		b.t.Fatal("signing out did not lead to the sign-in page")
	}
}

// click presses a button and waits for the page it leads to.
func (b *browser) click(sel string) int64 {
	b.t.Helper()
	return b.respond("click "+sel, chromedp.Click(chromedp.CSS(sel)))
}

// waitFor reloads path until cond holds.
func (b *browser) waitFor(path, what string, cond func() bool) {
	b.t.Helper()
	testenv.WaitFor(b.t, 30*time.Second, what, func() bool {
		b.open(path)
		return cond()
	})
}

// post submits a form the page did not offer, from inside the signed-in
// page, as a forged or hand-made form would be: fields are its inputs. It
// returns the answer's status.
func (b *browser) post(path string, fields map[string]string) int64 {
	b.t.Helper()
	var js strings.Builder
	fmt.Fprintf(&js, "(() => { const f = document.createElement('form'); f.method = 'post'; f.action = %q;", path)
	for k, v := range fields {
		fmt.Fprintf(&js, "{ const i = document.createElement('input'); i.type = 'hidden'; i.name = %q; i.value = %q; f.appendChild(i); }", k, v)
	}
	js.WriteString("document.body.appendChild(f); f.submit(); })()")
	return b.respond("post "+path, chromedp.Evaluate[chromedp.Void](js.String()))
}

// csrf is the session's CSRF token, read off the sign-out form.
func (b *browser) csrf() string {
	b.t.Helper()
	ctx, cancel := b.limit()
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("header form input[name=csrf]")))
	if err != nil {
		b.t.Fatalf("csrf: %v", err)
	}
	return v
}

// The console in a real headless Chromium: a viewer sees no action; an
// operator reconciles a refund a provider fault parked in needs_attention
// and sees it settle; a held batch cannot be approved by its importer and
// is approved by another approver, after which its refunds succeed; and a
// POST without the session's CSRF token is refused. Screenshots of every
// page go to the test's temp dir (and to $REFUNDQ_CONSOLE_SHOTS, which the
// docs' pictures come from).
func TestConsoleInABrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs redis-server, a worker, the simulator and Chromium")
	}
	chromium(t)
	e := newStack(t)
	dir := t.TempDir()
	if d := os.Getenv("REFUNDQ_CONSOLE_SHOTS"); d != "" {
		dir = d
		testenv.Must(t, os.MkdirAll(dir, 0o755))
	}
	t.Logf("screenshots in %s", dir)

	// A provider fault: the refund executes, but every answer is a 500,
	// so the worker never learns it and parks it at its deadline.
	e.Sim.SetFaults(fpsim.Faults{Rate5xx: 1, CommitOnFault: true})
	parked := e.enqueue("order-000001", "25.00")
	e.waitState(parked, refund.NeedsAttention)
	e.Sim.SetFaults(fpsim.Faults{})
	queued := e.enqueue("order-000002", "5.00")
	e.waitState(queued, refund.Succeeded)

	b := newBrowser(t, e.base, dir)

	// A viewer sees everything and can do nothing.
	b.signIn(viewerTok.Secret, "vera")
	b.screenshot("overview")
	b.open("/console/attention")
	if b.count("#na-"+parked) != 1 {
		t.Fatalf("the parked refund %s is not on the needs attention page", parked)
	}
	if n := b.count("main form"); n != 0 {
		t.Fatalf("a viewer sees %d action forms on the needs attention page", n)
	}
	b.screenshot("attention-viewer")
	b.open("/console/refunds/" + parked)
	if n := b.count("#actions"); n != 0 {
		t.Fatal("a viewer sees actions on a refund page")
	}
	// Even a hand-made form with the session's own CSRF token is refused
	// for the role, and changes nothing.
	if status := b.post("/console/refunds/"+parked+"/retry", map[string]string{"csrf": b.csrf()}); status != http.StatusForbidden {
		t.Fatalf("a viewer's retry answered %d, want 403", status)
	}
	if st := e.Get(parked).State; st != refund.NeedsAttention {
		t.Fatalf("a viewer's refused retry moved the refund to %s", st)
	}
	b.open("/console/")
	b.signOut()

	// An operator reconciles it from the queue and sees it settle.
	b.signIn(operatorTok.Secret, "olga")
	b.open("/console/attention")
	if !strings.Contains(b.text("#na-"+parked+" .advice"), refund.AttentionDeadline.AdviceFor(parked)[:40]) {
		t.Fatalf("the advice shown is not the runbook's: %q", b.text("#na-"+parked+" .advice"))
	}
	b.screenshot("attention-operator")
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.open("/console/attention")
	b.screenshot("phone-attention")
	b.do(chromedp.EmulateViewport(1280, 900))
	b.open("/console/attention")
	b.click("#na-" + parked + ` form[action$="/reconcile"] button`)
	if flash := b.text("#flash"); !strings.Contains(flash, "→ succeeded") {
		t.Fatalf("after reconcile: %q", flash)
	}
	b.open("/console/refunds/" + parked)
	if st := b.text("#state"); st != "succeeded" {
		t.Fatalf("refund page shows %q, want succeeded", st)
	}
	b.screenshot("refund-reconciled")
	if l := e.Ledger(parked); l.Executions != 1 {
		t.Fatalf("the reconciled refund executed %d times", l.Executions)
	}
	b.open("/console/refunds?kind=order_id&q=order-000002")
	if b.count("#results tbody tr") != 1 {
		t.Fatal("search by order_id found nothing")
	}
	b.screenshot("search")
	b.signOut()

	// alice imports a held batch; she cannot approve it.
	batch := e.uploadHeld(aliceTok, "held-console", 3)
	b.signIn(aliceTok.Secret, "alice")
	b.open("/console/batches/" + batch)
	if b.count("#ownbatch") != 1 || b.count("#decide button") != 0 {
		t.Fatal("the importer is offered to approve her own batch")
	}
	if status := b.post("/console/batches/"+batch+"/approve", map[string]string{"csrf": b.csrf()}); status != http.StatusOK {
		t.Fatalf("the importer's approval answered %d", status)
	}
	if flash := b.text("#flash"); !strings.Contains(flash, "Refused") || !strings.Contains(flash, "alice") {
		t.Fatalf("the importer's approval: %q, want a refusal naming alice", flash)
	}
	b.screenshot("batch-held-own")
	if n := e.counts(batch)[refund.Held]; n != 3 {
		t.Fatalf("after the importer's attempt %d held, want 3", n)
	}
	for _, id := range e.batchIDs(batch) {
		if l := e.Ledger(id); l.Submissions != 0 {
			t.Fatalf("a held refund reached the provider before approval")
		}
	}
	b.signOut()

	// bob approves it, and its refunds succeed.
	b.signIn(bobTok.Secret, "bob")
	b.open("/console/")
	if b.count(`a[href="/console/batches/`+batch+`"]`) != 1 {
		t.Fatal("the overview does not list the batch awaiting approval")
	}
	b.screenshot("overview-awaiting")
	b.open("/console/batches/" + batch)
	b.screenshot("batch-held")
	b.click("#approve")
	if flash := b.text("#flash"); !strings.Contains(flash, "approved by bob: 3 held refunds moved") {
		t.Fatalf("after approval: %q", flash)
	}
	b.waitFor("/console/batches/"+batch, "the batch to settle", func() bool {
		return strings.HasPrefix(b.text("#progress"), "3 of 3 settled")
	})
	if n := e.counts(batch)[refund.Succeeded]; n != 3 {
		t.Fatalf("%d succeeded, want 3", n)
	}
	if d := b.text("#decision"); !strings.Contains(d, "by bob") {
		t.Fatalf("decision shown: %q", d)
	}
	b.screenshot("batch-approved")
	b.open("/console/refunds/" + e.batchIDs(batch)[0])
	b.screenshot("refund-approved")

	// A POST without the CSRF token is refused, session or not.
	if status := b.post("/console/refunds/"+queued+"/retry", map[string]string{}); status != http.StatusForbidden {
		t.Fatalf("a POST without CSRF answered %d, want 403", status)
	}
	if p := b.text("#problem"); !strings.Contains(p, "CSRF") {
		t.Fatalf("refusal page says %q", p)
	}
	b.screenshot("csrf-refused")
	if status := b.post("/console/refunds/"+queued+"/retry", map[string]string{"csrf": "0" + b.csrfAfterBack()}); status != http.StatusForbidden {
		t.Fatalf("a POST with a wrong CSRF token answered %d, want 403", status)
	}
	e.noTokenInRedis()

	// A phone's width.
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	b.open("/console/batches/" + batch)
	b.screenshot("phone-batch")
	b.open("/console/refunds/" + e.batchIDs(batch)[0])
	b.screenshot("phone-refund")
	e.AuditClean()
}

// csrfAfterBack reloads a page that has the sign-out form and reads the
// CSRF token off it.
func (b *browser) csrfAfterBack() string {
	b.t.Helper()
	b.open("/console/")
	return b.csrf()
}
