package intake

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/refundq/refundq/producer"
)

// RejectsWriter writes rejected rows as CSV with a line,field,reason,raw
// header, one row per problem, as they are found: a merchant can fix a
// file by walking it top to bottom, and a file of millions of bad rows
// costs no memory.
//
// The file is made to be opened in a spreadsheet, so every cell is made
// safe (see SafeCell): a hostile file cannot smuggle control characters,
// terminal escapes, invalid UTF-8 or formulas into it.
type RejectsWriter struct {
	cw *csv.Writer
	n  int
}

// maxRawShown bounds the raw text written with one problem: a huge
// record (an unclosed quote swallows the lines after it) with many
// problems would otherwise be written whole once per problem.
const maxRawShown = 1024

// NewRejectsWriter writes the header to w.
func NewRejectsWriter(w io.Writer) (*RejectsWriter, error) {
	rw := &RejectsWriter{cw: csv.NewWriter(w)}
	if err := rw.cw.Write([]string{"line", "field", "reason", "raw"}); err != nil {
		return nil, fmt.Errorf("intake: write rejects: %w", err)
	}
	return rw, nil
}

// Write adds one problem.
func (rw *RejectsWriter) Write(e producer.RowError) error {
	rw.n++
	raw := e.Raw
	if len(raw) > maxRawShown {
		raw = strings.ToValidUTF8(raw[:maxRawShown], "") + fmt.Sprintf("... (%d bytes)", len(e.Raw))
	}
	err := rw.cw.Write([]string{strconv.Itoa(e.Line), SafeCell(e.Field), SafeCell(e.Reason), SafeCell(raw)})
	if err == nil && rw.n%256 == 0 {
		rw.cw.Flush()
		err = rw.cw.Error()
	}
	if err != nil {
		return fmt.Errorf("intake: write rejects: %w", err)
	}
	return nil
}

// Flush writes out what is buffered.
func (rw *RejectsWriter) Flush() error {
	rw.cw.Flush()
	if err := rw.cw.Error(); err != nil {
		return fmt.Errorf("intake: write rejects: %w", err)
	}
	return nil
}

// SafeCell makes text safe for a spreadsheet cell and a terminal:
//   - a backslash becomes \\, and a byte that is not valid UTF-8 becomes
//     \xNN, so the text can still be read back exactly;
//   - newlines, tabs and every other control or invisible formatting
//     character (NUL, ESC, DEL, the C1 controls, bidirectional overrides,
//     zero-width spaces, the BOM) become \n, \t, \xNN, \uNNNN or
//     \UNNNNNNNN;
//   - a cell that would start with = + - or @, which Excel, LibreOffice
//     and Google Sheets run as a formula, gets a leading apostrophe, which
//     they show as text.
func SafeCell(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x100 && !unicode.IsPrint(r) && r != ' ':
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xffff && !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		case !unicode.IsPrint(r):
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	out := b.String()
	if out != "" && strings.ContainsRune("=+-@", rune(out[0])) {
		out = "'" + out
	}
	return out
}
