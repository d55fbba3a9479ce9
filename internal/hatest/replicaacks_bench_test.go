//go:build ha

package hatest

import (
	"testing"
	"time"

	"github.com/refundq/refundq/internal/redisconn"
	"github.com/refundq/refundq/internal/testenv"
	"github.com/refundq/refundq/producer"
)

// BenchmarkEnqueueReplicaAcks measures what replica acknowledgements cost
// Enqueue: 16 concurrent producers against a Sentinel-managed primary with
// one healthy replica, without WAIT and with WAIT for that replica.
//
//	go test -tags ha -run '^$' -bench EnqueueReplicaAcks -benchtime 5000x ./internal/hatest/
func BenchmarkEnqueueReplicaAcks(b *testing.B) {
	topo := testenv.StartSentinel(b)
	conn, err := redisconn.Parse(topo.URL())
	testenv.Must(b, err)
	for _, c := range []struct {
		name string
		opts []producer.Option
	}{
		{"acks=0", nil},
		{"acks=1", []producer.Option{producer.WithReplicaAcks(1, time.Second)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			p, err := producer.New(conn.AsynqOpt(), c.opts...)
			testenv.Must(b, err)
			defer p.Close()
			enqueueParallel(b, p)
		})
	}
}
