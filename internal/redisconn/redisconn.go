// Package redisconn turns refundq's one Redis setting into the clients
// refundq needs: an asynq.RedisConnOpt for the task queue and a go-redis
// UniversalClient for refundq's own keys, built from that same option so
// both share one connection pool.
//
// One URL covers every production shape:
//
//	redis://[user:password@]host[:port][/db]
//	rediss://[user:password@]host[:port][/db]                      TLS
//	redis-sentinel://[user:password@]host1:26379,host2:26379[/db]?master=NAME
//	rediss-sentinel://...                                          TLS to sentinels and servers
//	redis-cluster://[user:password@]host1:7000,host2:7001          seed nodes
//	rediss-cluster://...                                           TLS
//
// The user and password in the URL are those of the Redis servers, as in
// asynq's own redis-sentinel URLs; sentinels that require a password of
// their own get it from WithSentinelPassword. Options given next to the URL
// (a CA file, a client certificate, a sentinel master name, cluster mode)
// are the same settings for deployments that keep them out of the URL.
//
// Passwords never leave the Conn: String redacts them and parse errors do
// not quote the URL's user information.
package redisconn

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Mode is the Redis deployment a Conn talks to.
type Mode string

// Modes.
const (
	Standalone Mode = "standalone"
	Sentinel   Mode = "sentinel"
	Cluster    Mode = "cluster"
)

// Conn is a parsed connection setting. Build it with Parse.
type Conn struct {
	mode     Mode
	tls      *tls.Config
	addrs    []string
	username string
	password string
	db       int
	master   string

	sentinelPassword string

	poolSize                               int
	dialTimeout, readTimeout, writeTimeout time.Duration
}

// Option adds a setting kept outside the URL.
type Option func(*settings)

type settings struct {
	caFile, certFile, keyFile string
	master                    string
	sentinelPassword          string
	password                  string
	cluster                   bool
}

// WithCAFile trusts the PEM certificates in path instead of the system
// roots, for a rediss URL to a server with a private CA.
func WithCAFile(path string) Option { return func(s *settings) { s.caFile = path } }

// WithClientCert presents a client certificate, for servers that run with
// tls-auth-clients.
func WithClientCert(certFile, keyFile string) Option {
	return func(s *settings) { s.certFile, s.keyFile = certFile, keyFile }
}

// WithSentinelMaster names the master the sentinels monitor. With a plain
// redis:// URL it turns the URL's hosts into sentinel addresses.
func WithSentinelMaster(name string) Option { return func(s *settings) { s.master = name } }

// WithSentinelPassword authenticates to sentinels that have a requirepass
// of their own.
func WithSentinelPassword(p string) Option { return func(s *settings) { s.sentinelPassword = p } }

// WithPassword replaces the URL's password, so it can come from a secret
// instead of a URL that needs percent-encoding.
func WithPassword(p string) Option { return func(s *settings) { s.password = p } }

// WithCluster treats the URL's hosts as Redis Cluster seed nodes.
func WithCluster(on bool) Option { return func(s *settings) { s.cluster = on } }

// schemes maps each URL scheme to its mode and whether it uses TLS.
var schemes = map[string]struct {
	mode Mode
	tls  bool
}{
	"redis": {Standalone, false}, "rediss": {Standalone, true},
	"redis-sentinel": {Sentinel, false}, "rediss-sentinel": {Sentinel, true},
	"redis-cluster": {Cluster, false}, "rediss-cluster": {Cluster, true},
}

