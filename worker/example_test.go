package worker_test

import (
	"context"
	"log"
	"net/http"
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

// Two merchants on the production Card API, sharing one connection pool;
// one has a provider profile of its own (see docs/provider.md).
func ExampleCardAPI() {
	// No Timeout: Config.ProviderTimeout bounds each call. Keep an idle
	// connection for every call in flight, not net/http's two.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	hc := &http.Client{Transport: tr}
	shop, err := worker.CardAPI("111111", os.Getenv("SHOP_SECRET"), worker.ProdEnvironment, worker.WithHTTPClient(hc))
	if err != nil {
		log.Fatal(err)
	}
	outlet, err := worker.CardAPI("222222", os.Getenv("OUTLET_SECRET"), worker.ProdEnvironment, worker.WithHTTPClient(hc),
		worker.WithProfileFile("/etc/refundq/outlet-profile.yaml"))
	if err != nil {
		log.Fatal(err)
	}
	byName := map[string]*worker.Provider{"shop": shop, "outlet": outlet}
	_ = worker.Config{
		Redis:     redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}),
		Providers: func(merchant string) (*worker.Provider, bool) { p, ok := byName[merchant]; return p, ok },
	}
}
