package redisconn

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// Problem says in plain words what went wrong with Redis, to follow
// "Redis at ADDR", or "" when err is not about Redis: go-redis's own words
// ("autopipeline: no batch permit", "i/o timeout") do not tell an
// operator that Redis hung.
func Problem(err error) string {
	var (
		re redis.Error
		oe *net.OpError
	)
	switch {
	case err == nil || errors.Is(err, context.Canceled):
		return ""
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		strings.Contains(err.Error(), "no batch permit"), isTimeout(err):
		return "stopped answering: no reply within the client's timeout (is it overloaded, paused or swapping?)"
	case errors.As(err, &oe) && oe.Op == "dial":
		return "is unreachable: " + oe.Err.Error()
	case errors.Is(err, syscall.ECONNREFUSED):
		return "is unreachable: connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE), errors.Is(err, redis.ErrClosed):
		return "closed the connection (did it restart?)"
	case errors.As(err, &re):
		return "refused a command: " + re.Error()
	}
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