// Parse reads a connection URL and the options given next to it.
func Parse(raw string, opts ...Option) (*Conn, error) {
	var s settings
	for _, o := range opts {
		o(&s)
	}
	hosts, rest, err := splitHosts(raw)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(rest)
	if err == nil && u.Host != placeholder {
		// A special character in the password moved where the host ends.
		err = errors.New("user information is not percent-encoded")
	}
	if err != nil {
		return nil, parseError(raw, err)
	}
	sc, ok := schemes[u.Scheme]
	if !ok {
		return nil, fmt.Errorf("redisconn: unsupported scheme %q (want redis, rediss, redis-sentinel, rediss-sentinel, redis-cluster or rediss-cluster)", u.Scheme)
	}
	c := &Conn{mode: sc.mode}
	if err := c.applyQuery(u.Query(), s); err != nil {
		return nil, err
	}
	if err := c.resolveMode(s); err != nil {
		return nil, err
	}
	if err := c.applyHosts(hosts, u.Path); err != nil {
		return nil, err
	}
	c.applyAuth(u, s)
	if c.tls, err = tlsConfig(sc.tls, s); err != nil {
		return nil, err
	}
	return c, nil
}

// splitHosts takes the host list out of raw and leaves a URL with a single
// placeholder host: url.Parse accepts only one host, and fails "a:1,b" on
// its port check. The user information ends at the last '@', so a password
// with an unencoded '/', '?' or '#' is never taken for a host or a
// parameter and quoted in an error.
func splitHosts(raw string) (hosts, rest string, err error) {
	scheme, after, ok := strings.Cut(raw, "://")
	if !ok {
		return "", "", errors.New("redisconn: not a URL (want redis://host:port/db)")
	}
	start := strings.LastIndex(after, "@") + 1
	end := len(after)
	if i := strings.IndexAny(after[start:], "/?#"); i >= 0 {
		end = start + i
	}
	return after[start:end], scheme + "://" + after[:start] + placeholder + after[end:], nil
}

const placeholder = "host"

// parseError reports a malformed URL without its password: url.Error
// repeats the whole URL, and an invalid %-escape quotes part of it.
func parseError(raw string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if userinfo(raw) != "" || !strings.Contains(raw, "://") {
		return fmt.Errorf("redisconn: malformed URL %s (percent-encode special characters in the password)", redactRaw(raw))
	}
	return fmt.Errorf("redisconn: malformed URL %s: %w", raw, err)
}

// resolveMode lets the options turn a plain redis:// URL into a Sentinel or
// Cluster setting, and refuses contradictions.
func (c *Conn) resolveMode(s settings) error {
	switch {
	case s.master != "" && c.master != "" && s.master != c.master:
		return fmt.Errorf("redisconn: sentinel master given twice (%q in the URL, %q as an option)", c.master, s.master)
	case s.master != "":
		c.master = s.master
	}
	if c.master != "" && c.mode == Standalone {
		c.mode = Sentinel
	}
	if s.cluster && c.mode == Standalone {
		c.mode = Cluster
	}
	switch {
	case s.cluster && c.mode != Cluster:
		return errors.New("redisconn: cluster mode and a sentinel master exclude each other")
	case c.mode == Sentinel && c.master == "":
		return errors.New("redisconn: sentinel needs a master name (?master=NAME or REFUNDQ_REDIS_SENTINEL_MASTER)")
	case c.mode == Cluster && c.poolSize != 0:
		return errors.New("redisconn: pool_size is not supported in cluster mode")
	}
	return nil
}

var queryParams = "master, pool_size, dial_timeout, read_timeout, write_timeout"

func (c *Conn) applyQuery(q url.Values, s settings) error {
	for k, v := range q {
		val := v[len(v)-1]
		var err error
		switch k {
		case "master":
			c.master = val
		case "pool_size":
			c.poolSize, err = strconv.Atoi(val)
			if err == nil && c.poolSize <= 0 {
				err = errors.New("must be positive")
			}
		case "dial_timeout":
			c.dialTimeout, err = time.ParseDuration(val)
		case "read_timeout":
			c.readTimeout, err = time.ParseDuration(val)
		case "write_timeout":
			c.writeTimeout, err = time.ParseDuration(val)
		default:
			return fmt.Errorf("redisconn: unknown URL parameter %q (known: %s)", k, queryParams)
		}
		if err != nil {
			return fmt.Errorf("redisconn: URL parameter %s=%q: %w", k, val, err)
		}
	}
	if c.master != "" && c.mode == Cluster {
		return errors.New("redisconn: master is a sentinel parameter, not a cluster one")
	}
	return nil
}

