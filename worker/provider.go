package worker

import (
	"context"
	"time"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/metrics"
)

// Provider is the Card API as the worker uses it. *freedompay.Client
// implements it; tests may substitute their own.
type Provider interface {
	Refund(ctx context.Context, r freedompay.RefundRequest) (*freedompay.Response, error)
	Status(ctx context.Context, requestID string) (*freedompay.Response, error)
}

// ProviderSet finds the provider client for a merchant name. ok is false
// for a merchant with no configured credential.
type ProviderSet func(merchant string) (p Provider, ok bool)

// SingleProvider serves every merchant with one client.
func SingleProvider(p Provider) ProviderSet {
	return func(string) (Provider, bool) { return p, true }
}

// instrumented records a call's latency and outcome.
type instrumented struct {
	p Provider
	m *metrics.Metrics
}

func (i instrumented) Refund(ctx context.Context, r freedompay.RefundRequest) (*freedompay.Response, error) {
	start := time.Now()
	resp, err := i.p.Refund(ctx, r)
	i.observe("refund", start, err)
	return resp, err
}

func (i instrumented) Status(ctx context.Context, id string) (*freedompay.Response, error) {
	start := time.Now()
	resp, err := i.p.Status(ctx, id)
	i.observe("status", start, err)
	return resp, err
}

func (i instrumented) observe(endpoint string, start time.Time, err error) {
	if i.m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = freedompay.KindOf(err).String()
	}
	i.m.ProviderRequests.WithLabelValues(endpoint, outcome).Inc()
	i.m.ProviderDuration.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
}

// Environments of the Card API, for CardAPI.
const (
	TestEnvironment = freedompay.BaseURLTest
	ProdEnvironment = freedompay.BaseURLProd
)

// CardAPI returns the Freedom Pay Card API client of one merchant
// credential. baseURL is TestEnvironment, ProdEnvironment or another URL
// (a simulator); empty means TestEnvironment.
func CardAPI(authID, secret, baseURL string) (Provider, error) {
	opts := []freedompay.Option{}
	if baseURL != "" {
		opts = append(opts, freedompay.WithBaseURL(baseURL))
	}
	return freedompay.New(freedompay.Credential{AuthID: authID, Secret: freedompay.Secret(secret)}, opts...)
}
