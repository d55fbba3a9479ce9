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
)

// Config holds every setting of every refundq command.
type Config struct {
	RedisURL string

	ProviderEnv string // test or prod
	ProviderURL string // overrides ProviderEnv, e.g. a simulator
	AuthID      string
	Secret      string // never a flag: flags show up in ps

	Concurrency     int
	ProviderTimeout time.Duration
	PollSchedule    []time.Duration
	Deadline        time.Duration
	FailureBudget   int
	ShutdownTimeout time.Duration
	Retention       time.Duration

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
}

// Option documents and parses one setting.
type Option struct {
	Flag, Env, Default, Usage string
	// Commands lists the subcommands that take the option; "*" is all.
	Commands []string
	set      func(*Config, string) error
}

// Options is the table of every setting.
func Options() []Option { return options }

// Load builds the Config for command from the environment and args, and
// returns the arguments left after the flags.
func Load(command string, args []string, getenv func(string) string, out io.Writer) (*Config, []string, error) {
	c := &Config{}
	fs := flag.NewFlagSet("refundq "+command, flag.ContinueOnError)
	fs.SetOutput(out)
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
			fs.Func(o.Flag, fmt.Sprintf("%s (env %s, default %q)", o.Usage, o.Env, o.Default),
				func(v string) error { return o.set(c, v) })
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if err := secretFromFile(c, getenv); err != nil {
		return nil, nil, err
	}
	return c, fs.Args(), nil
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
