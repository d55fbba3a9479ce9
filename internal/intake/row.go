package intake

import (
	"bytes"
	"unicode/utf8"

	"github.com/refundq/refundq/internal/refund"
	"github.com/refundq/refundq/producer"
)

// maxRaw bounds Row.Raw: enough to recognise the record in a rejects
// file, small enough that a file of huge bad rows stays cheap.
const maxRaw = 512

// Reader yields the records of a bulk file in order. Next returns io.EOF
// after the last record; any other error is fatal (the read itself
// failed) and is returned again by later calls. A record that cannot be
// read is a Row with Problem set, and reading goes on.
type Reader interface {
	Next() (Row, error)
}

// Row is one record of a file. It has not been validated.
type Row struct {
	// Line is the 1-based physical line where the record starts, so an
	// operator can find it in an editor even after multi-line fields.
	Line    int
	Request refund.Request
	// Raw is the record as written, truncated to 512 bytes.
	Raw string
	// Problem, when set, says why the record could not be read at all
	// (Field "row" or "json"); Request is then empty.
	Problem *producer.RowError
	// Fields are problems with single values found while reading, such
	// as a blank amount or an unknown JSON key.
	Fields []refund.FieldError
	// cells are the values of a CSV record that split into fields but is
	// not a refund (wrong count, a repeated header), for the digest.
	cells []string
}

// Errors returns every problem with the row: what reading found plus
// what EnqueueBatch's validation finds in the fields reading did not
// already blame. It returns nil for a valid row.
func (r Row) Errors() []producer.RowError {
	if r.Problem != nil {
		p := *r.Problem
		p.Line, p.Raw = r.Line, r.Raw
		return []producer.RowError{p}
	}
	var validated []refund.FieldError
	for _, e := range producer.CheckBatchRow(r.Line, producer.Refund(r.Request)) {
		validated = append(validated, refund.FieldError{Field: e.Field, Reason: e.Reason})
	}
	fields := MergeFields(r.Fields, validated)
	if len(fields) == 0 {
		return nil
	}
	out := make([]producer.RowError, len(fields))
	for i, f := range fields {
		out[i] = producer.RowError{Line: r.Line, Field: f.Field, Reason: f.Reason, Raw: r.Raw}
	}
	return out
}

// batchRow is the row as EnqueueBatch takes it. A row that read cleanly
// is left for EnqueueBatch to validate, once.
func (r Row) batchRow() producer.BatchRow {
	br := producer.BatchRow{Line: r.Line, Refund: producer.Refund(r.Request), Raw: r.Raw}
	if r.Problem != nil || len(r.Fields) > 0 {
		br.Errs = r.Errors()
	}
	return br
}

func problem(field, reason string) *producer.RowError {
	return &producer.RowError{Field: field, Reason: reason}
}

// rawString turns record bytes into a Raw value: line endings trimmed and
// cut to maxRaw bytes without splitting a UTF-8 sequence.
func rawString(b []byte) string {
	b = bytes.Trim(b, "\r\n")
	if len(b) <= maxRaw {
		return string(b)
	}
	cut := maxRaw
	for i := maxRaw; i > maxRaw-utf8.UTFMax && i > 0; i-- {
		if utf8.RuneStart(b[i]) {
			cut = i
			break
		}
	}
	return string(b[:cut])
}
