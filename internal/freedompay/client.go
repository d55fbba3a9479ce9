// Package freedompay is a client for the two Freedom Pay Card API v5 calls a
// refund needs: transaction/refund and request/status. Every request is signed
// with an HS512 detached JWS over exactly the bytes sent, and every failure is
// returned as an *Error with a Kind that tells the caller what is safe next.
// What a provider reply means comes from a Profile alone (see profile.go);
// a reply the profile does not know is ambiguous.
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
	profile *Profile
	trace   func(Exchange)
}

// Exchange is one call as it went over the wire, for a conformance check
// (refundq provider-check): what came back, and what the profile made of it.
type Exchange struct {
	Endpoint   string // "refund" or "status"
	HTTPStatus int    // 0 when no reply arrived
	// Status, Code and Message are the reply's envelope fields, wherever
	// its dialect put them; Reply is the raw reply, printable and redacted.
	Status, Code, Message, Reply string
	Resp                         *Response
	Err                          error
}

// Option configures a Client.
type Option func(*Client)

// WithBaseURL points the client at another environment: BaseURLProd, or a
// simulator. The default is BaseURLTest.
func WithBaseURL(u string) Option { return func(c *Client) { c.baseURL = strings.TrimRight(u, "/") } }

// WithHTTPClient shares a transport between clients. Its Timeout should be
// zero: per-call deadlines come from the context. Its redirect policy is
// replaced: the client follows no redirects.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithProfile sets the reply vocabulary; nil keeps DefaultProfile.
func WithProfile(p *Profile) Option { return func(c *Client) { c.profile = p } }

// WithTrace has every call reported to f once it is classified.
func WithTrace(f func(Exchange)) Option { return func(c *Client) { c.trace = f } }

// New returns a client for cred.
func New(cred Credential, opts ...Option) (*Client, error) {
	if cred.AuthID == "" || cred.Secret == "" {
		return nil, errors.New("freedompay: credential needs auth_id and secret")
	}
	c := &Client{baseURL: BaseURLTest, cred: cred, http: NewHTTPClient()}
	for _, o := range opts {
		o(c)
	}
	if c.profile == nil {
		c.profile = DefaultProfile()
	}
	// A redirect would re-post the body and its signature to whatever host
	// it names; the 3xx is returned and classified instead.
	hc := *c.http
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = &hc
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
	if err := r.check(); err != nil {
		return nil, err
	}
	return c.call(ctx, PathRefund, r)
}

// Status asks for the state of an earlier request by its request_id.
func (c *Client) Status(ctx context.Context, requestID string) (*Response, error) {
	return c.call(ctx, PathStatus, StatusRequest{RequestID: requestID})
}

// maxReply bounds how much of a reply is read; a Card API reply is tiny.
const maxReply = 1 << 20

func (c *Client) call(ctx context.Context, path string, payload any) (*Response, error) {
	body, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidRequest, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Kind: KindConfig, Endpoint: path, Err: err}
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
		return nil, c.traced(path, 0, nil, nil, &Error{Kind: kind, Endpoint: path, Err: err})
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxReply))
	if err != nil {
		return nil, c.traced(path, res.StatusCode, raw, nil, &Error{Kind: KindAmbiguous, Endpoint: path, HTTPStatus: res.StatusCode, Err: err})
	}
	resp, err := c.classify(path, res.StatusCode, raw)
	return resp, c.traced(path, res.StatusCode, raw, resp, err)
}

// traced reports a call to the trace function, if any, and returns err.
func (c *Client) traced(path string, code int, raw []byte, resp *Response, err error) error {
	if c.trace != nil {
		env := decodeEnvelope(raw)
		c.trace(Exchange{Endpoint: endpointName(path), HTTPStatus: code, Status: env.resp.Status,
			Code: c.redact([]byte(env.code)), Message: c.redact([]byte(env.message)), Reply: c.redact(raw), Resp: resp, Err: err})
	}
	return err
}

// classify turns an HTTP reply into a Response or a classified *Error. The
// documented success (HTTP 200, status "ok", a request_status of the
// dictionary) is the only success; every other reply means what the
// profile says, and a reply it does not know is ambiguous.
func (c *Client) classify(path string, code int, raw []byte) (*Response, error) {
	env := decodeEnvelope(raw)
	if code == http.StatusOK && env.resp.Status == "ok" && knownRequestStatus(env.resp.RequestStatus) {
		r := env.resp
		return &r, nil
	}
	e := &Error{Endpoint: path, HTTPStatus: code, Code: c.redact([]byte(env.code)), Message: c.redact([]byte(env.message)),
		Reply: c.redact(raw)}
	rule, ok := c.profile.Match(Reply{Endpoint: endpointName(path), HTTPStatus: code, Status: env.resp.Status,
		Code: env.code, Message: env.message})
	if !ok {
		e.Kind, e.Unrecognized = KindAmbiguous, true
		return nil, e
	}
	e.Kind, e.Reason, e.Rule = meaningKinds[rule.Meaning], rule.Reason, rule.Name
	return nil, e
}

func knownRequestStatus(s string) bool {
	return s == RequestProcess || s == RequestSuccess || s == RequestError
}

// endpointName is a path's name in a profile.
func endpointName(path string) string {
	if path == PathStatus {
		return "status"
	}
	return "refund"
}

// maxReplyShown bounds the reply kept on an Error.
const maxReplyShown = 512

// redact makes a reply fit for logs and the event log: printable, bounded,
// and without the credential should a provider ever echo it.
func (c *Client) redact(raw []byte) string {
	s := strings.ToValidUTF8(string(raw), "?")
	// Redact before cutting, or a secret across the cut would survive in
	// part; the JSON-escaped spelling is an echo too.
	if sec := string(c.cred.Secret); sec != "" {
		quoted, _ := json.Marshal(sec)
		s = strings.ReplaceAll(s, sec, "[redacted]")
		s = strings.ReplaceAll(s, strings.Trim(string(quoted), `"`), "[redacted]")
	}
	if len(s) > maxReplyShown {
		s = strings.ToValidUTF8(s[:maxReplyShown], "") + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// API is the Card API as refundq uses it. *Client implements it.
type API interface {
	Refund(ctx context.Context, r RefundRequest) (*Response, error)
	Status(ctx context.Context, requestID string) (*Response, error)
}
