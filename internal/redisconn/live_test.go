package redisconn

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/internal/testenv"
)

// A password-protected server with an ACL user: the URL's credentials reach
// both go-redis and asynq.
func TestLiveACLUser(t *testing.T) {
	r := testenv.StartRedis(t, testenv.WithArgs("--requirepass", "adminpw"))
	admin := redis.NewClient(&redis.Options{Addr: r.Addr(), Password: "adminpw"})
	defer admin.Close()
	ctx := context.Background()
	testenv.Must(t, admin.Do(ctx, "ACL", "SETUSER", "refundq", "on", ">app pw", "~*", "&*", "+@all").Err())

	c, err := Parse("redis://refundq:app%20pw@" + r.Addr() + "/2")
	testenv.Must(t, err)
	rdb := c.Client()
	defer rdb.Close()
	testenv.Must(t, rdb.Set(ctx, "k", "v", 0).Err())
	ac := asynq.NewClient(c.AsynqOpt())
	defer ac.Close()
	if _, err := ac.EnqueueContext(ctx, asynq.NewTask("t", nil)); err != nil {
		t.Fatalf("asynq with the same setting: %v", err)
	}

	bad, _ := Parse("redis://refundq:wrong@" + r.Addr())
	wrong := bad.Client()
	defer wrong.Close()
	err = wrong.Ping(ctx).Err()
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong password: %v", err)
	}
}

// rediss with a private CA, a client certificate and a password: the
// managed-Redis shape. Without the CA the certificate must be refused.
func TestLiveTLS(t *testing.T) {
	files := testenv.WriteTLSFiles(t)
	tlsPort := testenv.FreePort(t)
	testenv.StartRedis(t, testenv.WithTLS(files, tlsPort, true), testenv.WithArgs("--requirepass", "pw"))
	url := "rediss://:pw@127.0.0.1:" + strconv.Itoa(tlsPort) + "/0"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := Parse(url, WithCAFile(files.CA), WithClientCert(files.ClientCert, files.ClientKey))
	testenv.Must(t, err)
	rdb := c.Client()
	defer rdb.Close()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("TLS ping: %v", err)
	}

	untrusted, _ := Parse(url, WithClientCert(files.ClientCert, files.ClientKey))
	u := untrusted.Client()
	defer u.Close()
	if err := u.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("server certificate not verified without the CA: %v", err)
	}

	noCert, _ := Parse(url, WithCAFile(files.CA))
	n := noCert.Client()
	defer n.Close()
	if err := n.Ping(ctx).Err(); err == nil {
		t.Fatal("server requires a client certificate but a client without one connected")
	}
}
