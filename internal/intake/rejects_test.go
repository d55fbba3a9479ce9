package intake

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"

	"github.com/refundq/refundq/producer"
)

func TestSafeCell(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, Возврат":       "plain text, Возврат",
		"=HYPERLINK(\"http://x\")":  "'=HYPERLINK(\"http://x\")",
		"+1+1":                      "'+1+1",
		"-5,A1":                     "'-5,A1",
		"@SUM(A1)":                  "'@SUM(A1)",
		"\t=1":                      `\t=1`,
		"a\x00b":                    `a\x00b`,
		"\x1b[31mred\x1b[0m":        `\x1b[31mred\x1b[0m`,
		"bad \xff\xfe bytes":        `bad \xff\xfe bytes`,
		"back\\slash":               `back\\slash`,
		"two\nlines\r\n":            `two\nlines\r\n`,
		"bidi \u202egnp.exe":        `bidi \u202egnp.exe`,
		"zero\u200bwidth \ufeffbom": `zero\u200bwidth \ufeffbom`,
		"nbsp\u00a0x":               `nbsp\xa0x`,
		"del\x7f c1\u0085":          `del\x7f c1\x85`,
		"tag \U000E0041":            `tag \U000e0041`,
		"":                          "",
	} {
		if got := SafeCell(in); got != want {
			t.Errorf("SafeCell(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRejectsWriter(t *testing.T) {
	var buf bytes.Buffer
	rw, err := NewRejectsWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []producer.RowError{
		{Line: 3, Field: "amount", Reason: "must be greater than 0", Raw: "A1,0"},
		{Line: 5, Field: "row", Reason: "has 3 fields, the header has 2", Raw: "\"A,2\",1\nx"},
		{Line: 7, Field: "amount", Reason: "is blank", Raw: "=cmd|'/c calc'!A0,\x00"},
	} {
		if err := rw.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "line,field,reason,raw\n" +
		"3,amount,must be greater than 0,\"A1,0\"\n" +
		"5,row,\"has 3 fields, the header has 2\",\"\"\"A,2\"\",1\\nx\"\n" +
		"7,amount,is blank,\"'=cmd|'/c calc'!A0,\\x00\"\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
	if _, err := csv.NewReader(strings.NewReader(buf.String())).ReadAll(); err != nil {
		t.Errorf("the rejects file is not CSV: %v", err)
	}
}

var errFull = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errFull }

func TestRejectsWriterReportsWriteErrors(t *testing.T) {
	rw, err := NewRejectsWriter(failingWriter{})
	if err == nil {
		err = rw.Flush()
	}
	if !errors.Is(err, errFull) {
		t.Errorf("err = %v", err)
	}
}

// A huge row's text is cut, with its size, in every problem it has.
func TestRejectsWriterCutsHugeRows(t *testing.T) {
	var b strings.Builder
	rw, err := NewRejectsWriter(&b)
	if err != nil {
		t.Fatal(err)
	}
	huge := strings.Repeat("x", 50<<10)
	for _, f := range []string{"amount", "order_id"} {
		if err := rw.Write(producer.RowError{Line: 2, Field: f, Reason: "bad", Raw: huge}); err != nil {
			t.Fatal(err)
		}
	}
	if err := rw.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := b.Len(); n > 3*maxRawShown || !strings.Contains(b.String(), "... (51200 bytes)") {
		t.Fatalf("rejects of %d bytes for two problems of a 50 KiB row", n)
	}
}
