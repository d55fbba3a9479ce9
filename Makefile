# refundq. `make test` is what CI runs (.ci/run); it needs nothing installed
# beforehand except Go: it installs redis-server, prometheus and chromium (for
# the console's browser test) with apt-get.

GO      ?= go
PKGS    ?= ./...

.PHONY: test deps vet unit fuzz fuzz-long bench bench-import bench-memory chaos test-ha demo build

test: deps vet unit fuzz

# deps installs the real services the tests run against, when missing.
deps:
	@missing=""; \
	command -v redis-server   >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v redis-sentinel >/dev/null 2>&1 || missing="$$missing redis-sentinel"; \
	command -v promtool       >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v chromium       >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	@# Debian starts the packaged services; tests run their own instances.
	@-systemctl stop redis-server prometheus >/dev/null 2>&1 || true

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags ha ./internal/hatest/

unit:
	CI=$${CI:-1} $(GO) test -race -count=1 -timeout 20m $(PKGS)

# fuzz runs every fuzz target briefly (.ci/fuzz); fuzz-long runs them for longer.
FUZZTIME ?= 5s
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) .ci/fuzz

fuzz-long:
	$(MAKE) fuzz FUZZTIME=2m

# chaos is the full chaos suite: 10k refunds through three worker processes
# while workers are killed, Redis restarts and the provider goes away, then
# an audit against the simulator's ledger. `make test` runs a reduced one.
chaos: deps
	$(GO) run ./bench/chaos

# bench is the load benchmark: raw asynq against refundq on one redis-server
# (no persistence; BENCH_FLAGS=-aof for appendfsync everysec), with
# `refundq worker` child processes. It prints one table and writes
# bench/results/latest.json; see docs/performance.md.
BENCH_FLAGS ?=
bench: deps
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/refundq ./cmd/refundq
	$(GO) run ./bench/loadbench -refundq bin/refundq -out bench/results/latest.json $(BENCH_FLAGS)

# bench-import measures `refundq import` on a real redis-server: its rate on
# a 100k-row CSV (1% bad rows) against raw asynq Enqueue from 32 goroutines,
# then the peak RSS of the binary importing 1M and 10M rows, all good and
# all bad. 10M good rows need about 17 GB of memory for Redis; a size that
# does not fit is skipped and said so. About 20 minutes; see
# docs/performance.md. BENCH_IMPORT_FLAGS="-results bench/results/import.txt"
# keeps the figures, "-rss-rows 1000000" measures less, "-baseline main"
# adds a before.
BENCH_IMPORT_FLAGS ?=
bench-import: deps
	$(GO) run ./bench/importbench $(BENCH_IMPORT_FLAGS)

# bench-memory measures what one refund costs in Redis, queued (10,000
# refunds) and settled (2,000), and reports bytes/refund and the MEMORY
# USAGE of one refund's record, events and task; docs/operations.md quotes it.
bench-memory: deps
	$(GO) test -run '^$$' -bench MemoryPerRefund -benchtime 1x ./internal/hatest/

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/refundq ./cmd/refundq

demo:
	$(GO) run ./cmd/refundq demo

# test-ha runs the Sentinel failover and Redis Cluster tests (real processes;
# a few minutes), kept out of `make test` for time.
test-ha: deps
	$(GO) test -tags ha -race -count=1 -timeout 20m -v ./internal/hatest/
