package batchfile

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/refundq/refundq/internal/refund"
)

// sniffSize is how much of the file may be buffered to find the end of the
// header line. A header longer than this is not a refund file.
const sniffSize = 64 << 10

// csvReader reads records after the header. cols[i] is the request field
// name of column i.
type csvReader struct {
	cr   *csv.Reader
	rec  *recorder
	cols []string
	err  error
}

// NewCSV reads and checks the header row and returns a Reader over the
// records after it. Columns are matched by name, ignoring case and
// surrounding spaces, so spreadsheets may order them freely. The delimiter
// (',' or ';', the latter from European Excel) is taken from the header line.
// Header problems are returned here, before any row is read, because they
// make every row meaningless.
func NewCSV(r io.Reader) (Reader, error) {
	br := bufio.NewReaderSize(r, sniffSize)
	if err := skipBOM(br); err != nil {
		return nil, err
	}
	comma, err := sniffDelimiter(br)
	if err != nil {
		return nil, err
	}
	rec := &recorder{r: br}
	cr := csv.NewReader(rec)
	cr.Comma = comma
	cr.FieldsPerRecord = -1 // counted by Next, so a bad row is a RowError
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("batchfile: csv: the file is empty; a header row is required")
	}
	if err != nil {
		return nil, fmt.Errorf("batchfile: csv: header: %w", err)
	}
	cols, err := parseHeader(header)
	if err != nil {
		return nil, err
	}
	rec.take(cr.InputOffset())
	return &csvReader{cr: cr, rec: rec, cols: cols}, nil
}

// Next returns the next non-blank record.
func (c *csvReader) Next() (Row, error) {
	for c.err == nil {
		fields, err := c.cr.Read()
		raw := rawString(c.rec.take(c.cr.InputOffset()))
		var pe *csv.ParseError
		switch {
		case errors.Is(err, io.EOF):
			c.err = io.EOF
		case errors.As(err, &pe):
			return Row{}, &RowError{Line: pe.StartLine, Field: "row", Reason: pe.Err.Error(), Raw: raw}
		case err != nil:
			c.err = fmt.Errorf("batchfile: csv: read: %w", err)
		case blank(fields):
			continue
		default:
			return c.row(fields, raw)
		}
	}
	return Row{}, c.err
}

func (c *csvReader) row(fields []string, raw string) (Row, error) {
	line, _ := c.cr.FieldPos(0)
	if len(fields) != len(c.cols) {
		reason := fmt.Sprintf("has %d fields, the header has %d", len(fields), len(c.cols))
		return Row{}, &RowError{Line: line, Field: "row", Reason: reason, Raw: raw}
	}
	var req refund.Request
	for i, name := range c.cols {
		v := fields[i]
		if name != "description" { // spaces in a description are the merchant's text
			v = strings.TrimSpace(v)
		}
		*stringField(&req, name) = v
	}
	return Row{Line: line, Request: req, Raw: raw}, nil
}

// blank reports whether a record carries no data. Besides empty lines
// (which encoding/csv skips itself) spreadsheets export trailing rows as
// ",,,," and editors leave lines of spaces; neither is a refund.
func blank(fields []string) bool {
	for _, f := range fields {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// parseHeader maps header cells to request field names. Unknown names are
// reported before anything else, since a typo such as "oder_id" would
// otherwise surface as a confusing "order_id column missing".
func parseHeader(header []string) ([]string, error) {
	cols := make([]string, len(header))
	var unknown []string
	for i, h := range header {
		cols[i] = strings.ToLower(strings.TrimSpace(h))
		if cols[i] == "" {
			return nil, fmt.Errorf("batchfile: csv: header column %d has no name", i+1)
		}
		if !isCSVColumn(cols[i]) {
			unknown = append(unknown, strconv.Quote(strings.TrimSpace(h)))
		}
	}
	if len(unknown) > 0 {
		noun := "column"
		if len(unknown) > 1 {
			noun = "columns"
		}
		return nil, fmt.Errorf("batchfile: csv: unknown %s %s (known: %s)",
			noun, strings.Join(unknown, ", "), strings.Join(csvColumns(), ", "))
	}
	return cols, checkColumnSet(cols)
}

func isCSVColumn(name string) bool {
	for _, c := range csvColumns() {
		if c == name {
			return true
		}
	}
	return false
}

// checkColumnSet rejects duplicate columns (which value would win is a
// guess) and headers that cannot identify a payment at all.
func checkColumnSet(cols []string) error {
	seen := make(map[string]bool, len(cols))
	for _, c := range cols {
		if seen[c] {
			return fmt.Errorf("batchfile: csv: duplicate column %q", c)
		}
		seen[c] = true
	}
	if !seen["order_id"] && !seen["transaction_id"] {
		return errors.New("batchfile: csv: the header needs an order_id or a transaction_id column")
	}
	return nil
}

// sniffDelimiter looks at the header line without consuming it and picks
// ';' when it separates more header cells than ',' does. Column names never
// contain either, so the header is an unambiguous sample.
func sniffDelimiter(br *bufio.Reader) (rune, error) {
	for n := 256; ; n *= 2 {
		n = min(n, br.Size())
		b, err := br.Peek(n)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return pickDelimiter(b[:i]), nil
		}
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return 0, fmt.Errorf("batchfile: csv: read header: %w", err)
		}
		if err != nil || n == br.Size() {
			return pickDelimiter(b), nil
		}
	}
}

func pickDelimiter(line []byte) rune {
	commas, semis, quoted := 0, 0, false
	for _, c := range line {
		switch {
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ',':
			commas++
		case c == ';':
			semis++
		}
	}
	if semis > commas {
		return ';'
	}
	return ','
}

// recorder keeps the bytes encoding/csv reads so each record's raw text can
// be cut out by InputOffset for the rejects file. buf starts at stream
// offset start; take drops everything before the offset it is given, so
// only the current record and csv's read-ahead are held.
type recorder struct {
	r     io.Reader
	buf   []byte
	start int64
}

func (rc *recorder) Read(p []byte) (int, error) {
	n, err := rc.r.Read(p)
	rc.buf = append(rc.buf, p[:n]...)
	return n, err
}

// take returns the bytes from the previous take up to offset end. The
// result aliases the buffer and is valid until the next Read.
func (rc *recorder) take(end int64) []byte {
	n := min(max(int(end-rc.start), 0), len(rc.buf))
	out := rc.buf[:n]
	rc.buf = rc.buf[n:]
	rc.start = end
	return out
}
