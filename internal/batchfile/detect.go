package batchfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// Format is the syntax of a bulk file.
type Format int

// The zero Format is deliberately not a format, so a caller that forgot to
// call Detect gets an error from New instead of silently parsing CSV.
const (
	CSV Format = iota + 1
	JSONL
)

func (f Format) String() string {
	switch f {
	case CSV:
		return "csv"
	case JSONL:
		return "jsonl"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// bom is the UTF-8 byte order mark Excel and Notepad put in front of files.
const bom = "\xef\xbb\xbf"

// Detect guesses the format of a file from its name and, when the extension
// says nothing, from its first bytes: a JSONL file starts with '{' and a
// CSV header never does. A .json file is read as JSONL, one object a line.
func Detect(name string, peek []byte) Format {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return CSV
	case ".jsonl", ".ndjson", ".json":
		return JSONL
	}
	peek = bytes.TrimLeft(bytes.TrimPrefix(peek, []byte(bom)), " \t\r\n")
	if len(peek) > 0 && peek[0] == '{' {
		return JSONL
	}
	return CSV
}

// New returns the Reader for format f, so callers that Detect need not
// switch on the format themselves.
func New(f Format, r io.Reader) (Reader, error) {
	switch f {
	case CSV:
		return NewCSV(r)
	case JSONL:
		return NewJSONL(r), nil
	}
	return nil, fmt.Errorf("batchfile: unknown format %v", f)
}

// skipBOM drops a leading byte order mark; it is not part of the first
// column name or the first JSON object.
func skipBOM(br *bufio.Reader) error {
	b, err := br.Peek(len(bom))
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("batchfile: read: %w", err)
	}
	if string(b) == bom {
		_, _ = br.Discard(len(bom))
	}
	return nil
}
