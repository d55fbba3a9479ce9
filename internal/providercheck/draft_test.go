package providercheck

import (
	"testing"
	"time"

	"github.com/refundq/refundq/internal/freedompay"
)

// The draft never gives a reply the provider may have acted on (a 5xx, a
// 3xx) a meaning that ends a refund, and never drafts a rejection from an
// HTTP status alone: such steps stay mismatches for the operator.
func TestTheDraftRefusesUnsafeObservations(t *testing.T) {
	rejected := Expect{Meaning: freedompay.MeaningRejected, Reason: "over_refund"}
	for name, x := range map[string]freedompay.Exchange{
		"5xx with a code":      {Endpoint: "refund", HTTPStatus: 500, Status: "error", Code: "5000"},
		"HTML 502":             {Endpoint: "refund", HTTPStatus: 502, Reply: "<html>502</html>"},
		"redirect":             {Endpoint: "refund", HTTPStatus: 307},
		"no code, no message":  {Endpoint: "refund", HTTPStatus: 400},
		"a documented success": {Endpoint: "refund", HTTPStatus: 200, Status: "ok", Resp: &freedompay.Response{Status: "ok", RequestStatus: "success"}},
		"no reply":             {Endpoint: "refund"},
	} {
		if _, ok := observed(Step{Name: name, Expect: rejected, Got: x}, "host", time.Now()); ok {
			t.Errorf("%s: drafted a rejection from it", name)
		}
	}
	d := Draft(&Report{Steps: []Step{{Name: "ok", Expect: rejected,
		Got: freedompay.Exchange{Endpoint: "refund", HTTPStatus: 200, Status: "error", Code: "3002"}}}}, nil, "host", time.Now())
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := freedompay.ParseProfile(b); err != nil || d.Rules[0].Code != "3002" {
		t.Fatalf("a safe observation: %v %+v", err, d.Rules[0])
	}
}
