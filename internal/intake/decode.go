package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/refundq/refundq/internal/refund"
)

// Mode says where a JSON object comes from, which decides what an absent
// amount means.
type Mode int

const (
	// Single is one refund, as POST /v1/refunds takes it. An absent
	// amount is a full refund, as the provider documents; an amount that
	// is present must be a number.
	Single Mode = iota + 1
	// Line is a row of a batch file. The amount must be given: a number,
	// or "full" for a full refund. String values are trimmed of spaces
	// and invisible characters, as CSV cells are, so the same row has the
	// same content in both formats.
	Line
)

// maxDecodeErrors bounds the field errors one object can produce, so an
// object of a hundred thousand unknown keys does not become a huge reply.
const maxDecodeErrors = 20

// maxKeyShown bounds how much of an odd key is echoed back.
const maxKeyShown = 64

// SyntaxError says the text is not one JSON object. Member problems are
// field errors instead.
type SyntaxError struct{ Reason string }

func (e *SyntaxError) Error() string { return e.Reason }

// DecodeJSON parses one JSON object strictly, the one decoder of refunds
// in JSON, for the API and for JSONL files alike. It walks the object
// token by token instead of calling json.Unmarshal so that it can:
//   - name every unknown key (a typo such as "amout" would otherwise turn
//     a partial refund into a full one),
//   - refuse a repeated key, where which value wins is a guess,
//   - keep a JSON number amount as its literal text: a float64 would turn
//     0.1 into 0.1000000000000000055 and 1e3 into 1000.
//
// It returns every problem with a member (at most 20) as field errors,
// and a *SyntaxError when b is not one JSON object. No error only means
// the object is well formed: the caller still validates the request.
func DecodeJSON(b []byte, m Mode) (refund.Request, []refund.FieldError, error) {
	d := decoder{mode: m}
	if !utf8.Valid(b) {
		return d.req, nil, &SyntaxError{"the text is not valid UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return d.req, nil, notAnObject(err)
	}
	seen := map[string]bool{}
	for dec.More() && len(d.errs) < maxDecodeErrors {
		key, raw, err := nextMember(dec)
		if err != nil {
			return d.req, nil, malformed(err)
		}
		if seen[key] {
			d.keyError(key, "appears more than once")
			continue
		}
		seen[key] = true
		d.member(key, raw)
	}
	if len(d.errs) < maxDecodeErrors {
		if err := checkEnd(dec); err != nil {
			return d.req, nil, err
		}
	}
	if m == Line && !seen["amount"] && len(d.errs) < maxDecodeErrors {
		d.add("amount", "is missing: "+fullHint[Line])
	}
	return d.req, d.errs, nil
}

// fullHint tells how each mode asks for a full refund, for amount errors.
var fullHint = map[Mode]string{
	Single: "give an amount such as \"10.50\", or leave amount out for a full refund",
	Line:   "write an amount such as 10.50, or full for a full refund",
}

type decoder struct {
	mode Mode
	req  refund.Request
	errs []refund.FieldError
}

func (d *decoder) add(field, reason string) {
	d.errs = append(d.errs, refund.FieldError{Field: field, Reason: reason})
}

func (d *decoder) member(key string, raw json.RawMessage) {
	switch key {
	case "amount":
		d.amount(raw)
		return
	case "metadata":
		if json.Unmarshal(raw, &d.req.Metadata) != nil {
			d.add(key, "must be an object with string values")
		}
		return
	}
	dst := stringField(&d.req, key)
	if dst == nil {
		d.keyError(key, "is not a known field (known: "+strings.Join(jsonKeys(), ", ")+")")
		return
	}
	if json.Unmarshal(raw, dst) != nil {
		d.add(key, "must be a JSON string")
		return
	}
	if d.mode == Line {
		*dst = trim(*dst)
	}
}

// amount accepts "10.50" or 10.50, and in a file "full". A number keeps
// its literal text (json.Number); refund.Validate then applies the one
// amount syntax to both forms, so 1e3 or -5 are rejected there. Nothing
// that is blank ever means a full refund: "", "  " and null are errors.
func (d *decoder) amount(raw json.RawMessage) {
	hint := fullHint[d.mode]
	switch {
	case bytes.Equal(raw, []byte("null")):
		d.add("amount", "is null: "+hint)
	case len(raw) > 0 && raw[0] == '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			d.add("amount", "must be a JSON string or number: "+hint)
			return
		}
		d.amountText(s)
	case len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9'):
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			d.add("amount", "must be a JSON string or number: "+hint)
			return
		}
		d.req.Amount = n.String()
	default:
		d.add("amount", "must be a JSON string or number: "+hint)
	}
}

func (d *decoder) amountText(s string) {
	if d.mode == Line {
		s = trim(s)
	}
	if fe := amountCell(d.mode, s, &d.req.Amount); fe != nil {
		d.errs = append(d.errs, *fe)
	}
}

// amountCell stores the amount a file cell or a JSON string gives: the
// text itself, or "" for the word full in a file. A blank is an error in
// every mode; "full" is one outside files.
func amountCell(m Mode, s string, dst *string) *refund.FieldError {
	switch {
	case strings.TrimFunc(s, isBlank) == "":
		return &refund.FieldError{Field: "amount", Reason: "is blank: " + fullHint[m]}
	case strings.EqualFold(s, "full"):
		if m != Line {
			return &refund.FieldError{Field: "amount", Reason: "must be a number: " + fullHint[m]}
		}
		*dst = ""
		return nil
	}
	*dst = s
	return nil
}

// keyError reports a problem with a key. Field is the key itself, unless
// it cannot serve as a field name (empty, huge, control characters); then
// it is the whole object's name and a shortened, quoted key is in the
// reason.
func (d *decoder) keyError(key, reason string) {
	if plainKey(key) {
		d.add(key, reason)
		return
	}
	shown := key
	if len(shown) > maxKeyShown {
		shown = shown[:maxKeyShown] + "..."
	}
	d.add(d.mode.objectField(), "key "+strconv.Quote(shown)+" "+reason)
}

// objectField names the whole object in errors: the API's body, a file's
// JSON line.
func (m Mode) objectField() string {
	if m == Line {
		return "json"
	}
	return "body"
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

// checkEnd reads the closing brace and makes sure nothing follows it.
func checkEnd(dec *json.Decoder) error {
	if _, err := dec.Token(); err != nil {
		return malformed(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &SyntaxError{"unexpected data after the JSON object; send one object"}
	}
	return nil
}

// malformed wraps a JSON syntax error; encoding/json words them well
// enough ("invalid character ...") for the text's author. An object cut
// short was usually pretty-printed over several lines of a file.
func malformed(err error) *SyntaxError {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &SyntaxError{"malformed JSON: the object does not end; in a file, put each object on one line"}
	}
	return &SyntaxError{"malformed JSON: " + err.Error()}
}

func notAnObject(err error) *SyntaxError {
	switch {
	case errors.Is(err, io.EOF):
		return &SyntaxError{"there is no JSON object; send one"}
	case err != nil:
		return malformed(err)
	}
	return &SyntaxError{"it must be a JSON object"}
}

// MergeFields adds to decoded the problems validation found with fields
// decoded does not already name, so one reply lists every problem: an
// unknown key "orderid" comes back together with "order_id is required",
// but a repeated amount is not also "a bad amount".
func MergeFields(decoded, validated []refund.FieldError) []refund.FieldError {
	reported := map[string]bool{}
	for _, f := range decoded {
		reported[f.Field] = true
	}
	out := decoded
	for _, f := range validated {
		if !reported[f.Field] {
			out = append(out, f)
		}
	}
	return out
}
