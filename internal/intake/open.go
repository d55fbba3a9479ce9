package intake

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
)

// Source is content to import. Open starts one pass over it; a batch is
// read more than once (see Check), so every pass must yield the same
// bytes.
type Source interface {
	Open(ctx context.Context) (io.ReadCloser, error)
}

// Bytes is content held in memory, such as an HTTP request body.
type Bytes []byte

// Open reads b from the start.
func (b Bytes) Open(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(b)), nil
}

// ctxReader stops reading once ctx ends, so an endless input (a pipe
// that never closes, a device) cannot outlive Ctrl-C.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// newReader looks at the start of r, refuses what is not text, tells the
// format when f is zero, and returns the Reader for it.
func newReader(ctx context.Context, r io.Reader, f Format, name string) (Reader, Format, error) {
	br := bufio.NewReaderSize(ctxReader{ctx, r}, 4*sniffSize)
	peek, err := br.Peek(sniffSize)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, f, fmt.Errorf("intake: read: %w", err)
	}
	if err := checkText(peek); err != nil {
		return nil, f, err
	}
	// A leading byte order mark is not part of the first column name or
	// the first JSON object.
	if bytes.HasPrefix(peek, []byte(bom)) {
		_, _ = br.Discard(len(bom))
		peek = peek[len(bom):]
	}
	if f == 0 {
		f = Detect(name, peek)
	}
	switch f {
	case CSV:
		rd, err := newCSV(br)
		return rd, f, err
	case JSONL:
		return newJSONL(br), f, nil
	}
	return nil, f, fmt.Errorf("intake: unknown format %v", f)
}
