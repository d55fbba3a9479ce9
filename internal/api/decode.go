package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"unicode"
	"unicode/utf8"

	"github.com/refundq/refundq/internal/refund"
)

// maxDecodeErrors bounds the field errors one body can produce, so a body
// of a hundred thousand unknown keys does not become a huge error reply.
const maxDecodeErrors = 20

// maxKeyShown bounds how much of an odd key is echoed back.
const maxKeyShown = 64

// decodeRefund parses a POST /v1/refunds body strictly. It walks the object
// token by token instead of calling json.Unmarshal so that it can:
//   - name every unknown key (a typo such as "amout" would otherwise turn a
//     partial refund into a full one),
//   - refuse a repeated key, where which value wins is a guess,
//   - keep a JSON number amount as its literal text: a float64 would turn
//     0.1 into 0.1000000000000000055 and 1e3 into 1000.
//
// Malformed JSON is an invalid_json *apiError; problems with members are a
// *refund.ValidationError listing each of them. A nil error only means the
// body is well formed: the caller still runs refund.Validate.
func decodeRefund(body []byte) (refund.Request, error) {
	var req refund.Request
	if !utf8.Valid(body) {
		return req, invalidJSON("the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return req, notAnObject(err)
	}
	var errs []refund.FieldError
	seen := map[string]bool{}
	for dec.More() && len(errs) < maxDecodeErrors {
		key, raw, err := nextMember(dec)
		if err != nil {
			return req, malformed(err)
		}
		if seen[key] {
			errs = append(errs, keyError(key, "appears more than once"))
			continue
		}
		seen[key] = true
		if fe := setMember(&req, key, raw); fe != nil {
			errs = append(errs, *fe)
		}
	}
	if len(errs) < maxDecodeErrors {
		if err := checkEnd(dec); err != nil {
			return req, err
		}
	}
	if len(errs) > 0 {
		return req, &refund.ValidationError{Fields: errs}
	}
	return req, nil
}

// checkEnd reads the closing brace and makes sure nothing follows it.
func checkEnd(dec *json.Decoder) error {
	if _, err := dec.Token(); err != nil {
		return malformed(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalidJSON("unexpected data after the JSON object")
	}
	return nil
}

// nextMember reads one "key": value pair and leaves the value undecoded.
func nextMember(dec *json.Decoder) (string, json.RawMessage, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", nil, err
	}
	key, ok := tok.(string)
	if !ok {
		return "", nil, errors.New("expected an object key")
	}
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return "", nil, err
	}
	return key, bytes.TrimSpace(raw), nil
}

// setMember stores one member. A null means "not given", except for the
// amount: an absent amount already means a full refund, and a null is far
// more likely a client bug than that intent.
func setMember(req *refund.Request, key string, raw json.RawMessage) *refund.FieldError {
	switch key {
	case "amount":
		return decodeAmount(&req.Amount, raw)
	case "metadata":
		if json.Unmarshal(raw, &req.Metadata) != nil {
			return &refund.FieldError{Field: key, Reason: "must be an object with string values"}
		}
		return nil
	}
	dst := stringField(req, key)
	if dst == nil {
		fe := keyError(key, "is not a known field")
		return &fe
	}
	if json.Unmarshal(raw, dst) != nil {
		return &refund.FieldError{Field: key, Reason: "must be a JSON string"}
	}
	return nil
}

// decodeAmount accepts "10.50" or 10.50 and keeps a number's literal text
// (json.Number), never a float64; refund.Validate then applies the one
// amount syntax to both forms, so 1e3 or -5 are rejected there.
func decodeAmount(dst *string, raw json.RawMessage) *refund.FieldError {
	bad := &refund.FieldError{Field: "amount",
		Reason: "must be a JSON string or number such as \"10.50\"; leave it out for a full refund"}
	switch {
	case len(raw) > 0 && raw[0] == '"':
		if json.Unmarshal(raw, dst) != nil {
			return bad
		}
	case len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9'):
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return bad
		}
		*dst = n.String()
	default:
		return bad
	}
	return nil
}

// stringField maps a JSON key to the Request field it fills, or nil for a
// key that is not a plain string field.
func stringField(r *refund.Request, key string) *string {
	switch key {
	case "request_id":
		return &r.RequestID
	case "idempotency_key":
		return &r.IdempotencyKey
	case "merchant":
		return &r.Merchant
	case "order_id":
		return &r.OrderID
	case "transaction_id":
		return &r.TransactionID
	case "description":
		return &r.Description
	case "callback_url":
		return &r.CallbackURL
	}
	return nil
}

// keyError reports a problem with a key. Field is the key itself, unless
// it cannot serve as a field name (empty, huge, control characters); then
// it is "body" and a shortened, quoted key is in the reason.
func keyError(key, reason string) refund.FieldError {
	if plainKey(key) {
		return refund.FieldError{Field: key, Reason: reason}
	}
	shown := key
	if len(shown) > maxKeyShown {
		shown = shown[:maxKeyShown] + "..."
	}
	return refund.FieldError{Field: "body", Reason: "key " + strconv.Quote(shown) + " " + reason}
}

func plainKey(key string) bool {
	if key == "" || len(key) > maxKeyShown {
		return false
	}
	for _, r := range key {
		if r == utf8.RuneError || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func invalidJSON(message string) *apiError {
	return newError(http.StatusBadRequest, codeInvalidJSON, message)
}

// malformed wraps a JSON syntax error; encoding/json words them well enough
// ("invalid character ...") for the request's author.
func malformed(err error) *apiError {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return invalidJSON("malformed JSON: the body ends before the object does")
	}
	return invalidJSON("malformed JSON: " + err.Error())
}

func notAnObject(err error) *apiError {
	switch {
	case errors.Is(err, io.EOF):
		return invalidJSON("the body is empty; it must be a JSON object")
	case err != nil:
		return malformed(err)
	}
	return invalidJSON("the body must be a JSON object")
}
