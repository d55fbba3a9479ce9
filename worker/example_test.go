package worker_test

import (
	"context"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/refundq/refundq/worker"
)

// A worker for one merchant on the Freedom Pay TEST environment, stopped
// gracefully by SIGTERM.
func ExampleWorker_Run() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	card, err := worker.CardAPI("123456", os.Getenv("FREEDOMPAY_SECRET"), worker.TestEnvironment)
	if err != nil {
		log.Fatal(err)
	}
	w, err := worker.New(worker.Config{
		Redis:        rdb,
		Providers:    worker.SingleProvider(card),
		PollSchedule: []time.Duration{time.Second, 5 * time.Second, time.Minute},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := w.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
