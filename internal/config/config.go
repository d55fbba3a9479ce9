// Package config is refundq's whole configuration: one struct, filled from
// defaults, then environment variables, then command-line flags, from one
// table that also documents every setting.
package config

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/refundq/refundq/internal/access"
	"github.com/refundq/refundq/internal/redisconn"
	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
)

// Config holds every setting of every refundq command.
type Config struct {
	RedisURL string
	// The rest of the Redis setting, for deployments that keep it out of
	// the URL; see internal/redisconn.
	RedisCAFile, RedisCertFile, RedisKeyFile string
	RedisSentinelMaster                      string
	RedisSentinelPassword                    string // never a flag
	RedisPassword                            string // never a flag
	RedisCluster                             bool
	// RedisReplicaAcks, when above zero, makes an accepted refund and the
	// record of a send wait for that many replicas (WAIT), for at most
	// RedisReplicaAckTimeout.
	RedisReplicaAcks       int
	RedisReplicaAckTimeout time.Duration

	ProviderEnv string // test or prod
	ProviderURL string // overrides ProviderEnv, e.g. a simulator
	// ProviderProfile names the provider profile file; empty is the
	// shipped Freedom Pay v5 default (see internal/freedompay).
	ProviderProfile string
	AuthID          string
	Secret          string // never a flag: flags show up in ps
	// MerchantsFile names the merchant credentials file; when set it
	// replaces AuthID/Secret (see internal/merchants).
	MerchantsFile string

	RateLimit        int // provider calls per second per merchant; 0 is no limit
	BreakerFailures  int // 0 turns the breaker off
	BreakerOpen      time.Duration
	CallbackAttempts int

	Concurrency           int
	FollowUpConcurrency   int
	ProviderTimeout       time.Duration
	PollSchedule          []time.Duration
	TaskCheckInterval     time.Duration
	FollowUpCheckInterval time.Duration
	Deadline              time.Duration
	SettleWindow          time.Duration
	FailureBudget         int
	ShutdownTimeout       time.Duration
	Retention             time.Duration

	MetricsAddr string
	LogLevel    string
	LogFormat   string

	SimAddr         string
	SimStatusDelay  time.Duration
	SimTransactions string
	SimGenerate     int
	SimLatency      time.Duration
	SimRate5xx      float64
	SimRateTimeout  float64
	SimRate429      float64
	SimRateDrop     float64
	// The rest of the simulator's fault mix and its wire vocabulary; see
	// fpsim.Faults and fpsim.Dialect.
	SimLatencyJitter      time.Duration
	SimCommitOnFault      bool
	SimHangMax            time.Duration
	SimDeclineRate        float64
	SimStatusLagRate      float64
	SimStatusLagMax       time.Duration
	SimLateCommitRate     float64
	SimLateCommitRaceRate float64
	SimLateCommitMin      time.Duration
	SimLateCommitMax      time.Duration
	SimForgetRate         float64
	SimDialect            string
	SimSeed               int // 0: a new seed each start

	APIAddr           string
	APITokens         []access.Token // never a flag and never logged: see tokens.go
	APIBodyLimit      int
	APIBatchBodyLimit int
	APIBatchMemory    int
	APIReadTimeout    time.Duration
	APIWriteTimeout   time.Duration

	ListState string // refundq list: the state to show
	ListLimit int

	ImportBatchID      string // empty: derived from the file's content
	ImportAllOrNothing bool
	ImportHold         bool   // hold the batch for an approver
	ImportRejects      string // empty: FILE.rejects.csv
	ImportConcurrency  int
	BatchWait          bool
	BatchOut           string
	BatchInterval      time.Duration

	// Identity is who runs a CLI command, for event logs and approvals;
	// empty is the login name.
	Identity string
	// The hold policy (see internal/hold): a batch over HoldBatchRows
	// rows or HoldBatchAmount in all, and a refund over
	// HoldRefundAmount, wait for an approver. Zero holds nothing.
	HoldBatchRows    int
	HoldBatchAmount  decimal.Decimal
	HoldRefundAmount decimal.Decimal

	// refundq provider-check: the test transaction and the refunds made
	// against it, where the profile draft goes, and the one flag that lets
	// it talk to the production host.
	CheckTransactionID string
	CheckOrderID       string
	CheckMerchant      string
	CheckAmount        string
	CheckOverAmount    string
	CheckDraft         string
	CheckPollFor       time.Duration
	CheckAllowProd     bool
}

// Option documents and parses one setting.
type Option struct {
	Flag, Env, Default, Usage string
	// Commands lists the subcommands that take the option; "*" is all.
	Commands []string
	// Switch makes the flag a boolean one: --flag alone means true.
	Switch bool
	set    func(*Config, string) error
}

// Options is the table of every setting.
func Options() []Option { return options }

