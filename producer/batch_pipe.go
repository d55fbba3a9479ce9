package producer

import (
	"sync"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// bulkClient is the asynq client EnqueueBatch queues through, made on
// first use.
type bulkClient struct {
	once sync.Once
	c    *asynq.Client
}

// autoPipeliner is what go-redis's *Client and *ClusterClient offer.
type autoPipeliner interface {
	AutoPipeline() (*redis.AutoPipeliner, error)
}

// bulkQueue returns an asynq client over go-redis's auto-pipeliner when
// the Redis client has one: a batch's concurrent enqueues then share round
// trips, which roughly doubles their rate and halves Redis's work per task
// (see bench/importbench). asynq has no batch enqueue of its own, and it
// only needs a redis.UniversalClient, which the pipeliner is. Single
// Enqueue calls keep the plain client, since a lone call gains nothing.
//
// The pipeliner is experimental in go-redis v9; if it cannot be made,
// batches use the plain client and are only slower. It is owned by the
// Redis client and stops when that client is closed.
func (p *Producer) bulkQueue() *asynq.Client {
	p.bulk.once.Do(func() {
		p.bulk.c = p.client
		ap, ok := p.rdb.(autoPipeliner)
		if !ok {
			return
		}
		if c, err := ap.AutoPipeline(); err == nil {
			p.bulk.c = asynq.NewClientFromRedisClient(c)
		}
	})
	return p.bulk.c
}
