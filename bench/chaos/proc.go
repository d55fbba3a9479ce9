package main

import (
	"fmt"
	"net"
	"time"

	"github.com/refundq/refundq/internal/testenv"
)

// proc is one child process of the run: redis-server, the simulator or a
// worker.
type proc = testenv.Process

// launch starts bin with args and env, appending its output to logPath. An
// exit nobody asked for is a violation: a worker that dies on its own under
// chaos is exactly the kind of bug this run exists to find.
func launch(rec *recorder, name, logPath, bin string, args, env []string) (*proc, error) {
	return testenv.StartProcess(name, logPath, bin, args, env, func(p *proc, err error) {
		rec.violate("%s (pid %d) exited on its own: %v (log %s)", name, p.Pid(), err, logPath)
	})
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before the child binds it; the child then fails to start and the
// run reports it, which is rare enough not to retry.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitUntil polls cond every interval until it holds or timeout passes.
func waitUntil(timeout, interval time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(interval)
	}
	return nil
}
