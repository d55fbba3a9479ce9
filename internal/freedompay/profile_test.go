package freedompay

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shopspring/decimal"
)

func TestDefaultProfileIsComplete(t *testing.T) {
	p := DefaultProfile()
	if p.Name != "freedompay-v5" || len(p.Rules) == 0 {
		t.Fatalf("profile %q with %d rules", p.Name, len(p.Rules))
	}
	for _, r := range p.Rules {
		if r.Note == "" || (r.Source != "documented" && r.Source != "inferred") {
			t.Errorf("rule %q: source %q note %q, want documented or inferred with its source", r.Name, r.Source, r.Note)
		}
	}
	again, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseProfile(again)
	if err != nil || len(back.Rules) != len(p.Rules) {
		t.Fatalf("round trip: %v, %d rules", err, len(back.Rules))
	}
}

func TestParseProfileRefusesMistakes(t *testing.T) {
	for name, body := range map[string]string{
		"unknown key":       "name: x\nrules:\n  - name: a\n    http: [\"429\"]\n    meaning: rate_limited\n    source: inferred\n    colour: red\n",
		"unknown meaning":   "name: x\nrules:\n  - name: a\n    http: [\"429\"]\n    meaning: maybe\n    source: inferred\n",
		"reject, no reason": "name: x\nrules:\n  - name: a\n    code: E\n    meaning: rejected\n    source: inferred\n",
		"bad http":          "name: x\nrules:\n  - name: a\n    http: [\"4x\"]\n    meaning: auth_error\n    source: inferred\n",
		"matches all":       "name: x\nrules:\n  - name: a\n    meaning: ambiguous\n    source: inferred\n",
		"bad regexp":        "name: x\nrules:\n  - name: a\n    message: \"(\"\n    meaning: ambiguous\n    source: inferred\n",
		"no source":         "name: x\nrules:\n  - name: a\n    code: E\n    meaning: duplicate\n",
		"no name":           "rules: []\n",
	} {
		if _, err := ParseProfile([]byte(body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// replyCase is one canned reply and how the client must classify it.
type replyCase struct {
	name       string
	code       int
	ctype      string // "": the server sniffs one
	body       string
	status     bool // the status endpoint, else refund
	want       Kind
	recognized bool // false: no profile rule knows the reply
}

func checkReplies(t *testing.T, cases []replyCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cl := reply(t, c.code, c.ctype, c.body)
			var err error
			if c.status {
				_, err = cl.Status(context.Background(), "r")
			} else {
				_, err = cl.Refund(context.Background(), RefundRequest{RequestID: "r", OrderID: "o"})
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Kind != c.want || pe.Unrecognized == c.recognized {
				t.Fatalf("err %v, want kind %s recognized %v", err, c.want, c.recognized)
			}
			if pe.Unrecognized && pe.Reply == "" && c.body != "" {
				t.Fatal("an unrecognized reply keeps no copy of itself for the event log")
			}
		})
	}
}

// reply serves one canned HTTP reply.
func reply(t *testing.T, code int, contentType, body string) *Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	c, err := New(Credential{AuthID: "1", Secret: "topsecret"}, WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The default profile meets a vocabulary it has never seen: whatever it
// does not know is ambiguous, never a rejection and never "not found".
func TestUnknownVocabularyIsAmbiguous(t *testing.T) {
	checkReplies(t, []replyCase{
		{"other code on 200", 200, "application/json", `{"status":"error","code":"3002","message":"Refund amount exceeds available balance"}`, false, KindAmbiguous, false},
		{"other duplicate on 409", 409, "application/json", `{"status":"error","code":"2009"}`, false, KindAmbiguous, false},
		{"other validation on 400", 400, "application/json", `{"status":"error","code":"1002"}`, false, KindAmbiguous, false},
		{"other not found on 404", 404, "application/json", `{"status":"error","code":"2004"}`, true, KindConfig, true},
		{"other bad signature on 401", 401, "application/json", `{"status":"error","code":"1001"}`, false, KindAuth, true},
		{"HTML 502 from a proxy", 502, "text/html", `<html><head><title>502 Bad Gateway</title></head></html>`, true, KindAmbiguous, true},
		{"status ok, strange request_status", 200, "application/json", `{"status":"ok","request_status":"pending"}`, true, KindAmbiguous, false},
		{"empty 200", 200, "application/json", ``, false, KindAmbiguous, false},
		{"201", 201, "application/json", `{"status":"ok","request_status":"process"}`, false, KindAmbiguous, false},
	})
}

// A profile written for another dialect gives its replies their meaning.
func TestAProfileFileDecidesTheMeaning(t *testing.T) {
	p, err := ParseProfile([]byte(`name: alt
rules:
  - name: over-refund
    endpoint: refund
    code: "3002"
    meaning: rejected
    reason: over_refund
    source: observed
  - name: not found
    endpoint: status
    http: ["404"]
    message: "(?i)not found"
    meaning: not_found
    source: observed
`))
	if err != nil {
		t.Fatal(err)
	}
	cl := reply(t, 200, "application/json", `{"status":"error","code":"3002","message":"Refund amount exceeds available balance"}`)
	cl.profile = p
	_, err = cl.Refund(context.Background(), RefundRequest{RequestID: "r", OrderID: "o"})
	if pe := (*Error)(nil); !errors.As(err, &pe) || pe.Kind != KindPermanent || pe.Reason != "over_refund" || pe.Rule != "over-refund" {
		t.Fatalf("over-refund: %v", err)
	}
	cl = reply(t, 404, "application/json", `{"status":"error","code":"2004","message":"Request not found"}`)
	cl.profile = p
	if _, err := cl.Status(context.Background(), "r"); KindOf(err) != KindNotFound {
		t.Fatalf("not found: %v", err)
	}
}

// Rule 9: a redirect would re-post the signed body to another host; the
// client follows none, and a 3xx is a configuration error.
func TestNoRedirectIsFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	for _, code := range []int{301, 302, 307, 308} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, code)
		}))
		c, _ := New(Credential{AuthID: "1", Secret: "s"}, WithBaseURL(srv.URL), WithHTTPClient(&http.Client{}))
		_, err := c.Refund(context.Background(), RefundRequest{RequestID: "r", OrderID: "o"})
		srv.Close()
		if KindOf(err) != KindConfig {
			t.Errorf("%d: %v, want a configuration error", code, err)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the signed body went to the redirect's host %d times", n)
	}
}

