package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// recorder collects violations from every goroutine of the run and prints
// progress lines with the time since the start.
type recorder struct {
	out   io.Writer
	start time.Time

	mu         sync.Mutex
	violations []string
}

func newRecorder(out io.Writer) *recorder { return &recorder{out: out, start: time.Now()} }

func (r *recorder) violate(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.violations = append(r.violations, msg)
	r.mu.Unlock()
	r.logf("VIOLATION: %s", msg)
}

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.violations...)
}

func (r *recorder) logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.out, "[%6.1fs] %s\n", time.Since(r.start).Seconds(), fmt.Sprintf(format, args...))
}

func (r *recorder) elapsed() time.Duration { return time.Since(r.start) }
