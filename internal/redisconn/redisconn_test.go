package redisconn

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

func TestParseShapes(t *testing.T) {
	tests := []struct {
		url    string
		opts   []Option
		mode   Mode
		addrs  []string
		db     int
		master string
		tls    bool
	}{
		{url: "redis://127.0.0.1:6379/0", mode: Standalone, addrs: []string{"127.0.0.1:6379"}},
		{url: "redis://redis.internal", mode: Standalone, addrs: []string{"redis.internal:6379"}},
		{url: "redis://app:pw@redis:6380/3", mode: Standalone, addrs: []string{"redis:6380"}, db: 3},
		{url: "rediss://:pw@cache.example.com:6380/1", mode: Standalone, addrs: []string{"cache.example.com:6380"}, db: 1, tls: true},
		{url: "redis://[::1]:6379", mode: Standalone, addrs: []string{"[::1]:6379"}},
		{url: "redis-sentinel://:pw@s1:26379,s2:26380,s3/2?master=mymaster", mode: Sentinel,
			addrs: []string{"s1:26379", "s2:26380", "s3:26379"}, db: 2, master: "mymaster"},
		{url: "rediss-sentinel://s1,s2?master=m", mode: Sentinel, addrs: []string{"s1:26379", "s2:26379"}, master: "m", tls: true},
		{url: "redis://s1:26379,s2:26379/0", opts: []Option{WithSentinelMaster("mymaster")}, mode: Sentinel,
			addrs: []string{"s1:26379", "s2:26379"}, master: "mymaster"},
		{url: "redis-sentinel://s1?master=m", opts: []Option{WithSentinelMaster("m")}, mode: Sentinel, addrs: []string{"s1:26379"}, master: "m"},
		{url: "redis-cluster://n1:7000,n2:7001,n3", mode: Cluster, addrs: []string{"n1:7000", "n2:7001", "n3:6379"}},
		{url: "rediss-cluster://user:pw@n1:7000", mode: Cluster, addrs: []string{"n1:7000"}, tls: true},
		{url: "redis://n1:7000,n2:7001", opts: []Option{WithCluster(true)}, mode: Cluster, addrs: []string{"n1:7000", "n2:7001"}},
		{url: "redis://h:1/0", opts: []Option{WithCluster(false)}, mode: Standalone, addrs: []string{"h:1"}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := Parse(tt.url, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			if c.Mode() != tt.mode || !slices.Equal(c.Addrs(), tt.addrs) || c.db != tt.db || c.master != tt.master || (c.tls != nil) != tt.tls {
				t.Fatalf("got mode %s addrs %v db %d master %q tls %v", c.Mode(), c.Addrs(), c.db, c.master, c.tls != nil)
			}
		})
	}
}

func TestParseQueryAndCredentials(t *testing.T) {
	c, err := Parse("redis://app:s3cr%40t@h:1/0?pool_size=7&dial_timeout=2s&read_timeout=4s&write_timeout=5s")
	if err != nil {
		t.Fatal(err)
	}
	if c.username != "app" || c.password != "s3cr@t" || c.poolSize != 7 ||
		c.dialTimeout != 2*time.Second || c.readTimeout != 4*time.Second || c.writeTimeout != 5*time.Second {
		t.Fatalf("got %+v", *c)
	}
	c, err = Parse("redis://:from-url@h:1", WithPassword("from-secret"))
	if err != nil || c.password != "from-secret" {
		t.Fatalf("WithPassword: %v %q", err, c.password)
	}
}

func TestParseRejects(t *testing.T) {
	tests := map[string]struct {
		url  string
		opts []Option
		want string
	}{
		"scheme":             {url: "http://h:1", want: "unsupported scheme"},
		"no master":          {url: "redis-sentinel://s1,s2", want: "master name"},
		"master twice":       {url: "redis-sentinel://s1?master=a", opts: []Option{WithSentinelMaster("b")}, want: "twice"},
		"cluster+master":     {url: "redis://s1", opts: []Option{WithCluster(true), WithSentinelMaster("m")}, want: "exclude"},
		"cluster master arg": {url: "redis-cluster://n1?master=m", want: "sentinel parameter"},
		"cluster db":         {url: "redis-cluster://n1:7000/2", want: "database 0"},
		"cluster pool":       {url: "redis-cluster://n1:7000?pool_size=3", want: "pool_size"},
		"two hosts":          {url: "redis://a:1,b:2", want: "several hosts"},
		"empty host":         {url: "redis:///0", want: "empty host"},
		"bad port":           {url: "redis-cluster://a:1,b:99999", want: "bad address"},
		"bad db":             {url: "redis://h/x", want: "database number"},
		"unknown param":      {url: "redis://h?password=x", want: "unknown URL parameter"},
		"bad duration":       {url: "redis://h?dial_timeout=soon", want: "dial_timeout"},
		"bad pool":           {url: "redis://h?pool_size=0", want: "pool_size"},
		"ca without tls":     {url: "redis://h", opts: []Option{WithCAFile("ca.pem")}, want: "needs a rediss URL"},
		"half client cert":   {url: "rediss://h", opts: []Option{WithClientCert("c.pem", "")}, want: "both"},
		"missing ca":         {url: "rediss://h", opts: []Option{WithCAFile("/nonexistent/ca.pem")}, want: "CA file"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tt.url, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse(%q) = %v, want an error containing %q", tt.url, err, tt.want)
			}
		})
	}
}

