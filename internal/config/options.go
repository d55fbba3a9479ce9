package config

import "time"

// Command groups for the option table.
var (
	all      = []string{"*"}
	workers  = []string{"worker", "demo"}
	provider = []string{"worker", "reconcile", "sim"}
	sim      = []string{"sim"}
)

var options = []Option{
	{Flag: "redis", Env: "REFUNDQ_REDIS_URL", Default: "redis://127.0.0.1:6379/0", Commands: all,
		Usage: "Redis URL (redis://, rediss:// with TLS, redis-sentinel://)", set: str(func(c *Config) *string { return &c.RedisURL })},
	{Flag: "provider-env", Env: "REFUNDQ_PROVIDER_ENV", Default: "test", Commands: provider,
		Usage: "Freedom Pay environment: test or prod", set: oneOf(func(c *Config) *string { return &c.ProviderEnv }, "test", "prod")},
	{Flag: "provider-url", Env: "REFUNDQ_PROVIDER_URL", Default: "", Commands: provider,
		Usage: "Card API base URL; overrides --provider-env (e.g. a simulator)", set: str(func(c *Config) *string { return &c.ProviderURL })},
	{Flag: "auth-id", Env: "REFUNDQ_AUTH_ID", Default: "", Commands: provider,
		Usage: "Freedom Pay auth_id of the default merchant", set: str(func(c *Config) *string { return &c.AuthID })},
	{Env: "REFUNDQ_SECRET", Default: "", Commands: provider,
		Usage: "signing secret of the default merchant (or REFUNDQ_SECRET_FILE: a file holding it)", set: str(func(c *Config) *string { return &c.Secret })},
	{Flag: "concurrency", Env: "REFUNDQ_CONCURRENCY", Default: "20", Commands: workers,
		Usage: "refunds handled at once per worker", set: integer(func(c *Config) *int { return &c.Concurrency })},
	{Flag: "provider-timeout", Env: "REFUNDQ_PROVIDER_TIMEOUT", Default: "30s", Commands: workers,
		Usage: "timeout of one Card API call", set: duration(func(c *Config) *time.Duration { return &c.ProviderTimeout })},
	{Flag: "poll-schedule", Env: "REFUNDQ_POLL_SCHEDULE", Default: "1s,2s,5s,10s,30s,60s", Commands: workers,
		Usage: "waits before each status poll; the last repeats", set: durations(func(c *Config) *[]time.Duration { return &c.PollSchedule })},
	{Flag: "deadline", Env: "REFUNDQ_DEADLINE", Default: "24h", Commands: workers,
		Usage: "time after acceptance before an unsettled refund goes to needs_attention", set: duration(func(c *Config) *time.Duration { return &c.Deadline })},
	{Flag: "failure-budget", Env: "REFUNDQ_FAILURE_BUDGET", Default: "10", Commands: workers,
		Usage: "failed submit attempts before needs_attention (429s and waits do not count)", set: integer(func(c *Config) *int { return &c.FailureBudget })},
	{Flag: "shutdown-timeout", Env: "REFUNDQ_SHUTDOWN_TIMEOUT", Default: "35s", Commands: workers,
		Usage: "grace period for in-flight refunds on SIGTERM", set: duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{Flag: "retention", Env: "REFUNDQ_RETENTION", Default: "2160h", Commands: all,
		Usage: "how long refund records are kept after their last change (90 days)", set: duration(func(c *Config) *time.Duration { return &c.Retention })},
	{Flag: "metrics-addr", Env: "REFUNDQ_METRICS_ADDR", Default: ":9101", Commands: []string{"worker"},
		Usage: "listen address for /metrics and /healthz", set: str(func(c *Config) *string { return &c.MetricsAddr })},
	{Flag: "log-level", Env: "REFUNDQ_LOG_LEVEL", Default: "info", Commands: all,
		Usage: "debug, info, warn or error", set: oneOf(func(c *Config) *string { return &c.LogLevel }, "debug", "info", "warn", "error")},
	{Flag: "log-format", Env: "REFUNDQ_LOG_FORMAT", Default: "json", Commands: all,
		Usage: "json or console", set: oneOf(func(c *Config) *string { return &c.LogFormat }, "json", "console")},
	{Flag: "addr", Env: "REFUNDQ_SIM_ADDR", Default: ":8090", Commands: sim,
		Usage: "simulator listen address", set: str(func(c *Config) *string { return &c.SimAddr })},
	{Flag: "status-delay", Env: "REFUNDQ_SIM_STATUS_DELAY", Default: "2s", Commands: sim,
		Usage: "simulator: time a refund stays in process", set: duration(func(c *Config) *time.Duration { return &c.SimStatusDelay })},
	{Flag: "transactions", Env: "REFUNDQ_SIM_TRANSACTIONS", Default: "", Commands: sim,
		Usage: "simulator: CSV or JSON file of transactions to seed", set: str(func(c *Config) *string { return &c.SimTransactions })},
	{Flag: "generate", Env: "REFUNDQ_SIM_GENERATE", Default: "1000", Commands: sim,
		Usage: "simulator: generate txn-000001... order-000001... of 1000.00 each", set: integer(func(c *Config) *int { return &c.SimGenerate })},
	{Flag: "latency", Env: "REFUNDQ_SIM_LATENCY", Default: "0s", Commands: sim,
		Usage: "simulator: added latency per call", set: duration(func(c *Config) *time.Duration { return &c.SimLatency })},
	{Flag: "rate-5xx", Env: "REFUNDQ_SIM_RATE_5XX", Default: "0", Commands: sim,
		Usage: "simulator: share of calls answered 500", set: ratio(func(c *Config) *float64 { return &c.SimRate5xx })},
	{Flag: "rate-timeout", Env: "REFUNDQ_SIM_RATE_TIMEOUT", Default: "0", Commands: sim,
		Usage: "simulator: share of calls that hang until the client gives up", set: ratio(func(c *Config) *float64 { return &c.SimRateTimeout })},
	{Flag: "rate-429", Env: "REFUNDQ_SIM_RATE_429", Default: "0", Commands: sim,
		Usage: "simulator: share of calls answered 429", set: ratio(func(c *Config) *float64 { return &c.SimRate429 })},
	{Flag: "rate-drop", Env: "REFUNDQ_SIM_RATE_DROP", Default: "0", Commands: sim,
		Usage: "simulator: share of refunds executed with the reply dropped", set: ratio(func(c *Config) *float64 { return &c.SimRateDrop })},
}
