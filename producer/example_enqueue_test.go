package producer_test

import (
	"context"
	"fmt"
	"log"

	"github.com/refundq/refundq/producer"
)

// A checkout backend refunds part of an order. The idempotency key makes
// a retried call (after a timeout, say) return the same refund instead of
// refunding twice.
func ExampleProducer_Enqueue() {
	redisOpt, stop := exampleRedis() // in production: asynq.RedisClientOpt{Addr: "redis:6379"}
	defer stop()
	p, err := producer.New(redisOpt, producer.WithSource("checkout"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()

	r := producer.Refund{IdempotencyKey: "return-8841", OrderID: "order-1001", Amount: "25.00"}
	first, err := p.Enqueue(context.Background(), r)
	if err != nil {
		log.Fatal(err)
	}
	again, err := p.Enqueue(context.Background(), r)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(first.State, first.Duplicate)
	fmt.Println(again.RequestID == first.RequestID, again.Duplicate)
	// Output:
	// queued false
	// true true
}
