package producer_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/refundq/refundq/producer"
)

// A backend whose Enqueue call failed or timed out does not know whether
// the refund was accepted. It sends the same refund again with the same
// idempotency key: that can never refund twice, and it repairs a refund
// whose first enqueue was cut short. Reusing the key for a different
// refund is refused.
func ExampleProducer_Enqueue_retry() {
	p, stop := exampleProducer()
	defer stop()
	ctx := context.Background()

	r := producer.Refund{IdempotencyKey: "return-9120", OrderID: "order-3001", Amount: "12.00"}
	var rcpt producer.Receipt
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		if rcpt, err = p.Enqueue(ctx, r); err == nil {
			break
		}
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rcpt.State)

	r.Amount = "120.00" // a typo fixed under the same key
	_, err = p.Enqueue(ctx, r)
	fmt.Println(errors.Is(err, producer.ErrConflict))
	// Output:
	// queued
	// true
}
