package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/internal/store"
	"github.com/refundq/refundq/internal/tasks"
	"github.com/refundq/refundq/worker/callback"
)

// Callbacks configures merchant callbacks: a signed POST of a callback.Event
// to a refund's callback_url once the refund is terminal, retried with
// exponential backoff as its own task. See docs/callbacks.md.
type Callbacks struct {
	// Secret returns a merchant's callback signing key. A merchant without
	// one gets no callbacks: their delivery is recorded as failed.
	Secret func(merchant string) (secret []byte, ok bool)
	// MaxAttempts is how many deliveries are tried before the delivery is
	// recorded as failed (default 20: about 45 minutes of backoff).
	MaxAttempts int
	// Timeout bounds one delivery (default 10s).
	Timeout time.Duration

	client *http.Client
}

func (c *Callbacks) setDefaults() {
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 20
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	c.client = callbackClient(c.Timeout)
}

// maxRedirects bounds same-host redirects of a callback.
const maxRedirects = 3

// callbackClient posts to URLs that merchants chose, so it is strict: every
// phase has a deadline, and a redirect is followed only on the same scheme
// and host and only if it keeps the POST body (307, 308), so a receiver
// cannot point refundq at some other server.
func callbackClient(timeout time.Duration) *http.Client {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: timeout / 2, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   timeout / 2,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	return &http.Client{Transport: t, Timeout: timeout, CheckRedirect: sameHostRedirect}
}

func sameHostRedirect(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	switch {
	case len(via) > maxRedirects:
		return errors.New("too many redirects")
	case req.Response != nil && req.Response.StatusCode != http.StatusTemporaryRedirect &&
		req.Response.StatusCode != http.StatusPermanentRedirect:
		return fmt.Errorf("redirect %d would drop the POST body", req.Response.StatusCode)
	case req.URL.Scheme != first.Scheme || req.URL.Host != first.Host:
		return errors.New("redirect to another host refused")
	}
	return nil
}

// handleCallback makes one delivery attempt. A failed attempt is a task
// failure, so asynq retries it with backoff, until MaxAttempts.
func (w *Worker) handleCallback(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.Decode(t.Payload())
	if errors.Is(err, tasks.ErrNewerPayload) {
		return wait(time.Minute, err.Error())
	}
	if err != nil {
		return fmt.Errorf("%w: %w", asynq.SkipRetry, err)
	}
	rec, err := w.store.Get(ctx, p.RequestID)
	if errors.Is(err, store.ErrNotFound) {
		return nil // expired with its retention: nobody to tell any more
	}
	if err != nil || rec.CallbackURL == "" || !rec.State.Terminal() || rec.Callback.State.Done() {
		return err
	}
	log := w.log.With(zap.String("request_id", rec.RequestID), zap.String("order_id", rec.OrderID),
		zap.String("merchant", rec.Merchant))
	var secret []byte
	ok := w.cfg.Callbacks.Secret != nil
	if ok {
		secret, ok = w.cfg.Callbacks.Secret(rec.Merchant)
	}
	if !ok || len(secret) == 0 {
		log.Error("callback not sent: no callback secret configured for the merchant")
		return w.callbackEnded(ctx, rec, store.CallbackUpdate{State: refund.CallbackFailed,
			LastError: "no callback secret configured", Detail: "not sent: no callback secret configured"})
	}
	dctx, cancel := context.WithTimeout(ctx, w.cfg.Callbacks.Timeout)
	err = w.deliver(dctx, rec, secret)
	cancel()
	return w.recordAttempt(context.WithoutCancel(ctx), log, rec, err)
}

// recordAttempt stores the outcome of attempt n and tells asynq whether to
// try again.
func (w *Worker) recordAttempt(ctx context.Context, log *zap.Logger, rec *refund.Record, err error) error {
	n := rec.Callback.Attempts + 1
	switch {
	case err == nil:
		log.Info("callback delivered", zap.Int("attempt", n))
		return w.callbackEnded(ctx, rec, store.CallbackUpdate{State: refund.CallbackDelivered, Attempted: true,
			Detail: fmt.Sprintf("delivered on attempt %d", n)})
	case n >= w.cfg.Callbacks.MaxAttempts:
		log.Error("callback delivery failed; giving up", zap.Int("attempts", n), zap.Error(err))
		return w.callbackEnded(ctx, rec, store.CallbackUpdate{State: refund.CallbackFailed, Attempted: true,
			LastError: err.Error(), Detail: fmt.Sprintf("gave up after %d attempts: %v", n, err)})
	}
	w.countCallback("error")
	if _, serr := w.store.UpdateCallback(ctx, rec.RequestID, store.CallbackUpdate{State: refund.CallbackPending,
		Attempted: true, LastError: err.Error(), Detail: fmt.Sprintf("attempt %d failed: %v", n, err)}); serr != nil {
		return errors.Join(err, serr)
	}
	return fmt.Errorf("callback attempt %d: %w", n, err)
}

// callbackEnded records a delivery's end and counts it once.
func (w *Worker) callbackEnded(ctx context.Context, rec *refund.Record, u store.CallbackUpdate) error {
	ok, err := w.store.UpdateCallback(ctx, rec.RequestID, u)
	if err != nil {
		return err
	}
	if ok {
		w.countCallback(string(u.State))
	}
	return nil
}

func (w *Worker) countCallback(outcome string) {
	if w.m != nil {
		w.m.Callbacks.WithLabelValues(outcome).Inc()
	}
}

// maxCallbackReply bounds how much of a receiver's reply is read.
const maxCallbackReply = 64 << 10

// deliver posts the signed event once. Only a 2xx is a delivery.
func (w *Worker) deliver(ctx context.Context, rec *refund.Record, secret []byte) error {
	body, err := json.Marshal(eventOf(rec))
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rec.CallbackURL, bytes.NewReader(body))
	if err != nil {
		return redactURLError(err)
	}
	ts := w.cfg.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "refundq-callback/1")
	req.Header.Set(callback.TimestampHeader, strconv.FormatInt(ts, 10))
	req.Header.Set(callback.SignatureHeader, "v1="+callback.Sign(secret, ts, body))
	res, err := w.cfg.Callbacks.client.Do(req)
	if err != nil {
		return redactURLError(err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxCallbackReply))
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("receiver answered http %d", res.StatusCode)
	}
	return nil
}

// redactURLError strips the query and credentials from the URL in an HTTP
// error: a callback URL often carries a merchant's token, and the error
// goes to logs, the refund record and asynq.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = refund.RedactURL(ue.URL)
	}
	return err
}

func eventOf(rec *refund.Record) callback.Event {
	return callback.Event{
		RequestID: rec.RequestID, OrderID: rec.OrderID, TransactionID: rec.TransactionID,
		Merchant: rec.Merchant, Amount: rec.Amount, State: string(rec.State),
		RequestStatus: rec.RequestStatus, ProviderCode: rec.ProviderCode, OccurredAt: rec.UpdatedAt.UTC(),
	}
}
