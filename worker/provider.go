package worker

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/refundq/refundq/internal/freedompay"
	"github.com/refundq/refundq/internal/metrics"
)

// Provider is the Freedom Pay Card API client of one merchant credential, as
// the worker calls it. Only CardAPI makes one; a zero Provider counts as
// no credential.
//
// It is closed on purpose. The worker's money rules (a refund is sent at
// most once, failed means no money moved, an ambiguous outcome is settled
// through request status before anything is sent again) rest on how this
// client classifies every reply: a documented success, a rejection that
// proves nothing was executed, a rate limit, or ambiguous. A substitute that
// called a timeout or an unfamiliar error page a decline would have the
// worker fail a refund the provider executed. To run the worker against
// other provider behaviour, point CardAPI at that server (a simulator, a
// stub of your own) and describe its replies with WithProfileFile; the
// classification stays the one refundq ships and tests.
type Provider struct {
	api freedompay.API
}

// CardAPIOption configures CardAPI.
type CardAPIOption func(*cardAPIOptions)

type cardAPIOptions struct {
	http        *http.Client
	profileFile string
}

// WithHTTPClient sends calls through hc, e.g. to share one connection pool
// between the providers of several merchants on the same host. Its Timeout
// should be zero (the worker bounds each call with Config.ProviderTimeout)
// and its redirect policy is replaced: a Card API client follows no
// redirects, so a signed body is never posted to another host. The default
// keeps up to 256 idle connections to the provider.
func WithHTTPClient(hc *http.Client) CardAPIOption {
	return func(o *cardAPIOptions) { o.http = hc }
}

// WithProfileFile reads the provider's reply vocabulary from the YAML
// profile at path (see docs/provider.md; `refundq provider-check` drafts
// one). Without it the shipped Freedom Pay v5 profile applies. A reply the
// profile does not know is ambiguous, never a failure.
func WithProfileFile(path string) CardAPIOption {
	return func(o *cardAPIOptions) { o.profileFile = path }
}

// Environments of the Card API, for CardAPI.
const (
	TestEnvironment = freedompay.BaseURLTest
	ProdEnvironment = freedompay.BaseURLProd
)

// CardAPI returns the Card API client of one merchant credential. baseURL
// is TestEnvironment, ProdEnvironment or another URL (a simulator); empty
// means TestEnvironment. The secret is kept in a type that prints as
// [redacted] and only ever leaves the process as a request signature.
func CardAPI(authID, secret, baseURL string, opts ...CardAPIOption) (*Provider, error) {
	var o cardAPIOptions
	for _, opt := range opts {
		opt(&o)
	}
	fopts := []freedompay.Option{}
	if baseURL != "" {
		fopts = append(fopts, freedompay.WithBaseURL(baseURL))
	}
	if o.http != nil {
		fopts = append(fopts, freedompay.WithHTTPClient(o.http))
	}
	if o.profileFile != "" {
		p, err := freedompay.LoadProfile(o.profileFile)
		if err != nil {
			return nil, fmt.Errorf("worker: card api: %w", err)
		}
		fopts = append(fopts, freedompay.WithProfile(p))
	}
	c, err := freedompay.New(freedompay.Credential{AuthID: authID, Secret: freedompay.Secret(secret)}, fopts...)
	if err != nil {
		return nil, fmt.Errorf("worker: card api: %w", err)
	}
	return &Provider{api: c}, nil
}

// ProviderSet finds the provider of a merchant name. ok is false for a
// merchant with no configured credential: its refunds go to
// needs_attention, unsent.
type ProviderSet func(merchant string) (p *Provider, ok bool)

// SingleProvider serves every merchant with one provider.
func SingleProvider(p *Provider) ProviderSet {
	return func(string) (*Provider, bool) { return p, true }
}

// lookup finds the client of merchant. A nil or zero Provider counts as no
// credential: the refund parks unsent instead of reaching a client that
// cannot sign.
func (s ProviderSet) lookup(merchant string) (freedompay.API, bool) {
	p, ok := s(merchant)
	if !ok || p == nil || p.api == nil {
		return nil, false
	}
	return p.api, true
}

// instrumented records a call's latency and outcome.
type instrumented struct {
	p freedompay.API
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