// The password must not reach a log line or an error, however the Conn or
// a bad URL is printed.
func TestPasswordNeverPrinted(t *testing.T) {
	const pw = "hunter2-TOPSECRET"
	c, err := Parse("rediss-sentinel://svc:"+pw+"@s1,s2/0?master=m", WithSentinelPassword(pw+"-sentinel"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c)} {
		if strings.Contains(s, "hunter2") {
			t.Fatalf("password printed: %s", s)
		}
	}
	if want := "rediss-sentinel://svc:xxxxx@s1:26379,s2:26379/0?master=m"; c.String() != want {
		t.Fatalf("String() = %q, want %q", c.String(), want)
	}
	bad := []string{
		"redis://:" + pw + "%zz@h:1/0",         // invalid escape: url quotes the fragment
		"redis://u:" + pw + "@h:port/0",        // invalid port
		"redis://u:" + pw + "@h:1/0/extra",     // bad path
		"redis://u:" + pw + "/x@h:1/0",         // unencoded '/' in the password
		"redis-sentinel://u:" + pw + "@s1",     // no master
		"redis-cluster://u:" + pw + "@n1/3",    // cluster db
		"redis://u:" + pw + "@h:1?pool_size=x", // bad parameter
		" redis://u:" + pw + "@h:1",            // leading space
		"redis://u:" + pw + "@h:1\x7f",         // control character
		"redis://u:" + pw + "@a:1,b:2",         // two hosts
		"redis:u:" + pw + "@h",                 // no //
		"redis://u:" + pw + "@[::1:6379/0",     // broken IPv6
		"redis://u:" + pw + "?x@h:1/0",         // unencoded '?'
		"redis://u:" + pw + "#x@h:1/0",         // unencoded '#'
		"redis://u:1234/" + pw + "@h:1/0",      // looks like host:port before the '/'
	}
	for _, u := range bad {
		_, err := Parse(u)
		if err == nil {
			t.Fatalf("Parse(%q) accepted a bad URL", u)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Fatalf("error quotes the password: %v", err)
		}
	}
}

func TestAsynqOptPerMode(t *testing.T) {
	c, _ := Parse("redis://u:pw@h:1/4?pool_size=9")
	if o, ok := c.AsynqOpt().(asynq.RedisClientOpt); !ok || o.Addr != "h:1" || o.DB != 4 || o.Username != "u" || o.Password != "pw" || o.PoolSize != 9 {
		t.Fatalf("standalone: %#v", c.AsynqOpt())
	}
	c, _ = Parse("redis-sentinel://:pw@s1,s2/1?master=m", WithSentinelPassword("spw"))
	if o, ok := c.AsynqOpt().(asynq.RedisFailoverClientOpt); !ok || o.MasterName != "m" || len(o.SentinelAddrs) != 2 ||
		o.Password != "pw" || o.SentinelPassword != "spw" || o.DB != 1 {
		t.Fatalf("sentinel: %#v", c.AsynqOpt())
	}
	c, _ = Parse("rediss-cluster://:pw@n1:7000,n2:7001")
	if o, ok := c.AsynqOpt().(asynq.RedisClusterClientOpt); !ok || len(o.Addrs) != 2 || o.Password != "pw" || o.TLSConfig == nil {
		t.Fatalf("cluster: %#v", c.AsynqOpt())
	}
}

func TestClientPerMode(t *testing.T) {
	for url, want := range map[string]string{
		"redis://h:1":                  "*redis.Client",
		"redis-sentinel://s1?master=m": "*redis.Client",
		"redis-cluster://n1:7000":      "*redis.ClusterClient",
	} {
		c, err := Parse(url)
		if err != nil {
			t.Fatal(err)
		}
		rdb := c.Client()
		if got := fmt.Sprintf("%T", rdb); got != want {
			t.Errorf("%s: client %s, want %s", url, got, want)
		}
		_ = rdb.Close()
	}
	var _ redis.UniversalClient = (&Conn{mode: Standalone, addrs: []string{"h:1"}}).Client()
}
