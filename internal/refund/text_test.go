package refund

import (
	"strings"
	"testing"
)

// The same key or text, composed or decomposed, is one refund; a padded
// key is refused rather than becoming a second key.
func TestTextIsOneWayOfWritingIt(t *testing.T) {
	nfc := Request{IdempotencyKey: "возврат-café", OrderID: "o-1", Description: "Возврат café й", Metadata: map[string]string{"note": "é"}}
	nfd := Request{IdempotencyKey: "возврат-cafe\u0301", OrderID: "o-1", Description: "Возврат cafe\u0301 и\u0306", Metadata: map[string]string{"note": "e\u0301"}}
	a, b := nfc.Normalize(), nfd.Normalize()
	if a.RequestID != b.RequestID || a.ParamHash() != b.ParamHash() {
		t.Fatalf("NFC and NFD give %s / %s", a.RequestID, b.RequestID)
	}
	for _, key := range []string{"pad-1   ", " pad-1", "pad-1\u00a0"} {
		err := Validate(Request{IdempotencyKey: key, OrderID: "o-1"})
		if err == nil || !strings.Contains(err.Error(), "idempotency_key") {
			t.Errorf("key %q: %v", key, err)
		}
	}
}