func (c *Conn) applyHosts(hosts, path string) error {
	port := "6379"
	if c.mode == Sentinel {
		port = "26379"
	}
	for _, h := range strings.Split(hosts, ",") {
		addr, err := hostPort(strings.TrimSpace(h), port)
		if err != nil {
			return err
		}
		c.addrs = append(c.addrs, addr)
	}
	if c.mode == Standalone && len(c.addrs) > 1 {
		return errors.New("redisconn: several hosts need redis-sentinel://, redis-cluster:// or the sentinel/cluster options")
	}
	db, err := dbNumber(path)
	if err != nil {
		return err
	}
	if c.mode == Cluster && db != 0 {
		return errors.New("redisconn: Redis Cluster has only database 0")
	}
	c.db = db
	return nil
}

// hostPort checks one address and adds the default port. An IPv6 address
// needs brackets, as in a URL.
func hostPort(h, defPort string) (string, error) {
	if h == "" {
		return "", errors.New("redisconn: URL has an empty host")
	}
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		host, port = h, defPort
		if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
			host = h[1 : len(h)-1]
		} else if strings.ContainsAny(h, ":[]") {
			return "", fmt.Errorf("redisconn: bad address %q (want host:port)", h)
		}
	}
	n, perr := strconv.Atoi(port)
	if host == "" || perr != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("redisconn: bad address %q (want host:port)", h)
	}
	return net.JoinHostPort(host, port), nil
}

func dbNumber(path string) (int, error) {
	p := strings.Trim(path, "/")
	if p == "" {
		return 0, nil
	}
	db, err := strconv.Atoi(p)
	if err != nil || db < 0 {
		return 0, fmt.Errorf("redisconn: bad database number %q in the URL path", p)
	}
	return db, nil
}

func (c *Conn) applyAuth(u *url.URL, s settings) {
	if u.User != nil {
		c.username = u.User.Username()
		c.password, _ = u.User.Password()
	}
	if s.password != "" {
		c.password = s.password
	}
	c.sentinelPassword = s.sentinelPassword
}

// Mode is the deployment the setting describes.
func (c *Conn) Mode() Mode { return c.mode }

// Addrs are the server, sentinel or seed addresses.
func (c *Conn) Addrs() []string { return append([]string(nil), c.addrs...) }

// String is the setting as a URL with every password redacted, safe for
// logs and errors.
func (c *Conn) String() string {
	scheme := map[Mode]string{Standalone: "redis", Sentinel: "redis-sentinel", Cluster: "redis-cluster"}[c.mode]
	if c.tls != nil {
		scheme = strings.Replace(scheme, "redis", "rediss", 1)
	}
	var b strings.Builder
	b.WriteString(scheme + "://")
	if c.username != "" || c.password != "" {
		b.WriteString(url.PathEscape(c.username))
		if c.password != "" {
			b.WriteString(":" + redacted)
		}
		b.WriteString("@")
	}
	b.WriteString(strings.Join(c.addrs, ","))
	if c.mode != Cluster {
		fmt.Fprintf(&b, "/%d", c.db)
	}
	if c.master != "" {
		b.WriteString("?master=" + url.QueryEscape(c.master))
	}
	return b.String()
}

// GoString redacts too, so %#v cannot print a password.
func (c *Conn) GoString() string { return "redisconn.Conn(" + c.String() + ")" }

const redacted = "xxxxx"

// userinfo is the raw user information of a URL that may not parse, found
// the way splitHosts finds it.
func userinfo(raw string) string {
	_, after, _ := strings.Cut(raw, "://")
	at := strings.LastIndex(after, "@")
	if at < 0 {
		return ""
	}
	return after[:at]
}

// redactRaw replaces the user information of a URL that may not parse.
func redactRaw(raw string) string {
	if !strings.Contains(raw, "://") {
		return "(not a URL)"
	}
	u := userinfo(raw)
	if u == "" {
		return raw
	}
	return strings.Replace(raw, u+"@", redacted+"@", 1)
}
