// Package freedompay is a client for the two Freedom Pay Card API v5 calls a
// refund needs: transaction/refund and request/status. Every request is signed
// with an HS512 detached JWS over exactly the bytes sent, and every failure is
// returned as an *Error with a Kind that tells the caller what is safe next.
package freedompay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
)

// Secret holds signing key material. It formats as [redacted] so it cannot
// leak through logs or error messages by accident.
type Secret string

func (Secret) String() string                 { return "[redacted]" }
func (Secret) GoString() string               { return "[redacted]" }
func (Secret) MarshalJSON() ([]byte, error)   { return []byte(`"[redacted]"`), nil }
func (s Secret) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }

// Credential is one merchant's API identity.
type Credential struct {
	AuthID string
	Secret Secret
}

// Client calls the Card API for one credential. It is safe for concurrent use.
type Client struct {
	baseURL string
	cred    Credential
	http    *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithBaseURL points the client at another environment: BaseURLProd, or a
// simulator. The default is BaseURLTest.
func WithBaseURL(u string) Option { return func(c *Client) { c.baseURL = strings.TrimRight(u, "/") } }

// WithHTTPClient shares a transport between clients. Its Timeout should be
// zero: per-call deadlines come from the context.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// New returns a client for cred.
func New(cred Credential, opts ...Option) (*Client, error) {
	if cred.AuthID == "" || cred.Secret == "" {
		return nil, errors.New("freedompay: credential needs auth_id and secret")
	}
	c := &Client{baseURL: BaseURLTest, cred: cred, http: NewHTTPClient()}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// maxIdlePerHost keeps a connection for every call a busy worker has in
// flight. net/http's default keeps two, so at a concurrency of 200 nearly
// every call would open (and for the real provider, TLS-handshake) a new
// connection and leave the old one in TIME_WAIT.
const maxIdlePerHost = 256

// NewHTTPClient returns an HTTP client for Card API clients, to share with
// WithHTTPClient: it keeps up to 256 idle connections to the provider
// instead of net/http's two. It has no Timeout; calls take their deadline
// from the context.
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = maxIdlePerHost, maxIdlePerHost
	return &http.Client{Transport: t}
}

// Refund submits a refund. A nil error means the provider accepted it; the
// reply's RequestStatus says whether it is still processing, done or declined.
func (c *Client) Refund(ctx context.Context, r RefundRequest) (*Response, error) {
	return c.call(ctx, PathRefund, r)
}

// Status asks for the state of an earlier request by its request_id. A
// request the provider never saw is an *Error of KindNotFound.
func (c *Client) Status(ctx context.Context, requestID string) (*Response, error) {
	resp, err := c.call(ctx, PathStatus, StatusRequest{RequestID: requestID})
	if err == nil && !knownRequestStatus(resp.RequestStatus) {
		return nil, &Error{Kind: KindAmbiguous, Endpoint: PathStatus, HTTPStatus: http.StatusOK,
			Message: fmt.Sprintf("unexpected request_status %q", resp.RequestStatus)}
	}
	return resp, err
}

func knownRequestStatus(s string) bool {
	return s == RequestProcess || s == RequestSuccess || s == RequestError
}

// maxReply bounds how much of a reply is read; a Card API reply is tiny.
const maxReply = 1 << 20

func (c *Client) call(ctx context.Context, path string, payload any) (*Response, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, &Error{Kind: KindPermanent, Endpoint: path, Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Kind: KindPermanent, Endpoint: path, Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign([]byte(c.cred.Secret), c.cred.AuthID, path, body))

	// WroteHeaders runs on the transport's write goroutine, which can still
	// be running when Do returns (e.g. on ctx cancel), so the flag is atomic.
	var wrote atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: func() { wrote.Store(true) },
	}))
	res, err := c.http.Do(req)
	if err != nil {
		// Nothing written means the provider cannot have acted on it.
		kind := KindAmbiguous
		if !wrote.Load() {
			kind = KindRetryable
		}
		return nil, &Error{Kind: kind, Endpoint: path, Err: err}
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxReply))
	if err != nil {
		return nil, &Error{Kind: KindAmbiguous, Endpoint: path, HTTPStatus: res.StatusCode, Err: err}
	}
	return classify(path, res.StatusCode, raw)
}

// classify turns an HTTP reply into a Response or a classified *Error. Only
// a parsed 200 with status "ok" is a success.
func classify(path string, code int, raw []byte) (*Response, error) {
	var r Response
	parseErr := json.Unmarshal(raw, &r)
	e := &Error{Endpoint: path, HTTPStatus: code, Code: r.ErrorCode, Message: r.Message}
	switch {
	case code == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e.Kind = KindPermanent
	case code >= 500:
		e.Kind = KindAmbiguous
	case parseErr != nil:
		e.Kind, e.Err = KindAmbiguous, fmt.Errorf("unreadable reply: %w", parseErr)
	case code == http.StatusOK && r.Status == "ok":
		return &r, nil
	default:
		e.Kind = codeKinds[r.ErrorCode]
		if e.Kind == 0 {
			e.Kind = KindAmbiguous
		}
	}
	return nil, e
}
