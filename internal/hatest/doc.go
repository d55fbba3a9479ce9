// Package hatest runs refundq against the Redis deployments production
// uses: Sentinel through a primary crash, and Redis Cluster. The tests start
// real redis-server and redis-sentinel processes and take tens of seconds,
// so they build only with the ha tag:
//
//	go test -tags ha -race -count=1 -v ./internal/hatest/
//
// or `make test-ha`. The package also holds the multi-worker throughput
// benchmark, which needs no tag.
package hatest
