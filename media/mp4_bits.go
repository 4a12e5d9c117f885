package media

// bitReader reads big-endian bit fields, as codec headers are written. Reading
// past the end never panics: it yields zeros and sets overrun, which every
// parser checks before trusting what it read.
type bitReader struct {
	data    []byte
	pos     int // bit position
	overrun bool
}

func newBitReader(data []byte) *bitReader { return &bitReader{data: data} }

// left is the number of unread bits (negative after an overrun).
func (b *bitReader) left() int {
	if b.overrun {
		return -1
	}
	return len(b.data)*8 - b.pos
}

// u reads n ≤ 64 bits.
func (b *bitReader) u(n int) uint64 {
	if n <= 0 {
		return 0
	}
	if b.overrun || n > 64 || b.pos+n > len(b.data)*8 {
		b.overrun = true
		b.pos = len(b.data) * 8
		return 0
	}
	var v uint64
	for i := 0; i < n; i++ {
		byteIndex := (b.pos + i) >> 3
		bit := (b.data[byteIndex] >> (7 - uint((b.pos+i)&7))) & 1
		v = v<<1 | uint64(bit)
	}
	b.pos += n
	return v
}

// show reads n bits without consuming them.
func (b *bitReader) show(n int) uint64 {
	saved, savedOverrun := b.pos, b.overrun
	v := b.u(n)
	b.pos, b.overrun = saved, savedOverrun
	return v
}

func (b *bitReader) flag() bool { return b.u(1) == 1 }

func (b *bitReader) skip(n int) {
	if n < 0 || b.overrun || b.pos+n > len(b.data)*8 {
		b.overrun = true
		b.pos = len(b.data) * 8
		return
	}
	b.pos += n
}

// ue reads an unsigned Exp-Golomb code of at most 32 significant bits.
func (b *bitReader) ue() uint32 {
	zeros := 0
	for {
		if b.overrun {
			return 0
		}
		if b.u(1) == 1 {
			break
		}
		zeros++
		if zeros > 31 {
			b.overrun = true
			return 0
		}
	}
	if zeros == 0 {
		return 0
	}
	return uint32((uint64(1)<<uint(zeros) - 1) + b.u(zeros))
}

// se reads a signed Exp-Golomb code.
func (b *bitReader) se() int64 {
	k := int64(b.ue())
	if k&1 == 1 {
		return (k + 1) / 2
	}
	return -k / 2
}

// unescapeRBSP removes the emulation prevention bytes (00 00 03) of an
// H.264/HEVC NAL unit payload.
func unescapeRBSP(nal []byte) []byte {
	out := make([]byte, 0, len(nal))
	zeros := 0
	for _, c := range nal {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}
