//go:build ha

package hatest

import (
	"context"
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
			next := make(chan producer.Refund, b.N)
			for _, rf := range refunds(b.N) {
				next <- rf
			}
			close(next)
			ctx := context.Background()
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := p.Enqueue(ctx, <-next); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "enqueues/s")
		})
	}
}
