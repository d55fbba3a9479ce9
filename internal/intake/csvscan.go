package intake

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxRecord bounds one CSV record, as maxLine bounds a JSONL line: a
// refund is a few hundred bytes, and an unclosed quote must not turn the
// rest of a large file into one record held in memory.
const maxRecord = 1 << 20

// resyncBudget bounds how much input may be read twice after unclosed
// quotes (see csvScanner.resync), so a file built to trigger resyncs
// cannot make reading quadratic.
const resyncBudget = 64 << 20

// csvScanner splits CSV text into records (RFC 4180, as encoding/csv
// reads it: quoted fields may hold the delimiter, "" and newlines; a
// quoted CRLF reads as LF; a quote inside an unquoted field or text after
// a closing quote is an error). Unlike encoding/csv it bounds a record's
// size and recovers from an unclosed quote, and it keeps each record's
// text for the rejects file.
type csvScanner struct {
	br *bufio.Reader
	// pending is input to read again before br, after a resync.
	pending []byte
	comma   byte
	line    int // physical lines consumed
	budget  int
	buf     []byte
	err     error
	// width is the fields a record is expected to have, to size them.
	width int
}

func newCSVScanner(br *bufio.Reader, comma byte) *csvScanner {
	return &csvScanner{br: br, comma: comma, budget: resyncBudget}
}

// record is one CSV record: its fields, or the problem that stopped it.
type record struct {
	line, last int // first and last physical line
	fields     []string
	raw        []byte
	problem    string
}

// next returns the next record, io.EOF after the last, or a read error.
func (s *csvScanner) next() (record, error) {
	if s.err != nil {
		return record{}, s.err
	}
	var rec record
	p := csvParser{comma: s.comma, fields: make([]string, 0, s.width)}
	for {
		line, long, err := s.readLine()
		if errors.Is(err, io.EOF) {
			if rec.line == 0 {
				s.err = io.EOF
				return rec, io.EOF
			}
			s.atEOF(&rec, &p)
			return rec, nil
		}
		if err != nil {
			s.err = fmt.Errorf("intake: read line %d: %w", s.line+1, err)
			return record{}, s.err
		}
		s.line++
		if rec.line == 0 {
			rec.line = s.line
		}
		rec.last = s.line
		rec.raw = append(rec.raw, line...)
		if long {
			rec.problem = fmt.Sprintf("line %d is longer than the %d byte limit", s.line, maxRecord)
			return rec, nil
		}
		if p.feed(line) {
			rec.fields, rec.problem = p.fields, p.problem
			return rec, nil
		}
		if len(rec.raw) > maxRecord {
			s.resync(&rec, fmt.Sprintf("the record is longer than the %d byte limit: the quote opened on line %d is probably never closed", maxRecord, rec.line))
			return rec, nil
		}
	}
}

// atEOF ends the record the input ended in.
func (s *csvScanner) atEOF(rec *record, p *csvParser) {
	if p.st == inQuotes {
		s.resync(rec, fmt.Sprintf("the quote opened on line %d is never closed", rec.line))
		return
	}
	p.endField()
	rec.fields, rec.problem = p.fields, p.problem
}

// resync rejects a record whose quote never closes, keeping only its
// first line, and reads the lines after that line again as records of
// their own. The quote is most likely a stray character: swallowing the
// rest of the file into one rejected record would lose every row after
// it. Once the budget is spent, reading goes on where the record stopped.
func (s *csvScanner) resync(rec *record, why string) {
	rec.problem = why
	i := bytes.IndexByte(rec.raw, '\n')
	if i < 0 || len(rec.raw)-i-1 > s.budget {
		return
	}
	rest := rec.raw[i+1:]
	s.budget -= len(rest)
	s.pending = append(append([]byte(nil), rest...), s.pending...)
	s.line = rec.line
	rec.raw, rec.last = rec.raw[:i+1], rec.line
}

// readLine returns the next physical line with its "\n" (absent at the
// end of the input). A line longer than maxRecord is read to its end but
// only its start is kept, and long is set. The result is valid until the
// next call.
func (s *csvScanner) readLine() (line []byte, long bool, err error) {
	if len(s.pending) > 0 {
		i := bytes.IndexByte(s.pending, '\n') + 1
		if i == 0 {
			i = len(s.pending)
		}
		line, s.pending = s.pending[:i], s.pending[i:]
		return line, false, nil
	}
	s.buf = s.buf[:0]
	for {
		chunk, err := s.br.ReadSlice('\n')
		if !long {
			s.buf = append(s.buf, chunk...)
			if len(s.buf) > maxRecord {
				s.buf, long = s.buf[:maxRaw], true
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && (len(s.buf) > 0 || long):
			return s.buf, long, nil
		case err != nil:
			return nil, false, err
		}
		return s.buf, long, nil
	}
}

// csvParser is the state of one record across its physical lines.
type csvParser struct {
	comma   byte
	st      parseState
	field   []byte
	fields  []string
	problem string
}

type parseState int

const (
	fieldStart parseState = iota
	unquoted
	inQuotes
	quoteSeen // a quote inside a quoted field: the end, or the first of ""
)

// feed reads one physical line and reports whether the record ended on it.
// A syntax error ends the record with the rest of its line.
func (p *csvParser) feed(line []byte) bool {
	for i := 0; i < len(line); i++ {
		c := line[i]
		crlf := c == '\r' && i+1 < len(line) && line[i+1] == '\n'
		if p.st != inQuotes { // outside quotes, a delimiter or a line end ends a field
			switch {
			case c == p.comma:
				p.endField()
				continue
			case c == '\n' || crlf:
				p.endField()
				return true
			}
		}
		switch p.st {
		case fieldStart:
			if c == '"' {
				p.st = inQuotes
				continue
			}
			p.field, p.st = append(p.field, c), unquoted
		case unquoted:
			if c == '"' {
				p.problem = `a quote appears inside a field that does not start with one: quote the whole field and double the quotes inside it`
				return true
			}
			p.field = append(p.field, c)
		case inQuotes:
			switch {
			case c == '"':
				p.st = quoteSeen
			case crlf: // encoding/csv reads a quoted CRLF as LF
				p.field = append(p.field, '\n')
				i++
			default:
				p.field = append(p.field, c)
			}
		case quoteSeen:
			if c != '"' {
				p.problem = `text follows the closing quote of a field: put the whole field in quotes and double the quotes inside it`
				return true
			}
			p.field, p.st = append(p.field, '"'), inQuotes
		}
	}
	return false
}

func (p *csvParser) endField() {
	p.fields = append(p.fields, string(p.field))
	p.field, p.st = p.field[:0], fieldStart
}
