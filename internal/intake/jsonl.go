package intake

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"
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
	buf  []byte
	err  error
}

func newJSONL(br *bufio.Reader) Reader { return &jsonlReader{br: br} }

// Next returns the next non-blank line as a Row.
func (j *jsonlReader) Next() (Row, error) {
	for j.err == nil {
		b, tooLong, err := j.readLine()
		if err != nil {
			j.err = err
			break
		}
		j.line++
		// A BOM can start any line of files joined with cat.
		b = bytes.TrimFunc(bytes.TrimPrefix(b, []byte(bom)), isBlank)
		if tooLong || len(b) > 0 {
			return j.row(b, tooLong), nil
		}
	}
	return Row{}, j.err
}

func (j *jsonlReader) row(b []byte, tooLong bool) Row {
	row := Row{Line: j.line, Raw: rawString(b)}
	if tooLong {
		row.Problem = problem("json", fmt.Sprintf("the line is longer than the %d byte limit", maxLine))
		return row
	}
	req, fields, err := DecodeJSON(b, Line)
	if err != nil {
		row.Problem = problem("json", err.Error())
		return row
	}
	row.Request, row.Fields = req, fields
	return row
}

// readLine returns the next line without its line ending, or io.EOF when
// there are no more. A line over maxLine is drained without being kept and
// reported as tooLong with only a prefix, for Raw.
func (j *jsonlReader) readLine() (line []byte, tooLong bool, err error) {
	j.buf = j.buf[:0]
	for {
		chunk, err := j.br.ReadSlice('\n')
		if !tooLong {
			j.buf = append(j.buf, chunk...)
			if len(j.buf) > maxLine+len("\r\n") {
				j.buf, tooLong = j.buf[:maxRaw+utf8.UTFMax], true
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && (len(j.buf) > 0 || tooLong):
		case errors.Is(err, io.EOF):
			return nil, false, io.EOF
		case err != nil:
			return nil, false, fmt.Errorf("intake: read line %d: %w", j.line+1, err)
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(j.buf, []byte("\n")), []byte("\r"))
		return line, tooLong || len(line) > maxLine, nil
	}
}
