package freedompay

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Meaning is what a provider reply tells refundq about its request.
type Meaning string

const (
	// MeaningNotFound: request status does not know the request_id. It is
	// evidence that the request never arrived only when it lasts a settle
	// window.
	MeaningNotFound Meaning = "not_found"
	// MeaningDuplicate: the provider already has this request_id; an
	// earlier attempt arrived.
	MeaningDuplicate Meaning = "duplicate"
	// MeaningRejected: the provider refused the request and did not execute
	// it. Rule.Reason says why.
	MeaningRejected Meaning = "rejected"
	// MeaningRateLimited: the provider did not take the call; try later.
	MeaningRateLimited Meaning = "rate_limited"
	// MeaningAuthError: the provider refused the credential or signature.
	MeaningAuthError Meaning = "auth_error"
	// MeaningConfigError: the URL names no Card API route, or redirects.
	MeaningConfigError Meaning = "config_error"
	// MeaningAmbiguous: the outcome is unknown; the request may have
	// executed.
	MeaningAmbiguous Meaning = "ambiguous"
)

var meaningKinds = map[Meaning]Kind{
	MeaningNotFound: KindNotFound, MeaningDuplicate: KindDuplicate, MeaningRejected: KindPermanent,
	MeaningRateLimited: KindRateLimited, MeaningAuthError: KindAuth, MeaningConfigError: KindConfig,
	MeaningAmbiguous: KindAmbiguous,
}

// Rejection reasons a MeaningRejected rule may give.
var rejectionReasons = []string{"validation", "unknown_transaction", "over_refund"}

// Rule maps one kind of provider reply to a Meaning. Empty match fields
// match anything; a rule with no match field at all is refused.
type Rule struct {
	Name string `yaml:"name"`
	// Endpoint is "refund" or "status"; empty matches both.
	Endpoint string `yaml:"endpoint,omitempty"`
	// HTTP lists status codes ("429") or classes ("4xx").
	HTTP []string `yaml:"http,omitempty,flow"`
	// Status is the envelope's status field ("ok", "error").
	Status string `yaml:"status,omitempty"`
	// Code is the provider's error code, compared exactly.
	Code string `yaml:"code,omitempty"`
	// Message is a regular expression over the provider's error message.
	Message string  `yaml:"message,omitempty"`
	Meaning Meaning `yaml:"meaning"`
	// Reason is the rejection reason of a MeaningRejected rule.
	Reason string `yaml:"reason,omitempty"`
	// Source is "documented" (Freedom Pay's docs say so), "inferred" (a
	// guess to confirm on TEST) or "observed" (provider-check saw it).
	Source string `yaml:"source"`
	// Note says where the rule comes from.
	Note string `yaml:"note,omitempty"`

	message *regexp.Regexp
}

// Profile is a provider's reply vocabulary: the one table the client
// classifies every non-success reply by. The first matching rule wins.
type Profile struct {
	Name  string `yaml:"name"`
	Rules []Rule `yaml:"rules"`
}

//go:embed profiles/freedompay-v5.yaml
var defaultProfileYAML []byte

// DefaultProfile returns the shipped Freedom Pay v5 profile. Each call
// returns a fresh copy the caller may change.
func DefaultProfile() *Profile {
	p, err := ParseProfile(defaultProfileYAML)
	if err != nil {
		panic("freedompay: shipped profile: " + err.Error()) // a test guards it
	}
	return p
}

// DefaultProfileYAML is the shipped profile as text, for provider-check's
// drafts and the docs.
func DefaultProfileYAML() []byte { return bytes.Clone(defaultProfileYAML) }

// LoadProfile reads a profile file.
func LoadProfile(path string) (*Profile, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("freedompay: profile: %w", err)
	}
	p, err := ParseProfile(raw)
	if err != nil {
		return nil, fmt.Errorf("freedompay: profile %s: %w", path, err)
	}
	return p, nil
}

