package providercheck

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/refundq/refundq/internal/freedompay"
)

// Draft is a provider profile from what the provider said: one observed
// rule per step that provoked an error reply, ahead of the current
// profile's rules, so the observed vocabulary wins and everything else
// keeps its current meaning. It is a draft: review it, then commit it.
func Draft(rep *Report, current *freedompay.Profile, host string, at time.Time) *freedompay.Profile {
	if current == nil {
		current = freedompay.DefaultProfile()
	}
	d := &freedompay.Profile{Name: "observed-" + host + "-" + at.UTC().Format("20060102")}
	for _, s := range rep.Steps {
		if r, ok := observed(s, host, at); ok {
			d.Rules = append(d.Rules, r)
		}
	}
	d.Rules = append(d.Rules, current.Rules...)
	return d
}

// observed turns one step's reply into a rule that gives it the step's
// expected meaning, matching on what the reply carried: its endpoint and
// HTTP status, its status field, and its code, or failing a code its exact
// message.
//
// It drafts nothing from a reply that cannot safely carry the meaning: no
// reply, a documented success, a 5xx or a 3xx (which can follow an
// execution), or a rejection or duplicate without a code or message of the
// provider's own. Such a step stays a mismatch for the operator to look at.
func observed(s Step, host string, at time.Time) (freedompay.Rule, bool) {
	x, want := s.Got, s.Expect
	if want.Meaning == meaningAnswer || x.HTTPStatus == 0 || x.Resp != nil || x.HTTPStatus >= 500 ||
		(x.HTTPStatus >= 300 && x.HTTPStatus < 400) {
		return freedompay.Rule{}, false
	}
	if (want.Meaning == freedompay.MeaningRejected || want.Meaning == freedompay.MeaningDuplicate) && x.Code == "" && x.Message == "" {
		return freedompay.Rule{}, false
	}
	r := freedompay.Rule{
		Name: "observed: " + s.Name, Endpoint: x.Endpoint, HTTP: []string{fmt.Sprint(x.HTTPStatus)},
		Status: x.Status, Code: x.Code, Meaning: want.Meaning, Reason: want.Reason, Source: "observed",
		Note: fmt.Sprintf("provider-check on %s at %s: %s", host, at.UTC().Format(time.RFC3339), strings.TrimSpace(x.Reply)),
	}
	if r.Code == "" && x.Message != "" {
		r.Message = "^" + regexp.QuoteMeta(x.Message) + "$"
	}
	return r, true
}
