package intake

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// csvReader reads the records after the header. cols[i] is the field
// name of column i.
type csvReader struct {
	s      *csvScanner
	cols   []string
	header string // the header's cells, to spot a repeated header row
}

// newCSV reads and checks the header row and returns a Reader over the
// records after it. Columns are matched by name, ignoring case and
// surrounding spaces, so spreadsheets may order them freely. The
// delimiter (',' or ';', the latter from European Excel) is taken from
// the header line. Header problems are an *InputError, returned before
// any row is read, because they make every row meaningless.
func newCSV(br *bufio.Reader) (Reader, error) {
	comma, err := sniffDelimiter(br)
	if err != nil {
		return nil, err
	}
	s := newCSVScanner(br, comma)
	for {
		rec, err := s.next()
		if errors.Is(err, io.EOF) {
			return nil, inputErrorf("the file is empty: a header row is required, such as order_id,amount")
		}
		if err != nil {
			return nil, fmt.Errorf("intake: read the header: %w", err)
		}
		if rec.problem != "" {
			return nil, inputErrorf("the header row (line %d) cannot be read: %s", rec.line, rec.problem)
		}
		if blank(rec.fields) {
			continue
		}
		cols, err := parseHeader(rec.fields)
		if err != nil {
			return nil, err
		}
		s.width = len(cols)
		return &csvReader{s: s, cols: cols, header: strings.Join(cols, ",")}, nil
	}
}

// Next returns the next non-blank record.
func (c *csvReader) Next() (Row, error) {
	for {
		rec, err := c.s.next()
		if err != nil {
			return Row{}, err
		}
		row := Row{Line: rec.line, Raw: rawString(rec.raw)}
		switch {
		case rec.problem != "":
			reason := rec.problem
			if rec.last > rec.line {
				reason = fmt.Sprintf("lines %d-%d: %s", rec.line, rec.last, reason)
			}
			row.Problem = problem("row", reason)
		case blank(rec.fields):
			continue
		case len(rec.fields) != len(c.cols):
			row.Problem = problem("row", fmt.Sprintf("has %d fields, the header has %d", len(rec.fields), len(c.cols)))
			row.cells = rec.fields
		case c.isHeader(rec.fields):
			row.Problem = problem("row", "repeats the header row (were two files joined?); it is not a refund")
			row.cells = rec.fields
		default:
			c.fill(&row, rec.fields)
		}
		return row, nil
	}
}

func (c *csvReader) fill(row *Row, fields []string) {
	for i, name := range c.cols {
		v := trim(fields[i])
		if name == "amount" {
			if fe := amountCell(Line, v, &row.Request.Amount); fe != nil {
				row.Fields = append(row.Fields, *fe)
			}
			continue
		}
		*stringField(&row.Request, name) = v
	}
}

// isHeader reports whether a record repeats the header, as two exported
// files joined with cat do. A refund's values are never column names.
func (c *csvReader) isHeader(fields []string) bool {
	cells := make([]string, len(fields))
	for i, f := range fields {
		cells[i] = strings.ToLower(trim(f))
	}
	return strings.Join(cells, ",") == c.header
}

// blank reports whether a record carries no data. Besides empty lines
// spreadsheets export trailing rows as ",,,," and editors leave lines of
// spaces; neither is a refund.
func blank(fields []string) bool {
	for _, f := range fields {
		if trim(f) != "" {
			return false
		}
	}
	return true
}

// parseHeader maps header cells to field names. Unknown names are
// reported before anything else, since a typo such as "oder_id" would
// otherwise surface as a confusing "order_id column missing".
func parseHeader(header []string) ([]string, error) {
	cols := make([]string, len(header))
	var unknown []string
	for i, h := range header {
		cols[i] = strings.ToLower(trim(h))
		if cols[i] == "" {
			return nil, inputErrorf("header column %d has no name", i+1)
		}
		if !isCSVColumn(cols[i]) {
			unknown = append(unknown, strconv.Quote(trim(h)))
		}
	}
	if len(unknown) > 0 {
		noun := "column"
		if len(unknown) > 1 {
			noun = "columns"
		}
		return nil, inputErrorf("unknown %s %s in the header (known: %s)",
			noun, strings.Join(unknown, ", "), strings.Join(csvColumns(), ", "))
	}
	return cols, checkColumnSet(cols)
}

// checkColumnSet rejects duplicate columns (which value would win is a
// guess), headers that cannot identify a payment, and a file without an
// amount column, which would make every row a full refund nobody wrote.
func checkColumnSet(cols []string) error {
	seen := make(map[string]bool, len(cols))
	for _, c := range cols {
		if seen[c] {
			return inputErrorf("duplicate column %q in the header", c)
		}
		seen[c] = true
	}
	if !seen["order_id"] && !seen["transaction_id"] {
		return inputErrorf("the header needs an order_id or a transaction_id column")
	}
	if !seen["amount"] {
		return inputErrorf("the header needs an amount column: write each refund's amount, such as 10.50, or full for a full refund")
	}
	return nil
}

// sniffDelimiter looks at the first non-blank line without consuming it
// and picks ';' when it separates more header cells than ',' does.
// Column names never contain either, so the header is an unambiguous
// sample.
func sniffDelimiter(br *bufio.Reader) (byte, error) {
	b, err := br.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return 0, fmt.Errorf("intake: read the header: %w", err)
	}
	if len(b) == sniffSize && !bytes.Contains(b, []byte{'\n'}) {
		return 0, inputErrorf("the first line is longer than %d bytes: this is not a CSV file with a header row", sniffSize)
	}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(bytes.TrimFunc(line, isBlank)) > 0 {
			return pickDelimiter(line), nil
		}
	}
	return ',', nil
}

func pickDelimiter(line []byte) byte {
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
