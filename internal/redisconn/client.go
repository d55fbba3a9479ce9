package redisconn

import (
	"crypto/tls"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// AsynqOpt is the setting as asynq's connection option: RedisClientOpt,
// RedisFailoverClientOpt or RedisClusterClientOpt.
func (c *Conn) AsynqOpt() asynq.RedisConnOpt {
	switch c.mode {
	case Sentinel:
		return asynq.RedisFailoverClientOpt{
			MasterName: c.master, SentinelAddrs: c.Addrs(), SentinelPassword: c.sentinelPassword,
			Username: c.username, Password: c.password, DB: c.db,
			DialTimeout: c.dialTimeout, ReadTimeout: c.readTimeout, WriteTimeout: c.writeTimeout,
			PoolSize: c.poolSize, TLSConfig: c.tlsClone(),
		}
	case Cluster:
		return asynq.RedisClusterClientOpt{
			Addrs: c.Addrs(), Username: c.username, Password: c.password,
			DialTimeout: c.dialTimeout, ReadTimeout: c.readTimeout, WriteTimeout: c.writeTimeout,
			TLSConfig: c.tlsClone(),
		}
	}
	return asynq.RedisClientOpt{
		Addr: c.addrs[0], Username: c.username, Password: c.password, DB: c.db,
		DialTimeout: c.dialTimeout, ReadTimeout: c.readTimeout, WriteTimeout: c.writeTimeout,
		PoolSize: c.poolSize, TLSConfig: c.tlsClone(),
	}
}

// Client opens a go-redis client: a *redis.Client (Sentinel-aware for a
// Sentinel setting) or a *redis.ClusterClient. Hand the same client to
// asynq (NewClientFromRedisClient, NewServerFromRedisClient) and to the
// store, so the queue and refundq's own keys share one pool. The caller
// closes it.
func (c *Conn) Client() redis.UniversalClient {
	// Every asynq option above builds a *redis.Client or *redis.ClusterClient.
	return c.AsynqOpt().MakeRedisClient().(redis.UniversalClient)
}

func (c *Conn) tlsClone() *tls.Config {
	if c.tls == nil {
		return nil
	}
	return c.tls.Clone()
}
