package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress follows a long command through passes over counted items.
// intake.Progress has the same methods. A total of 0 is unknown, as in
// the first read of a file.
type progress interface {
	Start(pass string, total int)
	Set(done int)
	Finish()
}

// newProgress shows a bar on a terminal and otherwise writes a plain line
// every interval, which suits logs and CI output.
func newProgress(w io.Writer, unit string, interval time.Duration) progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &barProgress{w: w, unit: unit}
	}
	return &lineProgress{w: w, unit: unit, every: interval, now: time.Now}
}

type barProgress struct {
	w    io.Writer
	unit string
	bar  *progressbar.ProgressBar
	max  int
}

func (b *barProgress) Start(pass string, total int) {
	b.max = max(total, 1)
	if total <= 0 {
		b.max = -1 // a spinner with a count
	}
	b.bar = progressbar.NewOptions(b.max,
		progressbar.OptionSetWriter(b.w), progressbar.OptionSetDescription(pass),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(b.unit),
		progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionFullWidth(), progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }))
}

func (b *barProgress) Set(done int) {
	if b.max >= 0 && done > b.max { // the total was an estimate
		b.max = done
		b.bar.ChangeMax(done)
	}
	_ = b.bar.Set(done)
}

func (b *barProgress) Finish() {
	if b.max >= 0 {
		b.bar.ChangeMax(max(int(b.bar.State().CurrentNum), 1)) // end at 100% even below the estimate
	}
	_ = b.bar.Finish()
}

// lineProgress prints "import: 45000/100000 rows (45%), 12000 rows/s, eta
// 5s" at most once per interval, from Set, so it needs no goroutine.
type lineProgress struct {
	w     io.Writer
	unit  string
	every time.Duration
	now   func() time.Time

	pass          string
	total, done   int
	start, logged time.Time
}

func (l *lineProgress) Start(pass string, total int) {
	l.pass, l.total, l.done = pass, total, 0
	l.start = l.now()
	l.logged = l.start
}

func (l *lineProgress) Set(done int) {
	l.done = done
	if now := l.now(); now.Sub(l.logged) >= l.every {
		l.logged = now
		l.line(now, false)
	}
}

func (l *lineProgress) Finish() { l.line(l.now(), true) }

func (l *lineProgress) line(now time.Time, final bool) {
	el := now.Sub(l.start)
	rate := 0.0
	if el > 0 {
		rate = float64(l.done) / el.Seconds()
	}
	if final {
		fmt.Fprintf(l.w, "%s: %d %s in %s (%.0f %s/s)\n", l.pass, l.done, l.unit, el.Round(time.Millisecond), rate, l.unit)
		return
	}
	if l.total <= 0 {
		fmt.Fprintf(l.w, "%s: %d %s, %.0f %s/s\n", l.pass, l.done, l.unit, rate, l.unit)
		return
	}
	total := max(l.total, l.done)
	eta := "?"
	if rate > 0 {
		eta = time.Duration(float64(total-l.done) / rate * float64(time.Second)).Round(time.Second).String()
	}
	pct := 100 * l.done / max(total, 1)
	fmt.Fprintf(l.w, "%s: %d/%d %s (%d%%), %.0f %s/s, eta %s\n", l.pass, l.done, total, l.unit, pct, rate, l.unit, eta)
}
