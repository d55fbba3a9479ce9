// Package hatest runs refundq against the Redis deployments production
// uses: Sentinel through a primary crash, Redis Cluster, and several
// `refundq worker` processes sharing the provider rate limit. The tests
// start real redis-server, redis-sentinel and refundq processes and take
// tens of seconds, so they build only with the ha tag:
//
//	go test -tags ha -race -count=1 -v ./internal/hatest/
//
// or `make test-ha`. The package also holds the multi-worker throughput
// benchmarks and the Redis memory one (`make bench-memory`), which need no
// tag.
package hatest
