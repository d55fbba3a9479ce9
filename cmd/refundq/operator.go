package main

import (
	"context"
	"errors"

	"github.com/refundq/refundq/internal/access"
	"github.com/refundq/refundq/internal/operator"
)

// openOperator connects the operator commands to Redis. The caller runs the
// returned close when done.
func openOperator(e *env, opts ...operator.Option) (*operator.Operator, func(), error) {
	rdb, err := redisClient(e.cfg)
	if err != nil {
		return nil, nil, err
	}
	op := operator.New(rdb, append([]operator.Option{operator.WithRetention(e.cfg.Retention)}, opts...)...)
	return op, func() { _ = rdb.Close() }, nil
}

// operatorName is who the event log says acted, and whom an approval
// compares with the maker: --identity (REFUNDQ_IDENTITY), else the login
// name when it is a valid name (a distroless container has none), else
// "cli". A CLI user holds the Redis credentials, so this name is what they
// say they are; the API's and the console's come from their tokens.
func operatorName(e *env) string {
	if e.cfg.Identity != "" {
		return e.cfg.Identity
	}
	if u := e.getenv("USER"); access.ValidName(u) {
		return u
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

// operatorAction is a command that applies one operator action to one
// refund, by request_id, and returns what it did (R). It has the shape of an
// *operator.Operator method expression, such as (*operator.Operator).Cancel,
// hence the receiver first.
type operatorAction[R any] func(op *operator.Operator, ctx context.Context, id, who string) (R, error)

// runOnRecord checks the arguments, connects, runs act and prints what it
// did through report.
func runOnRecord[R any](ctx context.Context, e *env, args []string, usage string, act operatorAction[R], report func(R)) error {
	id, err := oneID(args, usage)
	if err != nil {
		return err
	}
	return withOperator(e, func(op *operator.Operator) (R, error) { return act(op, ctx, id, operatorName(e)) }, report)
}

// withOperator connects, runs act and prints its result through report.
func withOperator[R any](e *env, act func(*operator.Operator) (R, error), report func(R), opts ...operator.Option) error {
	op, done, err := openOperator(e, opts...)
	if err != nil {
		return err
	}
	defer done()
	res, err := act(op)
	if err != nil {
		return err
	}
	report(res)
	return nil
}
