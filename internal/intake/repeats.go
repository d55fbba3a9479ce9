package intake

import (
	"hash/maphash"
	"math/bits"
)

// repeats finds, in one pass and in little memory, the request_ids that
// may occur more than once in a batch, so the pass that enqueues needs to
// remember only those (producer.RepeatsOnly). A Bloom filter answers
// "seen before?" with no false negatives; every id it says yes to is kept
// exactly. The ids kept are the true repeats plus a few false positives,
// so memory is the filter's fixed size plus about 100 bytes per repeated
// id, however many rows the batch has.
type repeats struct {
	seed    maphash.Seed
	filters []*bloom
	maybe   map[string]struct{}
}

// Filter sizes: a filter holds an id per 10 bits, a false positive rate
// near 1%; past that another one is added, so a file of any size keeps
// that rate.
const (
	minBloomBits = 1 << 16
	maxBloomBits = 1 << 27 // 16 MiB
	bloomHashes  = 7
)

// newRepeats sizes the first filter from the input's size, at most a bit
// per byte (a row is at least 10 bytes), so a small upload costs little:
// the filter holds at most an eighth of the input's size in memory.
func newRepeats(sizeHint int64) *repeats {
	n := uint64(maxBloomBits)
	if sizeHint > 0 {
		n = min(max(uint64(1)<<(bits.Len64(uint64(sizeHint))-1), minBloomBits), maxBloomBits)
	}
	return &repeats{seed: maphash.MakeSeed(), filters: []*bloom{newBloom(n)}, maybe: map[string]struct{}{}}
}

// add records id; ids seen before, or seemingly so, are kept.
func (r *repeats) add(id string) {
	h := maphash.String(r.seed, id)
	for _, f := range r.filters {
		if f.has(h) {
			r.maybe[id] = struct{}{}
			return
		}
	}
	f := r.filters[len(r.filters)-1]
	if f.n >= f.capacity() {
		f = newBloom(maxBloomBits)
		r.filters = append(r.filters, f)
	}
	f.add(h)
}

// may reports whether id may repeat; false is certain.
func (r *repeats) may(id string) bool {
	_, ok := r.maybe[id]
	return ok
}

type bloom struct {
	bits []uint64
	mask uint64
	n    uint64
}

func newBloom(nbits uint64) *bloom {
	return &bloom{bits: make([]uint64, nbits/64), mask: nbits - 1}
}

func (b *bloom) capacity() uint64 { return (b.mask + 1) / 10 }

// Positions come from one 64-bit hash by double hashing
// (Kirsch-Mitzenmacher): h1 + i*h2.
func (b *bloom) add(h uint64) {
	h1, h2 := h, h>>32|1
	for i := range uint64(bloomHashes) {
		p := (h1 + i*h2) & b.mask
		b.bits[p/64] |= 1 << (p % 64)
	}
	b.n++
}

func (b *bloom) has(h uint64) bool {
	h1, h2 := h, h>>32|1
	for i := range uint64(bloomHashes) {
		p := (h1 + i*h2) & b.mask
		if b.bits[p/64]&(1<<(p%64)) == 0 {
			return false
		}
	}
	return true
}
