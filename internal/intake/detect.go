package intake

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"unicode/utf8"
)

// Format is the syntax of a bulk file.
type Format int

// The zero Format is deliberately not a format: Check detects it.
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

// sniffSize is how much of the input is looked at before reading it: to
// tell the format, to refuse binary data at once, and to find the end of
// a CSV header. A header longer than this is not a refund file.
const sniffSize = 64 << 10

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

// magic are the first bytes of files people export by mistake instead
// of CSV text.
var magic = []struct{ prefix, what string }{
	{"PK\x03\x04", "a zip archive, such as an Excel workbook (.xlsx): export it as \"CSV UTF-8\""},
	{"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls): export it as \"CSV UTF-8\""},
	{"\x1f\x8b", "gzip-compressed: decompress it first"},
	{"%PDF", "a PDF document"},
	{"\xff\xfe", "UTF-16 text: save it as UTF-8 (\"CSV UTF-8\" in Excel)"},
	{"\xfe\xff", "UTF-16 text: save it as UTF-8 (\"CSV UTF-8\" in Excel)"},
}

// checkText refuses input that is not text, from its first bytes, before
// a single row is read: /dev/zero, /dev/urandom, a workbook or an archive
// would otherwise be read to the end (or forever) as one endless bad row.
func checkText(peek []byte) error {
	for _, m := range magic {
		if bytes.HasPrefix(peek, []byte(m.prefix)) {
			return inputErrorf("this is not a CSV or JSONL file: it is %s", m.what)
		}
	}
	if i := bytes.IndexByte(peek, 0); i >= 0 {
		return inputErrorf("this is not a text file: it has a NUL byte at offset %d (binary data, or a device such as /dev/zero)", i)
	}
	line := peek
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	if !utf8.Valid(trimPartialRune(line)) {
		return inputErrorf("the first line is not UTF-8 text (binary data, or another encoding): save the file as UTF-8")
	}
	return nil
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b, where
// a peek may have cut a character in two.
func trimPartialRune(b []byte) []byte {
	for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			break
		}
	}
	return b
}
