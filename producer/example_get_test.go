package producer_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/refundq/refundq/producer"
)

// A support tool shows a customer's refund: its state, what was accepted
// and its event log.
func ExampleProducer_Get() {
	p, stop := exampleProducer()
	defer stop()
	ctx := context.Background()

	rcpt, err := p.Enqueue(ctx, producer.Refund{IdempotencyKey: "return-4410", OrderID: "order-4001", Amount: "7.5"})
	if err != nil {
		log.Fatal(err)
	}
	st, err := p.Get(ctx, rcpt.RequestID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.State, st.Amount, st.Merchant, st.State.Terminal())
	for _, e := range st.Events {
		fmt.Println(e.Type)
	}

	_, err = p.Get(ctx, "00000000-0000-0000-0000-000000000000")
	fmt.Println(errors.Is(err, producer.ErrNotFound))
	// Output:
	// queued 7.50 default false
	// accepted
	// true
}
