package main

import (
	"github.com/refundq/refundq/internal/testenv"
)

// proc is one child process of the run: the simulator or a worker.
type proc = testenv.Process

// launch starts bin with args and env, appending its output to logPath. An
// exit nobody asked for is a violation: a worker that dies on its own under
// chaos is exactly the kind of bug this run exists to find.
func launch(rec *recorder, name, logPath, bin string, args, env []string) (*proc, error) {
	return testenv.StartProcess(name, logPath, bin, args, env, func(p *proc, err error) {
		rec.violate("%s (pid %d) exited on its own: %v (log %s)", name, p.Pid(), err, logPath)
	})
}
