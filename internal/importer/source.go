package importer

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"

	"github.com/refundq/refundq/internal/batchfile"
	"github.com/refundq/refundq/producer"
)

// file is what one read of the whole file tells before importing it.
type file struct {
	path, name string
	format     batchfile.Format
	// batchID is derived from the content: the same bytes give the same
	// batch, whatever the file is called.
	batchID string
	// rows estimates the records from the line count, for progress.
	rows int
}

// batchIDPrefix marks ids derived from a file, telling them apart from
// ids an operator chose.
const batchIDPrefix = "file-"

func inspect(path string) (file, error) {
	fh, err := os.Open(path)
	if err != nil {
		return file{}, fmt.Errorf("importer: %w", err)
	}
	defer fh.Close()
	h := sha256.New()
	br := bufio.NewReaderSize(fh, 64<<10)
	peek, _ := br.Peek(512)
	format := batchfile.Detect(path, peek)
	lines, last := 0, byte('\n')
	buf := make([]byte, 64<<10)
	for {
		n, err := br.Read(buf)
		h.Write(buf[:n])
		lines += bytes.Count(buf[:n], []byte{'\n'})
		if n > 0 {
			last = buf[n-1]
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return file{}, fmt.Errorf("importer: read %s: %w", path, err)
		}
	}
	if last != '\n' {
		lines++
	}
	if format == batchfile.CSV && lines > 0 {
		lines-- // the header
	}
	return file{path: path, name: filepath.Base(path), format: format, rows: lines,
		batchID: batchIDPrefix + hex.EncodeToString(h.Sum(nil))[:20]}, nil
}

// source is one pass over the file.
type source struct {
	fh *os.File
	rd batchfile.Reader
	// raw keeps the text of rejected rows, by line, for the rejects file.
	raw map[int]string
}

func (f file) open() (*source, error) {
	fh, err := os.Open(f.path)
	if err != nil {
		return nil, fmt.Errorf("importer: %w", err)
	}
	rd, err := batchfile.New(f.format, bufio.NewReaderSize(fh, 256<<10))
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("importer: %s: %w", f.name, err)
	}
	return &source{fh: fh, rd: rd, raw: map[int]string{}}, nil
}

func (s *source) close() { _ = s.fh.Close() }

// rows yields the file's records. A row that cannot be read or is invalid
// goes to EnqueueBatch with its problems attached, so the batch counts it
// and it is reported in line order with the rest.
func (s *source) rows() iter.Seq2[producer.BatchRow, error] {
	return func(yield func(producer.BatchRow, error) bool) {
		for {
			row, err := s.rd.Next()
			var re *batchfile.RowError
			switch {
			case errors.Is(err, io.EOF):
				return
			case errors.As(err, &re):
				s.raw[re.Line] = re.Raw
				if !yield(rejected(re.Line, *re), nil) {
					return
				}
			case err != nil:
				yield(producer.BatchRow{}, fmt.Errorf("importer: %w", err))
				return
			default:
				if !yield(s.check(row), nil) {
					return
				}
			}
		}
	}
}

// check validates here, not only in EnqueueBatch, because only here is
// the row's text at hand for the rejects file.
func (s *source) check(row batchfile.Row) producer.BatchRow {
	errs := producer.CheckBatchRow(row.Line, row.Request)
	if errs != nil {
		s.raw[row.Line] = row.Raw
	}
	return producer.BatchRow{Line: row.Line, Refund: row.Request, Errs: errs}
}

func rejected(line int, e batchfile.RowError) producer.BatchRow {
	return producer.BatchRow{Line: line, Errs: []producer.RowError{{Line: e.Line, Field: e.Field, Reason: e.Reason}}}
}
