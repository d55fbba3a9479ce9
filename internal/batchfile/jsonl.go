package batchfile

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/refundq/refundq/internal/refund"
)

// maxLine bounds one JSONL line. A refund with a full set of metadata is a
// few KiB; 1 MiB leaves room for generous producers while keeping a
// runaway line (a whole file without newlines) from exhausting memory.
const maxLine = 1 << 20

// jsonlReader reads one JSON object per line. line counts physical lines,
// blank ones included, so reported numbers match an editor's.
type jsonlReader struct {
	br   *bufio.Reader
	line int
	err  error
}

// NewJSONL returns a Reader over a file of one JSON object per line. Keys
// are the CSV column names plus callback_url and metadata. Nothing is read
// until the first Next.
func NewJSONL(r io.Reader) Reader {
	return &jsonlReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Next returns the next non-blank line as a Row.
func (j *jsonlReader) Next() (Row, error) {
	for j.err == nil {
		b, tooLong, err := j.readLine()
		if err != nil {
			j.err = err
			break
		}
		j.line++
		if j.line == 1 {
			b = bytes.TrimPrefix(b, []byte(bom))
		}
		if tooLong || len(bytes.TrimSpace(b)) > 0 {
			return j.row(b, tooLong)
		}
	}
	return Row{}, j.err
}

func (j *jsonlReader) row(b []byte, tooLong bool) (Row, error) {
	raw := rawString(b)
	if tooLong {
		reason := fmt.Sprintf("line is longer than the %d byte limit", maxLine)
		return Row{}, &RowError{Line: j.line, Field: "json", Reason: reason, Raw: raw}
	}
	req, rerr := decodeRequest(b)
	if rerr != nil {
		rerr.Line, rerr.Raw = j.line, raw
		return Row{}, rerr
	}
	return Row{Line: j.line, Request: req, Raw: raw}, nil
}

// readLine returns the next line without its line ending, or io.EOF when
// there are no more. A line over maxLine is drained without being kept and
// reported as tooLong with only a prefix, for Raw.
func (j *jsonlReader) readLine() (line []byte, tooLong bool, err error) {
	for {
		chunk, err := j.br.ReadSlice('\n')
		if !tooLong {
			line = append(line, chunk...)
			if len(line) > maxLine+len("\r\n") {
				line, tooLong = line[:maxRaw+utf8.UTFMax], true
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && (len(line) > 0 || tooLong):
		case errors.Is(err, io.EOF):
			return nil, false, io.EOF
		case err != nil:
			return nil, false, fmt.Errorf("batchfile: jsonl: read line %d: %w", j.line+1, err)
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		return line, tooLong || len(line) > maxLine, nil
	}
}

// decodeRequest parses one line. It walks the object token by token rather
// than using json.Unmarshal so that it can name an unknown key, refuse a
// repeated one (which of two amounts is meant is a guess), and keep a JSON
// number's exact text. The returned RowError lacks Line and Raw.
func decodeRequest(b []byte) (refund.Request, *RowError) {
	var req refund.Request
	if !utf8.Valid(b) {
		return req, jsonError("the line is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return req, malformed(err)
	}
	if tok != json.Delim('{') {
		return req, jsonError("each line must be one JSON object")
	}
	seen := make(map[string]bool)
	for dec.More() {
		key, raw, err := nextMember(dec)
		if err != nil {
			return req, malformed(err)
		}
		if seen[key] {
			return req, keyError(key, "appears more than once")
		}
		seen[key] = true
		if rerr := setMember(&req, key, raw); rerr != nil {
			return req, rerr
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return req, malformed(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return req, jsonError("unexpected data after the object; put one object on each line")
	}
	return req, nil
}

// nextMember reads one "key": value pair, leaving the value undecoded.
func nextMember(dec *json.Decoder) (string, json.RawMessage, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", nil, err
	}
	key, ok := tok.(string)
	if !ok {
		return "", nil, fmt.Errorf("expected an object key, found %v", tok)
	}
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return "", nil, err
	}
	return key, bytes.TrimSpace(raw), nil
}

// setMember stores one member's value. null means "not given" for every key
// except amount, where an absent amount already means a full refund and a
// null is more likely a producer bug than that intent.
func setMember(req *refund.Request, key string, raw json.RawMessage) *RowError {
	switch key {
	case "amount":
		return decodeAmount(&req.Amount, raw)
	case "metadata":
		if err := json.Unmarshal(raw, &req.Metadata); err != nil {
			return &RowError{Field: key, Reason: "must be an object with string values"}
		}
		return nil
	}
	dst := stringField(req, key)
	if dst == nil {
		known := append(csvColumns(), "callback_url", "metadata")
		return keyError(key, "is unknown (known: "+strings.Join(known, ", ")+")")
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return &RowError{Field: key, Reason: "must be a JSON string"}
	}
	return nil
}

// decodeAmount accepts "10.50" or 10.50. A number is kept as its literal
// text via json.Number, never a float64, so 0.1 stays "0.1" and 1e3 is left
// for refund.Validate to reject instead of becoming "1000".
func decodeAmount(dst *string, raw json.RawMessage) *RowError {
	bad := &RowError{Field: "amount", Reason: "must be a JSON string or number; leave it out for a full refund"}
	if len(raw) == 0 {
		return bad
	}
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, dst); err != nil {
			return bad
		}
		return nil
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return bad
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return bad
	}
	*dst = n.String()
	return nil
}

// keyError reports a problem with a key itself. Field is the key, so a
// typo such as "amout" sorts with its row in the rejects file, unless the
// key cannot serve as a field name (empty, huge, control characters); then
// it is "json" and the key appears only, shortened, in the reason.
func keyError(key, reason string) *RowError {
	field, shown := key, key
	if !plainKey(key) {
		field = "json"
	}
	if len(shown) > maxKeyShown {
		shown = shown[:maxKeyShown] + "..."
	}
	return &RowError{Field: field, Reason: "key " + strconv.Quote(shown) + " " + reason}
}

// maxKeyShown bounds how much of a bad key is echoed back.
const maxKeyShown = 64

func plainKey(key string) bool {
	if key == "" || len(key) > maxKeyShown {
		return false
	}
	for _, r := range key {
		if r == utf8.RuneError || r == ' ' || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func jsonError(reason string) *RowError {
	return &RowError{Field: "json", Reason: reason}
}

// malformed reports a JSON syntax error, which encoding/json words well
// enough ("invalid character ...") to show to the file's author.
// An object cut short usually means it was pretty-printed over several
// lines, so that case says so.
func malformed(err error) *RowError {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return jsonError("malformed JSON: the object does not end on this line; put each object on one line")
	}
	return jsonError("malformed JSON: " + err.Error())
}
