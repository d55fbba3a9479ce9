package producer_test

import (
	"context"
	"fmt"
	"log"

	"github.com/refundq/refundq/producer"
)

// A finance team wants all of a batch or none of it. A dry run reports
// what a real run would accept and reject without writing anything, so the
// batch is enqueued only once every row is good.
func ExampleDryRun() {
	p, stop := exampleProducer()
	defer stop()

	refunds := []producer.Refund{
		{OrderID: "order-2001", Amount: "10.00"},
		{OrderID: "order-2002", Amount: "1.005"},
	}
	ctx := context.Background()
	rep, err := p.EnqueueBatch(ctx, "returns-week-49", producer.Rows(refunds), producer.DryRun())
	if err != nil {
		log.Fatal(err)
	}
	if rep.Rejected > 0 {
		fmt.Printf("not enqueued: %d of %d rows are bad\n", rep.Rejected, len(refunds))
		for _, e := range rep.Errors {
			fmt.Println(e)
		}
		return
	}
	// Output:
	// not enqueued: 1 of 2 rows are bad
	// line 2: amount: must be a decimal number in major units with at most 2 fraction digits, e.g. 1250.50
}
