package intake

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"

	"github.com/refundq/refundq/producer"
)

// digest derives a batch id from what a file says, not from its bytes:
// each row contributes the hash of its canonical form (producer.
// CanonicalRow), so line endings, a BOM, quoting, column order, blank
// lines, the delimiter, the format (CSV or JSONL) and spaces around values
// do not change it. The hashes are added up, so sorting the rows does not
// change it either. A CSV record that is not a refund contributes its
// values, and one that cannot be split into values at all its text.
// The API and the CLI both derive batch ids here, so the same content gets
// the same id through either.
type digest struct {
	sum  [4]uint64
	rows int
}

func (d *digest) add(row Row) {
	var text string
	switch {
	case row.Problem == nil:
		text = producer.CanonicalRow(producer.Refund(row.Request))
	case row.cells != nil: // split into values, but not a refund: its values, in any order or case
		cells := make([]string, len(row.cells))
		for i, c := range row.cells {
			cells[i] = strings.ToLower(trim(c))
		}
		slices.Sort(cells)
		text = "cells\x00" + strings.Join(cells, "\x00")
	default:
		text = "raw\x00" + strings.TrimSpace(strings.ReplaceAll(row.Raw, "\r", ""))
	}
	h := sha256.Sum256([]byte(text))
	for i := range d.sum {
		d.sum[i] += binary.BigEndian.Uint64(h[8*i:])
	}
	d.rows++
}

// batchIDPrefix marks ids derived from content, telling them apart from
// ids someone chose.
const batchIDPrefix = "batch-"

func (d *digest) batchID() string {
	h := sha256.New()
	h.Write([]byte("refundq batch v1\x00" + strconv.Itoa(d.rows)))
	var b [8]byte
	for _, v := range d.sum {
		binary.BigEndian.PutUint64(b[:], v)
		h.Write(b[:])
	}
	return batchIDPrefix + hex.EncodeToString(h.Sum(nil))[:32]
}
