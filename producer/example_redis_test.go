package producer_test

import (
	"log"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
)

// exampleRedis stands in for your Redis so the examples run anywhere.
func exampleRedis() (asynq.RedisConnOpt, func()) {
	mr, err := miniredis.Run()
	if err != nil {
		log.Fatal(err)
	}
	return asynq.RedisClientOpt{Addr: mr.Addr()}, mr.Close
}