// ParseProfile decodes and checks a profile. Unknown keys, meanings,
// reasons, endpoints, sources and HTTP patterns are errors, so a typo
// cannot silently turn a rule off.
func ParseProfile(raw []byte) (*Profile, error) {
	var p Profile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document: a profile is one")
	}
	if p.Name == "" {
		return nil, errors.New("profile has no name")
	}
	var errs []error
	if err := explicitEmpties(raw); err != nil {
		errs = append(errs, err)
	}
	for i := range p.Rules {
		if err := p.Rules[i].check(); err != nil {
			errs = append(errs, fmt.Errorf("rule %d (%q): %w", i+1, p.Rules[i].Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &p, nil
}

// Marshal writes the profile as YAML that ParseProfile reads back.
func (p *Profile) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("freedompay: marshal profile: %w", err)
	}
	return buf.Bytes(), nil
}

func (r *Rule) check() error {
	var errs []error
	if r.Name == "" {
		errs = append(errs, errors.New("no name"))
	}
	if _, ok := meaningKinds[r.Meaning]; !ok {
		errs = append(errs, fmt.Errorf("unknown meaning %q", r.Meaning))
	}
	if (r.Meaning == MeaningRejected) != (r.Reason != "") {
		errs = append(errs, errors.New("a reason is given exactly when the meaning is rejected"))
	} else if r.Reason != "" && !slices.Contains(rejectionReasons, r.Reason) {
		errs = append(errs, fmt.Errorf("unknown reason %q (want %s)", r.Reason, strings.Join(rejectionReasons, ", ")))
	}
	if r.Endpoint != "" && r.Endpoint != "refund" && r.Endpoint != "status" {
		errs = append(errs, fmt.Errorf("endpoint %q: want refund, status or nothing", r.Endpoint))
	}
	if r.Source != "documented" && r.Source != "inferred" && r.Source != "observed" {
		errs = append(errs, fmt.Errorf("source %q: want documented, inferred or observed", r.Source))
	}
	for _, h := range r.HTTP {
		if !httpPattern.MatchString(h) {
			errs = append(errs, fmt.Errorf("http %q: want a code such as 404 or a class such as 4xx", h))
		}
	}
	if r.Message != "" {
		re, err := regexp.Compile(r.Message)
		if err != nil {
			errs = append(errs, fmt.Errorf("message: %w", err))
		}
		r.message = re
	}
	if len(r.HTTP) == 0 && r.Status == "" && r.Code == "" && r.Message == "" {
		errs = append(errs, errors.New("matches every reply: give http, status, code or message"))
	}
	if r.message != nil && r.message.MatchString("") {
		errs = append(errs, fmt.Errorf("message %q matches an empty message, so it matches replies that carry none", r.Message))
	}
	return errors.Join(append(errs, r.checkSafe())...)
}

// checkSafe refuses rules that would let a reply the provider may have
// acted on end a refund or send it again. A 5xx or a 3xx can follow an
// execution, so it may only be ambiguous (or, for a 3xx, a configuration
// error). A rejection or a duplicate decides a refund's fate, so it must
// name the provider's own code or message, not just an HTTP status.
func (r *Rule) checkSafe() error {
	for _, h := range r.HTTP {
		switch {
		case h[0] == '5' && r.Meaning != MeaningAmbiguous:
			return fmt.Errorf("http %s may follow an execution: a 5xx can only be ambiguous, not %s", h, r.Meaning)
		case h[0] == '3' && r.Meaning != MeaningAmbiguous && r.Meaning != MeaningConfigError:
			return fmt.Errorf("http %s: a redirect can only be a config_error or ambiguous, not %s", h, r.Meaning)
		}
	}
	if (r.Meaning == MeaningRejected || r.Meaning == MeaningDuplicate) && r.Code == "" && r.Message == "" {
		return fmt.Errorf("a %s rule must match the provider's code or message, not only the HTTP status", r.Meaning)
	}
	return nil
}

// explicitEmpties refuses a match field written but left empty ("code:"),
// which YAML reads as no value at all and so as "match anything": the
// opposite of what its author meant.
func explicitEmpties(raw []byte) error {
	var doc struct {
		Rules []map[string]*yaml.Node `yaml:"rules"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil // the typed decode reports it
	}
	var errs []error
	for i, r := range doc.Rules {
		for _, k := range []string{"endpoint", "status", "code", "message"} {
			if n, ok := r[k]; ok && (n == nil || n.Tag == "!!null" || n.Kind == yaml.ScalarNode && n.Value == "") {
				errs = append(errs, fmt.Errorf("rule %d: %s is written but empty; remove it to match any %s", i+1, k, k))
			}
		}
	}
	return errors.Join(errs...)
}

var httpPattern = regexp.MustCompile(`^[1-5]([0-9]{2}|xx)$`)

// Reply is one provider answer as the profile sees it.
type Reply struct {
	Endpoint   string // "refund" or "status"
	HTTPStatus int
	Status     string
	Code       string
	Message    string
}

// Match returns the first rule that matches r.
func (p *Profile) Match(r Reply) (Rule, bool) {
	for _, rule := range p.Rules {
		if rule.matches(r) {
			return rule, true
		}
	}
	return Rule{}, false
}

func (r Rule) matches(rep Reply) bool {
	switch {
	case r.Endpoint != "" && r.Endpoint != rep.Endpoint:
		return false
	case len(r.HTTP) > 0 && !httpMatches(r.HTTP, rep.HTTPStatus):
		return false
	case r.Status != "" && r.Status != rep.Status:
		return false
	case r.Code != "" && r.Code != rep.Code:
		return false
	case r.message != nil && !r.message.MatchString(rep.Message):
		return false
	}
	return true
}

func httpMatches(patterns []string, code int) bool {
	s := strconv.Itoa(code)
	for _, p := range patterns {
		if p == s || (strings.HasSuffix(p, "xx") && len(s) == 3 && s[0] == p[0]) {
			return true
		}
	}
	return false
}
