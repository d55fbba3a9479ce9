package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"github.com/refundq/refundq/producer"
)

type enqueueArgs struct {
	r    producer.Refund
	bulk bool
}

func enqueueCommand() command {
	a := &enqueueArgs{}
	return command{
		summary: "enqueue one refund: enqueue --order-id O --amount 10.00 [--idempotency-key K]",
		run:     a.run, flags: a.bind,
	}
}

func (a *enqueueArgs) bind(fs *flag.FlagSet) {
	r := &a.r
	fs.StringVar(&r.RequestID, "request-id", "", "request_id (UUID); or give --idempotency-key")
	fs.StringVar(&r.IdempotencyKey, "idempotency-key", "", "derives a stable request_id with the merchant")
	fs.StringVar(&r.Merchant, "merchant", "", "merchant credential name (default \"default\")")
	fs.StringVar(&r.OrderID, "order-id", "", "the order's id in your system")
	fs.StringVar(&r.TransactionID, "transaction-id", "", "the provider's transaction id")
	fs.StringVar(&r.Amount, "amount", "", "amount in major units, e.g. 10.50; empty refunds the remainder")
	fs.StringVar(&r.Description, "description", "", "description")
	fs.StringVar(&r.CallbackURL, "callback-url", "", "URL to notify when the refund is final")
	fs.BoolVar(&a.bulk, "bulk", false, "use the low-priority bulk queue")
}

func (a *enqueueArgs) run(ctx context.Context, e *env, _ []string) error {
	rdb, err := redisClient(e.cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	p := producer.NewFromClient(rdb, producer.WithSource("cli"), producer.WithRetention(e.cfg.Retention),
		producer.WithReplicaAcks(e.cfg.RedisReplicaAcks, e.cfg.RedisReplicaAckTimeout))
	opts := []producer.EnqueueOption{producer.EnqueueHold(holdPolicy(e.cfg).Single(operatorName(e)))}
	if a.bulk {
		opts = append(opts, producer.Bulk())
	}
	rc, err := p.Enqueue(ctx, a.r, opts...)
	var ve *producer.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			fmt.Fprintf(e.stderr, "invalid %s: %s\n", f.Field, f.Reason)
		}
		return errors.New("nothing was enqueued")
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(e.stdout).Encode(rc)
}
