package producer_test

import (
	"context"
	"fmt"
	"log"

	"github.com/refundq/refundq/producer"
)

// An ops team refunds a list of orders as one batch. Bad rows are
// reported by line and skipped; the rest go to the low-priority bulk
// queue. Running the same batch again enqueues nothing new.
func ExampleProducer_EnqueueBatch() {
	p, stop := exampleProducer()
	defer stop()

	refunds := []producer.Refund{
		{OrderID: "order-1001", Amount: "10.00"},
		{OrderID: "order-1002", Amount: "0"},
		{TransactionID: "txn-77"}, // full refund
	}
	ctx := context.Background()
	rep, err := p.EnqueueBatch(ctx, "goodwill-2024-06", producer.Rows(refunds))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("accepted %d, duplicates %d, rejected %d\n", rep.Accepted, rep.Duplicates, rep.Rejected)
	for _, e := range rep.Errors {
		fmt.Println(e)
	}

	rep, err = p.EnqueueBatch(ctx, "goodwill-2024-06", producer.Rows(refunds))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("again: accepted %d, duplicates %d\n", rep.Accepted, rep.Duplicates)
	// Output:
	// accepted 2, duplicates 0, rejected 1
	// line 2: amount: must be greater than 0
	// again: accepted 0, duplicates 2
}