// Load builds the Config for command from the environment and args, and
// returns the arguments left after the flags.
//
// extra binds a command's own flags (those that are not settings, such as
// enqueue's --order-id) on the same flag set.
func Load(command string, args []string, getenv func(string) string, out io.Writer, extra ...func(*flag.FlagSet)) (*Config, []string, error) {
	c := &Config{}
	fs := flag.NewFlagSet("refundq "+command, flag.ContinueOnError)
	fs.SetOutput(out)
	for _, bind := range extra {
		bind(fs)
	}
	for _, o := range options {
		if !o.for_(command) {
			continue
		}
		if err := o.set(c, o.Default); err != nil {
			return nil, nil, fmt.Errorf("config: default of %s: %w", o.Flag, err)
		}
		if v := getenv(o.Env); v != "" {
			if err := o.set(c, v); err != nil {
				return nil, nil, fmt.Errorf("config: %s: %w", o.Env, err)
			}
		}
		if o.Flag != "" {
			define := fs.Func
			if o.Switch {
				define = fs.BoolFunc
			}
			define(o.Flag, fmt.Sprintf("%s (env %s, default %q)", o.Usage, o.Env, o.Default),
				func(v string) error { return o.set(c, v) })
		}
	}
	rest, err := parseInterleaved(fs, args)
	if err != nil {
		return nil, nil, err
	}
	if err := secretFromFile(c, getenv); err != nil {
		return nil, nil, err
	}
	if err := c.checkReplicaAcks(); err != nil {
		return nil, nil, err
	}
	return c, rest, nil
}

// checkReplicaAcks refuses replica-ack settings that cannot keep their
// promise, at start rather than on the first refund.
func (c *Config) checkReplicaAcks() error {
	if c.RedisReplicaAcks <= 0 {
		return nil
	}
	if t := c.RedisReplicaAckTimeout; t < store.MinReplicaAckTimeout || t > store.MaxReplicaAckTimeout {
		return fmt.Errorf("config: REFUNDQ_REDIS_REPLICA_ACK_TIMEOUT (--redis-replica-ack-timeout) is %s; it must be between %s and %s "+
			"(WAIT 0 waits forever, and a wait as long as the Redis read timeout ends in a resend)", t, store.MinReplicaAckTimeout, store.MaxReplicaAckTimeout)
	}
	// redisconn decides what the URL means; a URL it refuses is reported
	// where the connection is made.
	conn, err := redisconn.Parse(c.RedisURL, redisconn.WithCluster(c.RedisCluster), redisconn.WithSentinelMaster(c.RedisSentinelMaster))
	if err == nil && conn.Mode() == redisconn.Cluster {
		return fmt.Errorf("config: REFUNDQ_REDIS_REPLICA_ACKS (--redis-replica-acks) is %d, but %w", c.RedisReplicaAcks, store.ErrReplicaAcksOnCluster)
	}
	return nil
}

// parseInterleaved parses flags before and after positional arguments, so
// `refundq batch ID --wait` works as well as `refundq batch --wait ID`.
// After "--" everything is positional.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if used := len(args) - len(rest); len(rest) == 0 || (used > 0 && args[used-1] == "--") {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func (o Option) for_(cmd string) bool {
	for _, c := range o.Commands {
		if c == "*" || c == cmd {
			return true
		}
	}
	return false
}

// secretFromFile reads REFUNDQ_SECRET_FILE, the form container secrets take.
func secretFromFile(c *Config, getenv func(string) string) error {
	path := getenv("REFUNDQ_SECRET_FILE")
	if path == "" || c.Secret != "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: REFUNDQ_SECRET_FILE: %w", err)
	}
	c.Secret = strings.TrimSpace(string(b))
	return nil
}

func str(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *p(c) = v; return nil }
}

func boolean(p func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		*p(c) = b
		return nil
	}
}

func integer(p func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("want a non-negative integer, got %q", v)
		}
		*p(c) = n
		return nil
	}
}

func ratio(p func(*Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return fmt.Errorf("want a ratio between 0 and 1, got %q", v)
		}
		*p(c) = f
		return nil
	}
}

func duration(p func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("want a duration such as 30s, got %q", v)
		}
		*p(c) = d
		return nil
	}
}

func durations(p func(*Config) *[]time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		var out []time.Duration
		for _, s := range strings.Split(v, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(s))
			if err != nil || d <= 0 {
				return fmt.Errorf("want comma-separated durations such as 1s,5s,60s, got %q", v)
			}
			out = append(out, d)
		}
		*p(c) = out
		return nil
	}
}

func oneOf(p func(*Config) *string, allowed ...string) func(*Config, string) error {
	return func(c *Config, v string) error {
		for _, a := range allowed {
			if v == a {
				*p(c) = v
				return nil
			}
		}
		return fmt.Errorf("want one of %s, got %q", strings.Join(allowed, ", "), v)
	}
}

// Markdown renders the options as the README's configuration table.
func Markdown() string {
	var b strings.Builder
	b.WriteString("| flag | env | default | commands | meaning |\n|---|---|---|---|---|\n")
	opts := append([]Option(nil), options...)
	sort.SliceStable(opts, func(i, j int) bool { return opts[i].Env < opts[j].Env })
	for _, o := range opts {
		f := "(env only)"
		if o.Flag != "" {
			f = "`--" + o.Flag + "`"
		}
		fmt.Fprintf(&b, "| %s | `%s` | `%s` | %s | %s |\n", f, o.Env, o.Default, strings.Join(o.Commands, ", "), o.Usage)
	}
	return b.String()
}

// ErrHelp is returned by Load when -h was given.
var ErrHelp = flag.ErrHelp

// amount reads a refund amount setting; empty is none (zero).
func amount(p func(*Config) *decimal.Decimal) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v == "" {
			*p(c) = decimal.Decimal{}
			return nil
		}
		d, err := refund.ParseAmount(v)
		if err != nil {
			return fmt.Errorf("want an amount such as 5000.00, got %q: it %w", v, err)
		}
		*p(c) = d
		return nil
	}
}

// identity reads a name (access.NameRule).
func identity(p func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		if v != "" && !access.ValidName(v) {
			return fmt.Errorf("%q: use %s", v, access.NameRule)
		}
		*p(c) = v
		return nil
	}
}
