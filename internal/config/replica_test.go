package config

import (
	"io"
	"strings"
	"testing"
)

// Replica-ack settings that cannot keep their promise are refused at start,
// naming the setting.
func TestReplicaAckSettings(t *testing.T) {
	for _, c := range []struct {
		args  []string
		field string // "" is accepted
	}{
		{[]string{"--redis-replica-acks", "1"}, ""},
		{[]string{"--redis-replica-acks", "1", "--redis-replica-ack-timeout", "2s"}, ""},
		{[]string{"--redis-replica-acks", "0", "--redis", "redis-cluster://127.0.0.1:7000"}, ""},
		{[]string{"--redis-replica-acks", "1", "--redis-replica-ack-timeout", "500us"}, "REFUNDQ_REDIS_REPLICA_ACK_TIMEOUT"},
		{[]string{"--redis-replica-acks", "1", "--redis-replica-ack-timeout", "5s"}, "REFUNDQ_REDIS_REPLICA_ACK_TIMEOUT"},
		{[]string{"--redis-replica-acks", "1", "--redis", "redis-cluster://127.0.0.1:7000"}, "REFUNDQ_REDIS_REPLICA_ACKS"},
		{[]string{"--redis-replica-acks", "2", "--redis", "rediss-cluster://127.0.0.1:7000"}, "REFUNDQ_REDIS_REPLICA_ACKS"},
		{[]string{"--redis-replica-acks", "1", "--redis", "REDIS-CLUSTER://127.0.0.1:7000"}, "REFUNDQ_REDIS_REPLICA_ACKS"},
		{[]string{"--redis-replica-acks", "1", "--redis-cluster=true", "--redis", "redis://127.0.0.1:7000,127.0.0.1:7001"}, "REFUNDQ_REDIS_REPLICA_ACKS"},
		{[]string{"--redis-replica-acks", "1", "--redis", "Rediss-Cluster://127.0.0.1:7000"}, "REFUNDQ_REDIS_REPLICA_ACKS"},
	} {
		_, _, err := Load("worker", c.args, func(string) string { return "" }, io.Discard)
		switch {
		case c.field == "" && err != nil:
			t.Errorf("%q: %v", c.args, err)
		case c.field != "" && (err == nil || !strings.Contains(err.Error(), c.field)):
			t.Errorf("%q: %v, want an error naming %s", c.args, err, c.field)
		}
	}
}