// Rule 7: the client refuses amounts it would have to round or that are
// not positive; nothing is sent.
func TestTheClientNeverRoundsMoney(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { calls.Add(1) }))
	defer srv.Close()
	c, _ := New(Credential{AuthID: "1", Secret: "s"}, WithBaseURL(srv.URL))
	for _, s := range []string{"1.005", "0", "0.00", "-5.00", "10.001"} {
		d := decimal.RequireFromString(s)
		_, err := c.Refund(context.Background(), RefundRequest{RequestID: "r", OrderID: "o", Amount: &d})
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("amount %s: %v, want ErrInvalidRequest", s, err)
		}
	}
	if calls.Load() != 0 {
		t.Fatalf("%d calls reached the server", calls.Load())
	}
}

// The reply kept for the event log never carries the credential.
func TestReplyCopyIsRedacted(t *testing.T) {
	cl := reply(t, 200, "application/json", `{"status":"error","code":"X","message":"bad secret topsecret`+"\x1b[31m"+`"}`)
	_, err := cl.Refund(context.Background(), RefundRequest{RequestID: "r", OrderID: "o"})
	var pe *Error
	if !errors.As(err, &pe) || strings.Contains(pe.Reply+pe.Error(), "topsecret") || strings.ContainsRune(pe.Reply+pe.Error(), 0x1b) {
		t.Fatalf("reply copy %q", pe.Reply)
	}
}

// The attack on issue 11 found these.

// A profile may not let a reply the provider may have acted on end a
// refund or send it again, and may not match by accident.
func TestProfilesRefuseDangerousRules(t *testing.T) {
	for name, rule := range map[string]string{
		"5xx rejected":          `http: ["500"]` + "\n    code: \"5000\"\n    meaning: rejected\n    reason: over_refund",
		"5xx class not found":   `http: ["5xx"]` + "\n    meaning: not_found",
		"3xx duplicate":         `http: ["302"]` + "\n    code: D\n    meaning: duplicate",
		"rejected, status only": `http: ["200"]` + "\n    status: error\n    meaning: rejected\n    reason: validation",
		"catch-all message":     `message: ".*"` + "\n    meaning: rejected\n    reason: validation",
		"empty code":            `http: ["200"]` + "\n    code:\n    meaning: duplicate",
	} {
		body := "name: x\nrules:\n  - name: r\n    source: observed\n    " + rule + "\n"
		if _, err := ParseProfile([]byte(body)); err == nil {
			t.Errorf("%s: accepted:\n%s", name, body)
		}
	}
	two := "name: x\nrules: []\n---\nname: y\nrules: []\n"
	if _, err := ParseProfile([]byte(two)); err == nil {
		t.Error("a file of two YAML documents was read as the first")
	}
}

// A secret the provider echoes is redacted before the reply is cut, and
// in its JSON-escaped spelling too.
func TestRedactionSurvivesTheCut(t *testing.T) {
	secret := `se/cret"quote-0123456789`
	for _, body := range []string{
		`{"message":"` + strings.Repeat("x", maxReplyShown-20) + secret + `"}`,
		`{"message":"se/cret\"quote-0123456789"}`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(418)
			_, _ = w.Write([]byte(body))
		}))
		c, _ := New(Credential{AuthID: "1", Secret: Secret(secret)}, WithBaseURL(srv.URL))
		_, err := c.Refund(context.Background(), RefundRequest{RequestID: "r", OrderID: "o"})
		srv.Close()
		var pe *Error
		if !errors.As(err, &pe) {
			t.Fatal(err)
		}
		for _, part := range []string{"se/cret", "quote-0123", "cret\\\"quote"} {
			if strings.Contains(pe.Reply+pe.Error(), part) {
				t.Errorf("%q survives redaction in %q", part, pe.Reply)
			}
		}
	}
}
