package producer_test

import (
	"log"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"

	"github.com/refundq/refundq/producer"
)

// exampleRedis stands in for your Redis so the examples run anywhere.
func exampleRedis() (asynq.RedisConnOpt, func()) {
	mr, err := miniredis.Run()
	if err != nil {
		log.Fatal(err)
	}
	return asynq.RedisClientOpt{Addr: mr.Addr()}, mr.Close
}

// exampleProducer is a producer on exampleRedis, for the examples that
// are about something other than making one (see ExampleProducer_Enqueue).
func exampleProducer() (*producer.Producer, func()) {
	redisOpt, stop := exampleRedis()
	p, err := producer.New(redisOpt)
	if err != nil {
		log.Fatal(err)
	}
	return p, func() { _ = p.Close(); stop() }
}
