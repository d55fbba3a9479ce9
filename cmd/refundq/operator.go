package main

import (
	"errors"

	"github.com/refundq/refundq/internal/ops"
)

// openOperator connects the operator commands to Redis. The caller runs the
// returned close when done.
func openOperator(e *env, opts ...ops.Option) (*ops.Operator, func(), error) {
	rdb, err := redisClient(e.cfg)
	if err != nil {
		return nil, nil, err
	}
	op := ops.New(rdb, append([]ops.Option{ops.WithRetention(e.cfg.Retention)}, opts...)...)
	return op, func() { _ = rdb.Close() }, nil
}

// operatorName is who the event log says acted: the CLI and the login
// name, when there is one (a distroless container has none).
func operatorName(e *env) string {
	if u := e.getenv("USER"); u != "" {
		return "cli:" + u
	}
	return "cli"
}

// oneID checks a command got exactly one request_id.
func oneID(args []string, usage string) (string, error) {
	if len(args) != 1 || args[0] == "" {
		return "", errors.New("usage: " + usage)
	}
	return args[0], nil
}
