package media

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
)

// This file reads the facts of MP4, MOV, M4A and 3GP files (ISO base media
// and QuickTime files) natively, so that the engine does not start ffprobe
// (tens of milliseconds, mostly process start-up) for the files it writes
// most often.
//
// The reader is an emulation of what ffprobe (FFmpeg 5.1's mov demuxer and
// decoders, followed by describe) would report, not an independent
// interpretation of the format. It reads only the boxes that decide the
// facts, streams the sample tables, and reads a few bytes of the first
// samples to check them against the codec configuration. Whenever the file
// holds something whose effect on ffprobe's output it does not reproduce
// exactly (a codec or profile it does not know, fragments, encryption,
// several sample descriptions, an unusual edit list, a box FFmpeg would
// reject or treat specially, ...) it gives up and Probe runs ffprobe. It
// never guesses.
//
// The reader is bounded on hostile input: the moov box may not exceed
// maxMoovSize and is read through a small buffer, sample tables are
// streamed, counts of boxes, tracks and samples are capped, and only small
// boxes are held in memory.

const (
	maxMoovSize        = 64 << 20
	maxTopLevelBoxes   = 1024
	maxMoovBoxes       = 1 << 16
	maxTracks          = 64
	maxSamplesPerTrack = 10_000_000
	maxTableEntries    = maxSamplesPerTrack
	maxSampleEntrySize = 256 << 10
	maxSmallBoxSize    = 64 << 10
	maxFirstSampleRead = 64 << 10
	// sampleScanCount is how many samples of an H.264/HEVC track are
	// checked for in-band parameter sets: FFmpeg decodes up to about twenty
	// frames while it probes.
	sampleScanCount = 32
	storedEntries   = 64
)

// errNotSure means the native reader cannot vouch for the facts; ffprobe
// decides.
var errNotSure = errors.New("media: native mp4 reader is not sure")

func bt(s string) uint32 { return binary.BigEndian.Uint32([]byte(s)) }

var (
	tFtyp = bt("ftyp")
	tMoov = bt("moov")
	tMdat = bt("mdat")
	tFree = bt("free")
	tSkip = bt("skip")
	tWide = bt("wide")
	tUUID = bt("uuid")
	tMvhd = bt("mvhd")
	tTrak = bt("trak")
	tTkhd = bt("tkhd")
	tEdts = bt("edts")
	tElst = bt("elst")
	tMdia = bt("mdia")
	tMdhd = bt("mdhd")
	tHdlr = bt("hdlr")
	tMinf = bt("minf")
	tDinf = bt("dinf")
	tDref = bt("dref")
	tStbl = bt("stbl")
	tStsd = bt("stsd")
	tStts = bt("stts")
	tStss = bt("stss")
	tCtts = bt("ctts")
	tStsc = bt("stsc")
	tStsz = bt("stsz")
	tStz2 = bt("stz2")
	tStco = bt("stco")
	tCo64 = bt("co64")
	tSdtp = bt("sdtp")
	tSgpd = bt("sgpd")
	tSbgp = bt("sbgp")
	tTref = bt("tref")
	tChap = bt("chap")
	tTmcd = bt("tmcd")
	tUdta = bt("udta")
	tMeta = bt("meta")
	tIlst = bt("ilst")
	tChpl = bt("chpl")
	tCust = bt("----")
	tWave = bt("wave")
	tFrma = bt("frma")
	tEsds = bt("esds")
	tChan = bt("chan")
	tColr = bt("colr")
	tPasp = bt("pasp")
	tFiel = bt("fiel")
	tAvcC = bt("avcC")
	tHvcC = bt("hvcC")
	tAv1C = bt("av1C")
	tVpcC = bt("vpcC")
	tDOps = bt("dOps")
	tDfLa = bt("dfLa")
	tAlac = bt("alac")
	tDac3 = bt("dac3")
	tDec3 = bt("dec3")

	// Handler types.
	hVide = bt("vide")
	hSoun = bt("soun")
	hSubp = bt("subp")
	hClcp = bt("clcp")
	hM1a  = bt("m1a ")

	// Sample entry formats.
	fAvc1 = bt("avc1")
	fAvc3 = bt("avc3")
	fHvc1 = bt("hvc1")
	fHev1 = bt("hev1")
	fAv01 = bt("av01")
	fVp09 = bt("vp09")
	fMp4v = bt("mp4v")
	fJpeg = bt("jpeg")
	fMjpa = bt("mjpa")
	fPng  = bt("png ")
	fMp4a = bt("mp4a")
	fOpus = bt("Opus")
	fFLAC = bt("fLaC")
	fAlac = bt("alac")
	fAC3  = bt("ac-3")
	fEAC3 = bt("ec-3")
)

// ffmpegBoxes are the box types FFmpeg's mov demuxer (5.1 and later) acts
// on wherever it meets them. One of them in a place the reader does not
// model means the file is left to ffprobe.
var ffmpegBoxes = func() map[uint32]bool {
	m := map[uint32]bool{}
	for _, name := range strings.Split("ACLR APRG AALP ARES avss av1C chpl co64 colr ctts dinf DpxE dref edts elst enda "+
		"fiel adrm ftyp glbl hdlr ilst jp2h mdat mdhd mdia meta minf moof moov mvex mvhd SMI  alac avcC pasp sidx "+
		"stbl stco stps strf stsc stsd stss stsz stts stz2 sdtp tkhd tfdt tfhd trak traf tref tmcd chap trex trun "+
		"udta wave esds dac3 dec3 ddts wide wfex cmov chan chnl dvc1 sgpd sbgp hvcC vvcC uuid free ---- sinf frma "+
		"senc saiz saio pssh schm schi tenc dfLa st3d sv3d dOps dmlp SmDm CoLL vpcC mdcv clli dvcC dvvC dvwC kind "+
		"SA3D SAND iloc pcmC pitm evcC iref ispe iprp iinf hoov keys", " ") {
		if len(name) == 4 {
			m[bt(name)] = true
		}
	}
	m[bt("SMI ")] = true
	return m
}()

// harmlessDataFormats are sample entry formats of non-audio, non-video
// tracks that FFmpeg maps to neither an audio nor a video codec.
var harmlessDataFormats = func() map[uint32]bool {
	m := map[uint32]bool{}
	for _, name := range []string{"text", "tx3g", "tmcd", "c608", "wvtt", "stpp", "mp4s", "gpmd", "mett", "metx", "mebx", "rtp "} {
		m[bt(name)] = true
	}
	return m
}()

type mediaType int

const (
	mediaData mediaType = iota
	mediaVideo
	mediaAudio
	mediaSubtitle
)

// colourInfo is what a colr box tells the decoder.
type colourInfo struct {
	matrix    int // 2 = unspecified
	fullRange bool
}

type elstEntry struct {
	duration  uint64
	mediaTime int64
	rate      uint32
}

type stscEntry struct{ first, count, id uint32 }

// mp4Track is what the reader keeps of one trak box.
type mp4Track struct {
	id             uint32
	tkhdSeen       bool
	enabled        bool
	matrix         [9]int32
	mediaType      mediaType
	mdiaSeen       bool
	mdhdSeen       bool
	timescale      uint32
	mdhdDuration   uint64
	stblSeen       bool
	stsdSeen       bool
	stsdVersion    byte
	stsdType       mediaType // media type when the sample description was read
	entry          []byte    // the one sample description
	elstSeen       bool
	elst           []elstEntry
	sttsSeen       bool
	sttsEntries    uint32
	sttsSamples    uint64
	sttsDuration   uint64
	firstDurations []uint32
	stszSeen       bool
	sampleCount    uint32
	constantSize   uint32
	dataSize       uint64
	firstSizes     []uint32
	stscSeen       bool
	stscEntries    uint32
	stscSamples    uint64 // samples in the chunks before the last entry
	stscLast       stscEntry
	stscFirst      []stscEntry
	stcoSeen       bool
	chunkCount     uint32
	chunkOffsets   []int64
	stssSeen       bool
	cttsSeen       bool
}

type mp4Parser struct {
	file  io.ReaderAt
	size  int64
	r     *bufio.Reader
	pos   int64
	boxes int

	hasFtyp      bool
	majorBrand   string
	isom         bool
	qtCompatible bool

	mvhdSeen      bool
	timescale     uint32
	duration      uint64
	tracks        []*mp4Track
	trak          *mp4Track
	chapterTracks []uint32

	cacheOffset int64
	cache       []byte
	tableBuf    []byte
}

// movProbeSize is the probe buffer FFmpeg first tries: mov_probe scoring
// the maximum on it settles the demuxer.
const movProbeSize = 2048

// movProbeScore is FFmpeg's mov_probe on the start of a file. Only a file
// it scores AVPROBE_SCORE_MAX (100) is surely opened by the mov demuxer.
func movProbeScore(buf []byte) int {
	score, moovOffset := 0, -1
	offset := 0
	for offset+8 <= len(buf) {
		size := int64(binary.BigEndian.Uint32(buf[offset:]))
		minSize := int64(8)
		if size == 1 && offset+16 <= len(buf) {
			size, minSize = int64(binary.BigEndian.Uint64(buf[offset+8:])), 16
		} else if size == 0 {
			size = int64(len(buf) - offset)
		}
		if size < minSize {
			offset += 4
			continue
		}
		switch tag := string(buf[offset+4 : offset+8]); tag {
		case "moov", "mdat", "pnot", "udta", "ftyp":
			if tag == "moov" {
				moovOffset = offset + 4
			}
			if tag == "ftyp" && offset+12 <= len(buf) {
				switch string(buf[offset+8 : offset+12]) {
				case "jp2 ", "jpx ", "jxl ":
					score = max(score, 5)
					goto next
				}
			}
			score = 100
		case "ediw", "wide", "free", "junk", "pict":
			score = max(score, 95)
		case "\x82\x82\x7f\x7d":
			score = max(score, 45)
		case "skip", "uuid", "prfl":
			score = max(score, 50)
		}
	next:
		if size > int64(len(buf)) {
			break
		}
		offset += int(size)
	}
	if score > 50 && moovOffset != -1 {
		// MPEG program streams packed in MOV are left to the mpegps demuxer.
		for offset := moovOffset; offset < len(buf)-16; offset += 2 {
			if string(buf[offset:offset+4]) == "hdlr" && string(buf[offset+8:offset+16]) == "mhlrMPEG" {
				return 5
			}
		}
	}
	return score
}

// probeMP4File reads the facts of the file at path natively; ok=false
// means ffprobe must decide.
func probeMP4File(path, name string) (Info, bool) {
	// ffprobe's image2 demuxer claims names with a sequence pattern (such
	// as "%03d") as strongly as the mov demuxer claims the content.
	if strings.ContainsAny(name, "%*?{") {
		return Info{}, false
	}
	f, err := os.Open(path)
	if err != nil {
		return Info{}, false
	}
	defer f.Close()
	stat, err := f.Stat()
	if err != nil || !stat.Mode().IsRegular() {
		return Info{}, false
	}
	info, err := readMP4(f, stat.Size(), name)
	return info, err == nil
}

// readMP4 reads the facts of the ISO base media file in r (size bytes
// long), described for fileName.
func readMP4(r io.ReaderAt, size int64, fileName string) (info Info, err error) {
	p := &mp4Parser{file: r, size: size}
	head, err := p.readAt(0, int(min(size, movProbeSize)))
	if err != nil || movProbeScore(head) != 100 {
		return Info{}, unsure()
	}
	if err := p.readTopLevel(); err != nil {
		return Info{}, err
	}
	return p.info(fileName)
}

// ---- reading primitives ----

func (p *mp4Parser) readAt(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > p.size || int64(n) > p.size-off {
		return nil, unsure()
	}
	buf := make([]byte, n)
	if _, err := p.file.ReadAt(buf, off); err != nil {
		return nil, unsure()
	}
	return buf, nil
}

// readSample returns up to n bytes at off, served from a small cache so
// that the headers of neighbouring samples cost one read. The bytes are
// valid until the next call.
func (p *mp4Parser) readSample(off int64, n int) ([]byte, error) {
	if off < 0 || n <= 0 || off >= p.size {
		return nil, unsure()
	}
	if int64(n) > p.size-off {
		n = int(p.size - off)
	}
	if off >= p.cacheOffset && off+int64(n) <= p.cacheOffset+int64(len(p.cache)) {
		start := int(off - p.cacheOffset)
		return p.cache[start : start+n], nil
	}
	window := int(min(int64(max(n, 16<<10)), p.size-off))
	if cap(p.cache) < window {
		p.cache = make([]byte, window)
	}
	p.cache = p.cache[:window]
	if _, err := p.file.ReadAt(p.cache, off); err != nil {
		p.cache = p.cache[:0]
		return nil, unsure()
	}
	p.cacheOffset = off
	return p.cache[:n], nil
}

func (p *mp4Parser) readFull(b []byte) error {
	n, err := io.ReadFull(p.r, b)
	p.pos += int64(n)
	if err != nil {
		return unsure()
	}
	return nil
}

func (p *mp4Parser) skipTo(end int64) error {
	if end < p.pos {
		return unsure()
	}
	for p.pos < end {
		n := min(end-p.pos, 1<<30)
		d, err := p.r.Discard(int(n))
		p.pos += int64(d)
		if err != nil {
			return unsure()
		}
	}
	return nil
}

// payload reads the rest of the current box, which must be at most limit
// bytes long.
func (p *mp4Parser) payload(end int64, limit int) ([]byte, error) {
	n := end - p.pos
	if n < 0 || n > int64(limit) {
		return nil, unsure()
	}
	b := make([]byte, n)
	if err := p.readFull(b); err != nil {
		return nil, err
	}
	return b, nil
}

// peek returns up to n bytes of the current box without consuming them.
func (p *mp4Parser) peek(end int64, n int) ([]byte, error) {
	n = int(min(int64(n), end-p.pos))
	if n <= 0 {
		return nil, nil
	}
	b, err := p.r.Peek(n)
	if err != nil {
		return nil, unsure()
	}
	return b, nil
}

// walk calls fn for each box between the current position and end, the way
// FFmpeg's mov_read_default iterates, except that every irregularity FFmpeg
// would paper over (a box running past its parent, a size below the header)
// makes the reader give up.
func (p *mp4Parser) walk(end int64, fn func(t uint32, end int64) error) error {
	var header [16]byte
	for {
		left := end - p.pos
		if left < 8 {
			return p.skipTo(end)
		}
		p.boxes++
		if p.boxes > maxMoovBoxes {
			return unsure()
		}
		if err := p.readFull(header[:8]); err != nil {
			return err
		}
		size := uint64(binary.BigEndian.Uint32(header[:4]))
		t := binary.BigEndian.Uint32(header[4:8])
		headerSize := uint64(8)
		switch size {
		case 1:
			if left < 16 {
				return unsure()
			}
			if err := p.readFull(header[8:16]); err != nil {
				return err
			}
			size, headerSize = binary.BigEndian.Uint64(header[8:16]), 16
		case 0:
			size = uint64(left)
		}
		if size < headerSize || size > uint64(left) {
			return unsure()
		}
		boxEnd := p.pos - int64(headerSize) + int64(size)
		if err := fn(t, boxEnd); err != nil {
			return err
		}
		if err := p.skipTo(boxEnd); err != nil {
			return err
		}
	}
}

// walkBytes iterates over the boxes in data with the same rules as walk.
func walkBytes(data []byte, fn func(t uint32, payload []byte) error) error {
	for len(data) >= 8 {
		size := uint64(binary.BigEndian.Uint32(data))
		t := binary.BigEndian.Uint32(data[4:])
		headerSize := uint64(8)
		switch size {
		case 1:
			if len(data) < 16 {
				return unsure()
			}
			size, headerSize = binary.BigEndian.Uint64(data[8:]), 16
		case 0:
			size = uint64(len(data))
		}
		if size < headerSize || size > uint64(len(data)) {
			return unsure()
		}
		if err := fn(t, data[headerSize:size]); err != nil {
			return err
		}
		data = data[size:]
	}
	return nil
}

// ---- top level ----

func (p *mp4Parser) readTopLevel() error {
	moovStart, moovEnd := int64(-1), int64(-1)
	foundMdat := false
	pos := int64(0)
	for n := 0; p.size-pos >= 8; n++ {
		if n >= maxTopLevelBoxes {
			return unsure()
		}
		header, err := p.readAt(pos, int(min(16, p.size-pos)))
		if err != nil {
			return err
		}
		size := uint64(binary.BigEndian.Uint32(header))
		t := binary.BigEndian.Uint32(header[4:])
		headerSize := int64(8)
		switch size {
		case 1:
			if len(header) < 16 {
				return unsure()
			}
			size, headerSize = binary.BigEndian.Uint64(header[8:]), 16
		case 0:
			size = uint64(p.size - pos)
		}
		if size < uint64(headerSize) || size > uint64(p.size-pos) {
			return unsure() // truncated or corrupt: ffprobe has the words for it
		}
		payloadStart, end := pos+headerSize, pos+int64(size)
		switch t {
		case tFtyp:
			if p.hasFtyp || moovStart >= 0 || end-payloadStart > 4096 {
				return unsure()
			}
			data, err := p.readAt(payloadStart, int(end-payloadStart))
			if err != nil {
				return err
			}
			if err := p.ftyp(data); err != nil {
				return err
			}
		case tMoov:
			if moovStart >= 0 || end-payloadStart > maxMoovSize {
				return unsure()
			}
			moovStart, moovEnd = payloadStart, end
		case tMdat:
			foundMdat = true
		case tFree:
			if moovStart < 0 && !foundMdat {
				if err := p.checkFree(payloadStart, end); err != nil {
					return err
				}
			}
		case tUUID:
			data, err := p.readAt(payloadStart, int(min(16, end-payloadStart)))
			if err != nil {
				return err
			}
			if err := checkUUID(data); err != nil {
				return err
			}
		case tSkip, tWide:
		default:
			if ffmpegBoxes[t] {
				return unsure()
			}
		}
		pos = end
	}
	if moovStart < 0 {
		return unsure()
	}
	p.pos = moovStart
	length := moovEnd - moovStart
	p.r = bufio.NewReaderSize(io.NewSectionReader(p.file, moovStart, length), int(min(max(length, 16), 32<<10)))
	return p.walk(moovEnd, p.moovChild)
}

func (p *mp4Parser) ftyp(data []byte) error {
	if len(data) < 8 {
		return unsure()
	}
	brand := cString(data[:4])
	for i := 0; i < len(brand); i++ {
		if brand[i] < 0x20 || brand[i] > 0x7e {
			return unsure()
		}
	}
	p.hasFtyp = true
	p.majorBrand = brand
	p.isom = brand != "qt  "
	p.qtCompatible = strings.Contains(cString(data[8:]), "qt  ")
	return nil
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// checkFree refuses a free box that turns on FFmpeg's Anevia workaround
// (which changes how bitrates are computed).
func (p *mp4Parser) checkFree(start, end int64) error {
	if end-start < 8 {
		return nil
	}
	data, err := p.readAt(start, 8)
	if err != nil {
		return err
	}
	if string(data) == "Anevia\x1a\x1a" {
		return unsure()
	}
	return nil
}

var (
	uuidISMLManifest = []byte{0xa5, 0xd4, 0x0b, 0x30, 0xe8, 0x14, 0x11, 0xdd, 0xba, 0x2f, 0x08, 0x00, 0x20, 0x0c, 0x9a, 0x66}
)

// checkUUID refuses a uuid box FFmpeg rejects or that sets stream bitrates
// (the ISML manifest of Smooth Streaming files).
func checkUUID(data []byte) error {
	if len(data) < 16 || bytes.Equal(data[:16], uuidISMLManifest) {
		return unsure()
	}
	return nil
}

// ---- moov ----

func (p *mp4Parser) containerFree(end int64) error {
	data, err := p.peek(end, 8)
	if err != nil {
		return err
	}
	if string(data) == "Anevia\x1a\x1a" {
		return unsure()
	}
	return nil
}

func (p *mp4Parser) uuidBox(end int64) error {
	data, err := p.peek(end, 16)
	if err != nil {
		return err
	}
	return checkUUID(data)
}

func (p *mp4Parser) moovChild(t uint32, end int64) error {
	switch t {
	case tMvhd:
		if p.mvhdSeen {
			return unsure()
		}
		data, err := p.payload(end, 4096)
		if err != nil {
			return err
		}
		return p.mvhd(data)
	case tTrak:
		if len(p.tracks) >= maxTracks {
			return unsure()
		}
		p.trak = &mp4Track{}
		if err := p.walk(end, p.trakChild); err != nil {
			return err
		}
		p.tracks = append(p.tracks, p.trak)
		p.trak = nil
		return nil
	case tUdta:
		return p.walk(end, p.udtaChild)
	case tMeta:
		return p.meta(end)
	case tFree:
		return p.containerFree(end)
	case tUUID:
		return p.uuidBox(end)
	case tWide:
		return nil
	}
	if ffmpegBoxes[t] {
		return unsure()
	}
	return nil
}

func (p *mp4Parser) mvhd(data []byte) error {
	var tsAt, matrixAt int
	switch {
	case len(data) >= 100 && data[0] == 0:
		tsAt, matrixAt = 12, 36
		p.duration = uint64(binary.BigEndian.Uint32(data[16:]))
	case len(data) >= 112 && data[0] == 1:
		tsAt, matrixAt = 20, 48
		p.duration = binary.BigEndian.Uint64(data[24:])
	default:
		return unsure()
	}
	p.timescale = binary.BigEndian.Uint32(data[tsAt:])
	if p.timescale == 0 || p.timescale > math.MaxInt32 {
		return unsure()
	}
	// A movie-level display matrix would combine with the tracks' ones.
	if !identityMatrix(readMatrix(data[matrixAt:])) {
		return unsure()
	}
	p.mvhdSeen = true
	return nil
}

func readMatrix(b []byte) [9]int32 {
	var m [9]int32
	for i := range m {
		m[i] = int32(binary.BigEndian.Uint32(b[4*i:]))
	}
	return m
}

func identityMatrix(m [9]int32) bool {
	return m == [9]int32{1 << 16, 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30}
}

func (p *mp4Parser) trakChild(t uint32, end int64) error {
	tr := p.trak
	switch t {
	case tTkhd:
		if tr.tkhdSeen {
			return unsure()
		}
		data, err := p.payload(end, 4096)
		if err != nil {
			return err
		}
		return tr.tkhd(data)
	case tMdia:
		if tr.mdiaSeen {
			return unsure()
		}
		tr.mdiaSeen = true
		return p.walk(end, p.mdiaChild)
	case tEdts:
		return p.walk(end, p.edtsChild)
	case tTref:
		return p.walk(end, p.trefChild)
	case tUdta:
		return p.walk(end, p.udtaChild)
	case tMeta:
		return p.meta(end)
	case tFree:
		return p.containerFree(end)
	case tUUID:
		return p.uuidBox(end)
	}
	if ffmpegBoxes[t] {
		return unsure()
	}
	return nil
}

func (tr *mp4Track) tkhd(data []byte) error {
	var idAt, matrixAt int
	switch {
	case len(data) >= 84 && data[0] == 0:
		idAt, matrixAt = 12, 40
	case len(data) >= 96 && data[0] == 1:
		idAt, matrixAt = 20, 52
	default:
		return unsure()
	}
	tr.tkhdSeen = true
	tr.enabled = data[3]&1 != 0
	tr.id = binary.BigEndian.Uint32(data[idAt:])
	tr.matrix = readMatrix(data[matrixAt:])
	return nil
}

func (p *mp4Parser) edtsChild(t uint32, end int64) error {
	tr := p.trak
	switch t {
	case tElst:
		if tr.elstSeen {
			return unsure()
		}
		data, err := p.payload(end, 4096)
		if err != nil {
			return err
		}
		return tr.parseElst(data)
	case tFree:
		return p.containerFree(end)
	}
	if ffmpegBoxes[t] {
		return unsure()
	}
	return nil
}

func (tr *mp4Track) parseElst(data []byte) error {
	if len(data) < 8 {
		return unsure()
	}
	entrySize := 12
	if data[0] == 1 {
		entrySize = 20
	} else if data[0] != 0 {
		return unsure()
	}
	count := binary.BigEndian.Uint32(data[4:])
	if count > 4 || 8+int(count)*entrySize != len(data) {
		return unsure()
	}
	tr.elstSeen = true
	for i := 0; i < int(count); i++ {
		e := data[8+i*entrySize:]
		var entry elstEntry
		if entrySize == 20 {
			entry.duration = binary.BigEndian.Uint64(e)
			entry.mediaTime = int64(binary.BigEndian.Uint64(e[8:]))
			entry.rate = binary.BigEndian.Uint32(e[16:])
		} else {
			entry.duration = uint64(binary.BigEndian.Uint32(e))
			entry.mediaTime = int64(int32(binary.BigEndian.Uint32(e[4:])))
			entry.rate = binary.BigEndian.Uint32(e[8:])
		}
		tr.elst = append(tr.elst, entry)
	}
	return nil
}

func (p *mp4Parser) trefChild(t uint32, end int64) error {
	switch t {
	case tChap:
		data, err := p.payload(end, 4096)
		if err != nil {
			return err
		}
		// FFmpeg keeps the chapter tracks of the last chap box read.
		p.chapterTracks = p.chapterTracks[:0]
		for i := 0; i+4 <= len(data); i += 4 {
			id := binary.BigEndian.Uint32(data[i:])
			if id == 0 {
				return unsure()
			}
			p.chapterTracks = append(p.chapterTracks, id)
		}
		return nil
	case tTmcd:
		return nil
	}
	if ffmpegBoxes[t] {
		return unsure()
	}
	return nil
}

func (p *mp4Parser) udtaChild(t uint32, end int64) error {
	switch t {
	case tMeta:
		return p.meta(end)
	case tChpl:
		return nil
	case tFree:
		return p.containerFree(end)
	case tUUID:
		return p.uuidBox(end)
	case bt("loci"), bt("HMMT"):
		// FFmpeg's parsers for these fail the whole file on bad input.
		return unsure()
	}
	if ffmpegBoxes[t] {
		return unsure()
	}
	return nil
}

// meta mirrors mov_read_meta: FFmpeg looks for the word "hdlr" and parses
// the boxes from the one it belongs to.
func (p *mp4Parser) meta(end int64) error {
	head, err := p.peek(end, 64)
	if err != nil {
		return err
	}
	size := end - p.pos
	off := int64(0)
	for size > 8 {
		if off+4 > int64(len(head)) {
			if end-p.pos > int64(len(head)) {
				return unsure() // no hdlr near the start: unusual, left to ffprobe
			}
			return nil // FFmpeg finds no hdlr and skips the box
		}
		tag := binary.BigEndian.Uint32(head[off:])
		off += 4
		size -= 4
		if tag == tHdlr {
			if off < 8 {
				return unsure()
			}
			if err := p.skipTo(p.pos + off - 8); err != nil {
				return err
			}
			return p.walk(end, p.metaChild)
		}
	}
	return nil
}

func (p *mp4Parser) metaChild(t uint32, end int64) error {
	switch t {
	case tHdlr:
		data, err := p.payload(end, 4096)
		if err != nil {
			return err
		}
		return p.hdlr(data)
	case tIlst:
		if p.trak != nil {
			return unsure() // a cover inside a trak would become FFmpeg's "last stream"
		}
		return p.walk(end, p.ilstChild)
	case tFree:
		return p.containerFree(end)
	}
	if ffmpegBoxes[t] {
		return unsure()
	}
	return nil
}

func (p *mp4Parser) ilstChild(t uint32, end int64) error {
	if t == tCust || t == tFree {
		return nil
	}
	if ffmpegBoxes[t] {
		return unsure()
	}
	return nil // metadata items and cover art (an attached picture)
}

func (p *mp4Parser) hdlr(data []byte) error {
	if len(data) < 12 {
		return unsure()
	}
	tr := p.trak
	if tr == nil {
		return nil
	}
	newType := mediaType(-1)
	switch binary.BigEndian.Uint32(data[8:]) {
	case hVide:
		newType = mediaVideo
	case hSoun:
		newType = mediaAudio
	case hSubp, hClcp:
		newType = mediaSubtitle
	case hM1a:
		return unsure()
	}
	if newType < 0 {
		return nil
	}
	if tr.stsdSeen && newType != tr.mediaType {
		return unsure()
	}
	tr.mediaType = newType
	return nil
}

func (p *mp4Parser) mdiaChild(t uint32, end int64) error {
	tr := p.trak
	switch t {
	case tMdhd:
		if tr.mdhdSeen || tr.sttsSeen {
			return unsure()
		}
		data, err := p.payload(end, 4096)
		if err != nil {
			return err
		}
		return tr.mdhd(data)
	case tHdlr:
		data, err := p.payload(end, maxSmallBoxSize)
		if err != nil {
			return err
		}
		return p.hdlr(data)
	case tMinf:
		return p.walk(end, p.minfChild)
	case tUdta:
		return p.walk(end, p.udtaChild)
	case tFree:
		return p.containerFree(end)
	}
	if ffmpegBoxes[t] {
		return unsure()
	}
	return nil
}

func (tr *mp4Track) mdhd(data []byte) error {
	switch {
	case len(data) >= 24 && data[0] == 0:
		tr.timescale = binary.BigEndian.Uint32(data[12:])
		tr.mdhdDuration = uint64(binary.BigEndian.Uint32(data[16:]))
		if tr.mdhdDuration == math.MaxUint32 {
			return unsure()
		}
	case len(data) >= 36 && data[0] == 1:
		tr.timescale = binary.BigEndian.Uint32(data[20:])
		tr.mdhdDuration = binary.BigEndian.Uint64(data[24:])
	default:
		return unsure()
	}
	if tr.timescale == 0 || tr.timescale > math.MaxInt32 || tr.mdhdDuration > 1<<62 {
		return unsure()
	}
	tr.mdhdSeen = true
	return nil
}

func (p *mp4Parser) minfChild(t uint32, end int64) error {
	tr := p.trak
	switch t {
	case tHdlr:
		data, err := p.payload(end, maxSmallBoxSize)
		if err != nil {
			return err
		}
		return p.hdlr(data)
	case tDinf:
		return p.walk(end, p.dinfChild)
	case tStbl:
		if tr.stblSeen {
			return unsure()
		}
		tr.stblSeen = true
		return p.walk(end, p.stblChild)
	case tFree:
		return p.containerFree(end)
	}
	if ffmpegBoxes[t] {
		return unsure()
	}
	return nil
}

func (p *mp4Parser) dinfChild(t uint32, end int64) error {
	switch t {
	case tDref:
		return p.dref(end)
	case tFree:
		return p.containerFree(end)
	}
	if ffmpegBoxes[t] {
		return unsure()
	}
	return nil
}

// dref checks the data references as mov_read_dref would, refusing
// external (alias) references.
func (p *mp4Parser) dref(end int64) error {
	var head [8]byte
	if end-p.pos < 8 {
		return unsure()
	}
	if err := p.readFull(head[:]); err != nil {
		return err
	}
	entries := int64(binary.BigEndian.Uint32(head[4:]))
	payloadSize := end - p.pos + 8
	if entries == 0 || entries > (payloadSize-1)/12+1 || entries > 1024 {
		return unsure()
	}
	for i := int64(0); i < entries; i++ {
		if end-p.pos < 12 {
			return unsure()
		}
		var entry [12]byte
		if err := p.readFull(entry[:]); err != nil {
			return err
		}
		size := int64(binary.BigEndian.Uint32(entry[:]))
		if size < 12 || size-12 > end-p.pos {
			return unsure()
		}
		if binary.BigEndian.Uint32(entry[4:]) == bt("alis") && size > 150 {
			return unsure()
		}
		if err := p.skipTo(p.pos + size - 12); err != nil {
			return err
		}
	}
	return nil
}

func (p *mp4Parser) stblChild(t uint32, end int64) error {
	tr := p.trak
	switch t {
	case tStsd:
		if tr.stsdSeen {
			return unsure()
		}
		return p.stsd(end)
	case tStts:
		if tr.sttsSeen {
			return unsure()
		}
		return p.stts(end)
	case tStsz, tStz2:
		if tr.stszSeen {
			return unsure()
		}
		return p.stsz(t, end)
	case tStsc:
		if tr.stscSeen {
			return unsure()
		}
		return p.stsc(end)
	case tStco, tCo64:
		if tr.stcoSeen {
			return unsure()
		}
		return p.stco(t, end)
	case tStss:
		if tr.stssSeen {
			return unsure()
		}
		tr.stssSeen = true
		_, err := p.tableHeader(end, 4)
		return err
	case tCtts:
		if tr.cttsSeen {
			return unsure()
		}
		tr.cttsSeen = true
		_, err := p.tableHeader(end, 8)
		return err
	case tSdtp:
		return nil
	case tSgpd, tSbgp:
		data, err := p.peek(end, 8)
		if err != nil {
			return err
		}
		if len(data) < 8 {
			return unsure()
		}
		switch grouping := binary.BigEndian.Uint32(data[4:]); {
		case grouping == bt("sync"), t == tSbgp && grouping == bt("rap "):
			return unsure() // these change which samples FFmpeg treats as key frames
		}
		return nil
	case tFree:
		return p.containerFree(end)
	}
	if ffmpegBoxes[t] {
		return unsure()
	}
	return nil
}

// tableHeader reads the version, flags and entry count of a sample table
// and checks that entries of entrySize bytes fill it.
func (p *mp4Parser) tableHeader(end int64, entrySize int64) (uint32, error) {
	var head [8]byte
	if end-p.pos < 8 {
		return 0, unsure()
	}
	if err := p.readFull(head[:]); err != nil {
		return 0, err
	}
	n := binary.BigEndian.Uint32(head[4:])
	if n > maxTableEntries || int64(n)*entrySize > end-p.pos {
		return 0, unsure()
	}
	return n, nil
}

// entries streams count entries of size bytes.
func (p *mp4Parser) entries(count uint32, size int, fn func(e []byte) error) error {
	if p.tableBuf == nil {
		p.tableBuf = make([]byte, 4096)
	}
	per := uint32(len(p.tableBuf) / size)
	for count > 0 {
		n := min(count, per)
		b := p.tableBuf[:int(n)*size]
		if err := p.readFull(b); err != nil {
			return err
		}
		for i := 0; i < int(n); i++ {
			if err := fn(b[i*size : (i+1)*size]); err != nil {
				return err
			}
		}
		count -= n
	}
	return nil
}

func (p *mp4Parser) stsd(end int64) error {
	tr := p.trak
	var head [16]byte
	if end-p.pos < 16 {
		return unsure()
	}
	if err := p.readFull(head[:]); err != nil {
		return err
	}
	if binary.BigEndian.Uint32(head[4:]) != 1 { // several sample descriptions
		return unsure()
	}
	size := int64(binary.BigEndian.Uint32(head[8:]))
	if size < 16 || size-8 > end-p.pos || size > maxSampleEntrySize {
		return unsure()
	}
	entry := make([]byte, size)
	copy(entry, head[8:16])
	if err := p.readFull(entry[8:]); err != nil {
		return err
	}
	tr.stsdSeen = true
	tr.stsdVersion = head[0]
	tr.stsdType = tr.mediaType
	tr.entry = entry
	return nil
}

func (p *mp4Parser) stts(end int64) error {
	tr := p.trak
	n, err := p.tableHeader(end, 8)
	if err != nil {
		return err
	}
	tr.sttsSeen = true
	tr.sttsEntries = n
	return p.entries(n, 8, func(e []byte) error {
		count := uint64(binary.BigEndian.Uint32(e))
		delta := binary.BigEndian.Uint32(e[4:])
		if delta > math.MaxInt32 || count > maxSamplesPerTrack {
			return unsure() // FFmpeg "corrects" such deltas
		}
		tr.sttsSamples += count
		if tr.sttsSamples > maxSamplesPerTrack {
			return unsure()
		}
		tr.sttsDuration += count * uint64(delta)
		for i := uint64(0); i < count && len(tr.firstDurations) < sampleScanCount; i++ {
			tr.firstDurations = append(tr.firstDurations, delta)
		}
		return nil
	})
}

func (p *mp4Parser) stsz(t uint32, end int64) error {
	tr := p.trak
	var head [12]byte
	if end-p.pos < 12 {
		return unsure()
	}
	if err := p.readFull(head[:]); err != nil {
		return err
	}
	tr.stszSeen = true
	count := binary.BigEndian.Uint32(head[8:])
	if count > maxSamplesPerTrack {
		return unsure()
	}
	tr.sampleCount = count
	fieldSize := 32
	if t == tStsz {
		tr.constantSize = binary.BigEndian.Uint32(head[4:])
		if tr.constantSize != 0 {
			if tr.constantSize > 0x3fffffff {
				return unsure()
			}
			tr.dataSize = uint64(tr.constantSize) * uint64(count)
			return nil
		}
	} else {
		fieldSize = int(head[7])
		if fieldSize != 4 && fieldSize != 8 && fieldSize != 16 {
			return unsure()
		}
	}
	if (int64(count)*int64(fieldSize)+4)>>3 > end-p.pos {
		return unsure() // FFmpeg drops a truncated table
	}
	add := func(size uint32) error {
		if size > 0x3fffffff {
			return unsure()
		}
		tr.dataSize += uint64(size)
		if len(tr.firstSizes) < storedEntries {
			tr.firstSizes = append(tr.firstSizes, size)
		}
		return nil
	}
	switch fieldSize {
	case 4:
		remaining := count
		return p.entries((count+1)/2, 1, func(e []byte) error {
			for _, v := range []uint32{uint32(e[0] >> 4), uint32(e[0] & 0xf)} {
				if remaining == 0 {
					break
				}
				remaining--
				if err := add(v); err != nil {
					return err
				}
			}
			return nil
		})
	case 8:
		return p.entries(count, 1, func(e []byte) error { return add(uint32(e[0])) })
	case 16:
		return p.entries(count, 2, func(e []byte) error { return add(uint32(binary.BigEndian.Uint16(e))) })
	default:
		return p.entries(count, 4, func(e []byte) error { return add(binary.BigEndian.Uint32(e)) })
	}
}

func (p *mp4Parser) stsc(end int64) error {
	tr := p.trak
	n, err := p.tableHeader(end, 12)
	if err != nil {
		return err
	}
	tr.stscSeen = true
	tr.stscEntries = n
	var prev stscEntry
	i := uint32(0)
	return p.entries(n, 12, func(e []byte) error {
		cur := stscEntry{binary.BigEndian.Uint32(e), binary.BigEndian.Uint32(e[4:]), binary.BigEndian.Uint32(e[8:])}
		// FFmpeg repairs invalid entries in ways this reader does not copy.
		if cur.first < i+1 || cur.first > math.MaxInt32 || cur.count < 1 || cur.count > maxSamplesPerTrack || cur.id != 1 ||
			(i > 0 && cur.first <= prev.first) {
			return unsure()
		}
		if i > 0 {
			tr.stscSamples += uint64(prev.count) * uint64(cur.first-prev.first)
			if tr.stscSamples > maxSamplesPerTrack {
				return unsure()
			}
		}
		if len(tr.stscFirst) < storedEntries {
			tr.stscFirst = append(tr.stscFirst, cur)
		}
		prev = cur
		tr.stscLast = cur
		i++
		return nil
	})
}

func (p *mp4Parser) stco(t uint32, end int64) error {
	tr := p.trak
	size := int64(4)
	if t == tCo64 {
		size = 8
	}
	n, err := p.tableHeader(end, size)
	if err != nil {
		return err
	}
	tr.stcoSeen = true
	tr.chunkCount = n
	return p.entries(n, int(size), func(e []byte) error {
		var off int64
		if size == 8 {
			v := binary.BigEndian.Uint64(e)
			if v > 1<<62 {
				return unsure()
			}
			off = int64(v)
		} else {
			off = int64(binary.BigEndian.Uint32(e))
		}
		if len(tr.chunkOffsets) < storedEntries {
			tr.chunkOffsets = append(tr.chunkOffsets, off)
		}
		return nil
	})
}

// ---- facts ----

// sampleRef locates one sample in the file.
type sampleRef struct {
	offset int64
	size   uint32
}

// firstSamples locates the first n samples the way mov_build_index lays
// them out.
func (tr *mp4Track) firstSamples(n int) []sampleRef {
	var out []sampleRef
	sample := 0
	entry := 0
	for chunk := 0; chunk < len(tr.chunkOffsets) && len(out) < n; chunk++ {
		for entry+1 < len(tr.stscFirst) && uint32(chunk+1) >= tr.stscFirst[entry+1].first {
			entry++
		}
		if entry >= len(tr.stscFirst) {
			break
		}
		offset := tr.chunkOffsets[chunk]
		for j := uint32(0); j < tr.stscFirst[entry].count && len(out) < n; j++ {
			size := tr.constantSize
			if size == 0 {
				if sample >= len(tr.firstSizes) {
					return out
				}
				size = tr.firstSizes[sample]
			}
			out = append(out, sampleRef{offset, size})
			offset += int64(size)
			sample++
		}
	}
	return out
}

// editStart returns the media time at which the track's single edit
// starts, refusing the edit lists whose effect on FFmpeg's index is not
// modelled.
func (tr *mp4Track) editStart() (int64, bool) {
	entries := tr.elst
	if len(entries) > 0 && entries[0].mediaTime == -1 {
		entries = entries[1:]
	}
	switch len(entries) {
	case 0:
		return 0, len(tr.elst) == 0
	case 1:
		e := entries[0]
		return e.mediaTime, e.mediaTime >= 0 && e.rate == 1<<16
	}
	return 0, false
}

// tablesOK applies the sanity checks of mov_read_trak to any track.
func (tr *mp4Track) tablesOK() bool {
	if !tr.tkhdSeen || !tr.mdhdSeen {
		return false
	}
	chunks, samples := tr.chunkCount, tr.sampleCount
	if chunks == 0 && samples == 0 && tr.sttsEntries == 0 {
		return true // no samples at all
	}
	if chunks == 0 || samples == 0 || tr.sttsEntries == 0 || tr.stscEntries == 0 || tr.stscFirst[0].first != 1 {
		return false
	}
	if tr.stscLast.first > chunks {
		return false
	}
	inChunks := tr.stscSamples + uint64(tr.stscLast.count)*uint64(chunks-tr.stscLast.first+1)
	return inChunks == uint64(samples) && tr.sttsSamples == uint64(samples)
}

func (p *mp4Parser) info(fileName string) (Info, error) {
	if !p.mvhdSeen || p.duration == 0 {
		return Info{}, unsure()
	}
	micros, ok := rescaleRound(p.duration, 1_000_000, uint64(p.timescale))
	if !ok || micros == 0 || micros > 1<<62 {
		return Info{}, unsure()
	}
	out := ffprobeOutput{Format: ffprobeFormat{
		FormatName: "mov,mp4,m4a,3gp,3g2,mj2",
		Duration:   jsonScalar(strconv.FormatFloat(float64(micros)*(1.0/1000000), 'f', 6, 64)),
	}}
	if rate := float64(p.size) * 8.0 * 1000000 / float64(micros); rate >= 0 && rate <= math.MaxInt64 {
		out.Format.BitRate = jsonScalar(strconv.FormatInt(int64(rate), 10))
	}
	if p.hasFtyp {
		out.Format.Tags = map[string]jsonScalar{"major_brand": jsonScalar(p.majorBrand)}
	}

	// Chapter tracks (tref/chap) are turned into attached pictures or data
	// streams by FFmpeg; the first stream with the referenced ID is taken.
	chapter := map[*mp4Track]bool{}
	for _, id := range p.chapterTracks {
		for _, tr := range p.tracks {
			if tr.id == id {
				chapter[tr] = true
				break
			}
		}
	}

	media := 0
	for _, tr := range p.tracks {
		st, err := p.stream(tr, chapter[tr])
		if err != nil {
			return Info{}, err
		}
		if st.CodecType == "video" && !st.flag("attached_pic") || st.CodecType == "audio" {
			media++
		}
		out.Streams = append(out.Streams, st)
	}
	if media == 0 {
		return Info{}, unsure()
	}
	return describe(&out, fileName)
}

// stream builds the ffprobe stream entry of one track.
func (p *mp4Parser) stream(tr *mp4Track, chapter bool) (ffprobeStream, error) {
	if !tr.tablesOK() {
		return ffprobeStream{}, unsure()
	}
	st := ffprobeStream{Disposition: map[string]jsonScalar{"default": "0", "attached_pic": "0"}}
	if tr.enabled {
		st.Disposition["default"] = "1"
	}
	if !tr.stsdSeen {
		if tr.mediaType != mediaData {
			return ffprobeStream{}, unsure() // an audio or video stream without a codec
		}
		st.CodecType = "data"
		return st, nil
	}
	format := binary.BigEndian.Uint32(tr.entry[4:8])
	switch tr.stsdType {
	case mediaVideo:
		if chapter {
			// A chapter picture track: an attached picture to ffprobe.
			st.CodecType = "video"
			st.Disposition["attached_pic"] = "1"
			return st, nil
		}
		return p.videoStream(tr, format, st)
	case mediaAudio:
		if chapter {
			st.CodecType = "data"
			return st, nil
		}
		return p.audioStream(tr, format, st)
	}
	if !harmlessDataFormats[format] {
		return ffprobeStream{}, unsure()
	}
	st.CodecType = "data"
	return st, nil
}

// bitRate is the stream bit_rate ffprobe reports for a track: its bytes
// over its duration, computed (and truncated) by mov_build_index before edit
// lists are applied, the duration being the shorter of mdhd's and stts's.
func (tr *mp4Track) bitRate() (string, bool) {
	if tr.sampleCount == 0 {
		return "", false
	}
	duration := tr.mdhdDuration
	if tr.sttsDuration != 0 && tr.sttsDuration < duration {
		duration = tr.sttsDuration
	}
	if duration == 0 || duration > math.MaxInt64 {
		return "", false
	}
	hi, lo := bits.Mul64(tr.dataSize, 8*uint64(tr.timescale))
	if hi != 0 {
		return "", false
	}
	rate := lo / duration
	if rate == 0 || rate > math.MaxInt64 {
		return "", false
	}
	return strconv.FormatUint(rate, 10), true
}

// sampleEntry is the parsed sample description of an audio or video track.
type sampleEntry struct {
	width, height int
	config        map[uint32][]byte // codec configuration boxes
	configs       int
	colour        colourInfo
	qtSound       bool // QuickTime sound description (affects MP3 parsing)
	esds          []byte
}

var videoConfigBoxes = map[uint32]bool{tAvcC: true, tHvcC: true, tAv1C: true, tEsds: true}

func (p *mp4Parser) parseVideoEntry(entry []byte) (*sampleEntry, error) {
	if len(entry) < 86 {
		return nil, unsure()
	}
	e := &sampleEntry{config: map[uint32][]byte{}, colour: colourInfo{matrix: 2}}
	e.width = int(binary.BigEndian.Uint16(entry[32:]))
	e.height = int(binary.BigEndian.Uint16(entry[34:]))
	name := entry[51 : 51+min(int(entry[50]), 31)]
	if bytes.HasPrefix(name, []byte("Planar Y'CbCr 8-bit 4:2:0")) {
		return nil, unsure()
	}
	switch binary.BigEndian.Uint16(entry[82:]) & 0x1f { // palettised depths
	case 1, 2, 4, 8:
		return nil, unsure()
	}
	err := walkBytes(entry[86:], func(t uint32, payload []byte) error {
		switch {
		case videoConfigBoxes[t]:
			if _, dup := e.config[t]; dup {
				return unsure()
			}
			e.configs++
			if len(payload) >= 10 && binary.BigEndian.Uint32(payload[4:]) == tFiel && t != tEsds {
				return unsure() // FFmpeg reads such a box as a wrapped fiel box
			}
			e.config[t] = payload
		case t == tColr:
			return e.parseColr(payload)
		case t == tVpcC:
			if _, dup := e.config[t]; dup || len(payload) < 5 ||
				payload[0] == 1 && (len(payload) < 12 || binary.BigEndian.Uint16(payload[10:]) != 0) {
				return unsure()
			}
			e.config[t] = payload
		case t == tPasp:
			if len(payload) < 8 {
				return unsure()
			}
		case t == tFiel:
			if len(payload) < 2 {
				return unsure()
			}
		case t == tUUID:
			return checkUUID(payload)
		case t == tFree:
		case ffmpegBoxes[t]:
			return unsure()
		}
		return nil
	})
	if err != nil || e.configs > 1 {
		return nil, unsure()
	}
	return e, nil
}

func (e *sampleEntry) parseColr(payload []byte) error {
	if len(payload) < 4 {
		return unsure()
	}
	switch string(payload[:4]) {
	case "nclx":
		if len(payload) < 11 {
			return unsure()
		}
		e.colour.fullRange = payload[10]>>7 == 1
	case "nclc":
		if len(payload) < 10 {
			return unsure()
		}
	case "prof":
		return nil
	default:
		return nil // FFmpeg ignores other colour types
	}
	matrix := int(binary.BigEndian.Uint16(payload[8:]))
	if matrix > 14 { // not a known colour space: FFmpeg takes it as unspecified
		matrix = 2
	}
	e.colour.matrix = matrix
	return nil
}

var audioConfigBoxes = map[uint32]bool{tEsds: true, tDOps: true, tDfLa: true, tAlac: true, tDac3: true, tDec3: true}

func (p *mp4Parser) parseAudioEntry(tr *mp4Track, entry []byte) (*sampleEntry, error) {
	if len(entry) < 36 {
		return nil, unsure()
	}
	e := &sampleEntry{config: map[uint32][]byte{}}
	version := binary.BigEndian.Uint16(entry[16:])
	ext := 36
	if !p.isom || p.qtCompatible || (tr.stsdVersion == 0 && version > 0) {
		e.qtSound = version == 0 || (version == 1 && binary.BigEndian.Uint16(entry[28:]) != 0xfffe)
		switch version {
		case 1:
			ext = 52
		case 2:
			ext = 72
		}
	}
	if len(entry) < ext {
		return nil, unsure()
	}
	var visit func(t uint32, payload []byte) error
	inWave := false
	visit = func(t uint32, payload []byte) error {
		switch {
		case audioConfigBoxes[t]:
			if _, dup := e.config[t]; dup {
				return unsure()
			}
			e.config[t] = payload
			e.configs++
		case t == tWave && !inWave:
			if len(payload) <= 8 {
				return nil
			}
			inWave = true
			defer func() { inWave = false }()
			return walkBytes(payload, visit)
		case t == tFrma && inWave:
			if len(payload) < 4 {
				return unsure()
			}
		case t == tChan || t == tFree:
		case ffmpegBoxes[t]:
			return unsure()
		}
		return nil
	}
	if err := walkBytes(entry[ext:], visit); err != nil || e.configs > 1 {
		return nil, unsure()
	}
	return e, nil
}

// esdsConfig parses an ES descriptor the way ff_mov_read_esds does; the
// reads must stay inside the box.
func esdsConfig(esds []byte) (objectType byte, specific []byte, ok bool) {
	r := esds
	need := func(n int) bool { return len(r) >= n }
	readLen := func() (int, bool) {
		l := 0
		for i := 0; i < 4; i++ {
			if !need(1) {
				return 0, false
			}
			c := r[0]
			r = r[1:]
			l = l<<7 | int(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
		return l, true
	}
	if !need(5) {
		return 0, nil, false
	}
	r = r[4:]
	tag := r[0]
	r = r[1:]
	if _, ok := readLen(); !ok {
		return 0, nil, false
	}
	if tag == 3 {
		if !need(3) {
			return 0, nil, false
		}
		flags := r[2]
		r = r[3:]
		if flags&0x80 != 0 {
			if !need(2) {
				return 0, nil, false
			}
			r = r[2:]
		}
		if flags&0x40 != 0 {
			if !need(1) || !need(1+int(r[0])) {
				return 0, nil, false
			}
			r = r[1+int(r[0]):]
		}
		if flags&0x20 != 0 {
			if !need(2) {
				return 0, nil, false
			}
			r = r[2:]
		}
	} else {
		if !need(2) {
			return 0, nil, false
		}
		r = r[2:]
	}
	if !need(1) || r[0] != 4 {
		return 0, nil, false
	}
	r = r[1:]
	if _, ok := readLen(); !ok || !need(13) {
		return 0, nil, false
	}
	objectType = r[0]
	r = r[13:]
	if !need(1) || r[0] != 5 {
		return objectType, nil, true
	}
	r = r[1:]
	length, ok := readLen()
	if !ok {
		return 0, nil, false
	}
	if objectType == 0x69 || objectType == 0x6b {
		return objectType, nil, true
	}
	if length == 0 || !need(length) {
		return 0, nil, false
	}
	return objectType, r[:length], true
}

// rotation is what ffprobe prints as the display matrix's rotation, when it
// is unambiguously a multiple of 90 degrees.
func rotation(m [9]int32) (string, bool) {
	conv := func(v int32) float64 { return float64(v) / (1 << 16) }
	scale0 := math.Hypot(conv(m[0]), conv(m[3]))
	scale1 := math.Hypot(conv(m[1]), conv(m[4]))
	if scale0 == 0 || scale1 == 0 {
		return "", false
	}
	r := -(math.Atan2(conv(m[1])/scale1, conv(m[0])/scale0) * 180 / math.Pi)
	if math.Abs(r-90*math.Round(r/90)) > 1e-6 {
		return "", false
	}
	return strconv.FormatInt(int64(r), 10), true
}

func (p *mp4Parser) videoStream(tr *mp4Track, format uint32, st ffprobeStream) (ffprobeStream, error) {
	e, err := p.parseVideoEntry(tr.entry)
	if err != nil {
		return st, err
	}
	start, ok := tr.editStart()
	if !ok {
		return st, unsure()
	}
	samples := tr.firstSamples(sampleScanCount)
	if len(samples) == 0 {
		return st, unsure()
	}
	var pixFmt string
	var width, height int
	switch format {
	case fAvc1, fAvc3:
		st.CodecName = "h264"
		config := e.config[tAvcC]
		if config == nil || e.configs != 1 || !tr.startsEarly(start) {
			return st, unsure()
		}
		var c *avcConfig
		if pixFmt, width, height, c, ok = h264Facts(config, e.colour, e.width, e.height); !ok {
			return st, unsure()
		}
		if !p.parameterSetsUnchanged(samples, c.nalLengthSize, 1, 7, c.sps[0]) {
			return st, unsure()
		}
	case fHvc1, fHev1:
		st.CodecName = "hevc"
		config := e.config[tHvcC]
		if config == nil || e.configs != 1 || !tr.startsEarly(start) {
			return st, unsure()
		}
		var c *hevcConfig
		var sps []byte
		if pixFmt, width, height, c, sps, ok = hevcFacts(config); !ok {
			return st, unsure()
		}
		if !p.parameterSetsUnchanged(samples, c.nalLengthSize, 2, 33, sps) {
			return st, unsure()
		}
	case fAv01:
		st.CodecName = "av1"
		config := e.config[tAv1C]
		first, err := p.firstSample(samples, start, e.configs == 1 && config != nil)
		if err != nil {
			return st, err
		}
		if pixFmt, width, height, ok = av1Facts(config, first); !ok {
			return st, unsure()
		}
	case fVp09:
		st.CodecName = "vp9"
		first, err := p.firstSample(samples, start, e.configs == 0)
		if err != nil {
			return st, err
		}
		if pixFmt, width, height, ok = vp9Facts(first); !ok {
			return st, unsure()
		}
	case fMp4v:
		st.CodecName = "mpeg4"
		esds := e.config[tEsds]
		first, err := p.firstSample(samples, start, e.configs == 1 && esds != nil)
		if err != nil {
			return st, err
		}
		objectType, specific, ok := esdsConfig(esds)
		if !ok || objectType != 0x20 || specific == nil {
			return st, unsure()
		}
		w, h, found, ok := mpeg4VOLSize(specific)
		if !found || !ok {
			return st, unsure()
		}
		if w2, h2, found2, ok2 := mpeg4VOLSize(first[:min(len(first), 1024)]); !ok2 || found2 && (w2 != w || h2 != h) {
			return st, unsure()
		}
		pixFmt, width, height = "yuv420p", w, h
	case fJpeg, fMjpa:
		st.CodecName = "mjpeg"
		first, err := p.firstSample(samples, start, e.configs == 0)
		if err != nil {
			return st, err
		}
		if pixFmt, width, height, ok = mjpegFacts(first); !ok || width != e.width || height != e.height {
			return st, unsure()
		}
	case fPng:
		st.CodecName = "png"
		first, err := p.firstSample(samples, start, e.configs == 0)
		if err != nil {
			return st, err
		}
		if pixFmt, width, height, ok = pngFacts(first); !ok {
			return st, unsure()
		}
	default:
		return st, unsure()
	}
	if width <= 0 || height <= 0 {
		return st, unsure()
	}
	rate, ok := tr.bitRate()
	if !ok {
		return st, unsure()
	}
	// avg_frame_rate as mov_read_header sets it from stts.
	if tr.sttsDuration == 0 || tr.sttsSamples == 0 || tr.sttsSamples > math.MaxInt32 {
		return st, unsure()
	}
	num, den, ok := avReduce(uint64(tr.timescale)*tr.sttsSamples, tr.sttsDuration, math.MaxInt32)
	if !ok || num == 0 || den == 0 {
		return st, unsure()
	}
	st.CodecType = "video"
	st.PixFmt = pixFmt
	st.Width = jsonScalar(strconv.Itoa(width))
	st.Height = jsonScalar(strconv.Itoa(height))
	st.AvgFrameRate = strconv.FormatUint(num, 10) + "/" + strconv.FormatUint(den, 10)
	st.BitRate = jsonScalar(rate)
	if !identityMatrix(tr.matrix) {
		r, ok := rotation(tr.matrix)
		if !ok {
			return st, unsure()
		}
		st.SideDataList = append(st.SideDataList, struct {
			Rotation jsonScalar `json:"rotation"`
		}{Rotation: jsonScalar(r)})
	}
	return st, nil
}

// startsEarly reports whether FFmpeg's edit list handling keeps the first
// samples of an H.264/HEVC track (so that the ones scanned are the ones
// ffprobe decodes).
func (tr *mp4Track) startsEarly(start int64) bool {
	var covered int64
	for i, d := range tr.firstDurations {
		if i == 8 {
			break
		}
		covered += int64(d)
	}
	return start <= covered
}

// firstSample returns the first bytes of a track's first sample, which
// must be the first one ffprobe decodes (no edit list skip).
func (p *mp4Parser) firstSample(samples []sampleRef, start int64, configOK bool) ([]byte, error) {
	if !configOK || start != 0 || len(samples) == 0 || samples[0].size == 0 {
		return nil, unsure()
	}
	return p.readSample(samples[0].offset, int(min(samples[0].size, maxFirstSampleRead)))
}

// parameterSetsUnchanged scans the NAL units of the first samples: an
// in-band sequence parameter set that differs from the configuration's
// would change what the decoder reports.
func (p *mp4Parser) parameterSetsUnchanged(samples []sampleRef, lengthSize, headerSize int, spsType byte, sps []byte) bool {
	for _, s := range samples {
		pos, end := s.offset, s.offset+int64(s.size)
		for nals := 0; pos < end; nals++ {
			if nals > 256 || end-pos < int64(lengthSize+headerSize) {
				return false
			}
			head, err := p.readSample(pos, lengthSize+headerSize)
			if err != nil || len(head) < lengthSize+headerSize {
				return false
			}
			var length int64
			for _, c := range head[:lengthSize] {
				length = length<<8 | int64(c)
			}
			if length < int64(headerSize) || length > end-pos-int64(lengthSize) {
				return false
			}
			nalType := head[lengthSize] & 0x1f
			if headerSize == 2 {
				nalType = (head[lengthSize] >> 1) & 0x3f
			}
			if nalType == spsType {
				if length != int64(len(sps)) {
					return false
				}
				nal, err := p.readSample(pos+int64(lengthSize), int(length))
				if err != nil || !bytes.Equal(nal, sps) {
					return false
				}
			}
			pos += int64(lengthSize) + length
		}
	}
	return true
}

func (p *mp4Parser) audioStream(tr *mp4Track, format uint32, st ffprobeStream) (ffprobeStream, error) {
	e, err := p.parseAudioEntry(tr, tr.entry)
	if err != nil {
		return st, err
	}
	start, ok := tr.editStart()
	// The first frame decoded is the first sample when the edit starts
	// within a second (FFmpeg seeks a second before the edit for audio).
	if !ok || start > int64(tr.timescale) {
		return st, unsure()
	}
	// FFmpeg's chunk-based demuxing for uncompressed audio.
	if tr.sttsEntries == 1 && tr.sttsDuration == tr.sttsSamples {
		return st, unsure()
	}
	samples := tr.firstSamples(1)
	if len(samples) == 0 || samples[0].size == 0 {
		return st, unsure()
	}
	first, err := p.readSample(samples[0].offset, int(min(samples[0].size, 4096)))
	if err != nil {
		return st, err
	}
	var sampleRate, channels int
	switch format {
	case fMp4a:
		esds := e.config[tEsds]
		if esds == nil || e.configs != 1 {
			return st, unsure()
		}
		objectType, specific, ok := esdsConfig(esds)
		if !ok {
			return st, unsure()
		}
		switch objectType {
		case 0x40, 0x66, 0x67, 0x68:
			st.CodecName = "aac"
			rate, chanConfig, ok := aacConfig(specific)
			if !ok || !aacFirstElementOK(first, chanConfig) {
				return st, unsure()
			}
			sampleRate, channels = rate, aacChannels(chanConfig)
		case 0x69, 0x6b:
			st.CodecName = "mp3"
			// FFmpeg parses MP3 packets (and may rename the codec) for
			// QuickTime sound descriptions and variable packet durations.
			if e.qtSound || tr.sttsEntries > 3 {
				return st, unsure()
			}
			if sampleRate, channels, ok = mp3Header(first); !ok {
				return st, unsure()
			}
		default:
			return st, unsure()
		}
	case fOpus:
		st.CodecName = "opus"
		dops := e.config[tDOps]
		if dops == nil || e.configs != 1 {
			return st, unsure()
		}
		if channels, ok = opusConfig(dops); !ok {
			return st, unsure()
		}
		sampleRate = 48000
	case fFLAC:
		st.CodecName = "flac"
		dfla := e.config[tDfLa]
		if dfla == nil || e.configs != 1 {
			return st, unsure()
		}
		if sampleRate, channels, ok = flacStreamInfo(dfla); !ok || !flacFrameAgrees(first, sampleRate, channels) {
			return st, unsure()
		}
	case fAlac:
		st.CodecName = "alac"
		config := e.config[tAlac]
		if config == nil || e.configs != 1 {
			return st, unsure()
		}
		if sampleRate, channels, ok = alacConfig(config); !ok {
			return st, unsure()
		}
	case fAC3, fEAC3:
		var nominal int
		if format == fAC3 {
			st.CodecName = "ac3"
			sampleRate, channels, nominal, ok = ac3Header(first)
		} else {
			st.CodecName = "eac3"
			var frameSize int
			sampleRate, channels, nominal, frameSize, ok = eac3Header(first)
			ok = ok && frameSize == int(samples[0].size) // one independent substream per sample
		}
		if !ok || e.configs > 1 {
			return st, unsure()
		}
		// FFmpeg's parser reports the frames' bitrate; only a track whose
		// byte count agrees with it is reported natively.
		if rate, ok := tr.bitRate(); !ok || rate != strconv.Itoa(nominal) {
			return st, unsure()
		}
	default:
		return st, unsure()
	}
	rate, ok := tr.bitRate()
	if !ok || sampleRate <= 0 || channels <= 0 {
		return st, unsure()
	}
	st.CodecType = "audio"
	st.SampleRate = jsonScalar(strconv.Itoa(sampleRate))
	st.Channels = jsonScalar(strconv.Itoa(channels))
	st.BitRate = jsonScalar(rate)
	return st, nil
}

// rescaleRound is av_rescale (round to nearest, halves away from zero) for
// non-negative values; ok=false on overflow.
func rescaleRound(a, b, c uint64) (uint64, bool) {
	if c == 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(a, b)
	lo, carry := bits.Add64(lo, c/2, 0)
	hi += carry
	if hi >= c {
		return 0, false
	}
	q, _ := bits.Div64(hi, lo, c)
	return q, q <= math.MaxInt64
}

// avReduce is FFmpeg's av_reduce for positive values: the fraction num/den
// reduced, or its best approximation with terms at most max.
func avReduce(num, den, limit uint64) (uint64, uint64, bool) {
	if num == 0 || den == 0 || num > math.MaxInt64 || den > math.MaxInt64 {
		return 0, 0, false
	}
	g := gcd(num, den)
	num, den = num/g, den/g
	if num <= limit && den <= limit {
		return num, den, true
	}
	a0n, a0d := uint64(0), uint64(1)
	a1n, a1d := uint64(1), uint64(0)
	for den != 0 {
		x := num / den
		nextDen := num - den*x
		a2n, overflowN := mulAdd(x, a1n, a0n)
		a2d, overflowD := mulAdd(x, a1d, a0d)
		if overflowN || overflowD {
			return 0, 0, false
		}
		if a2n > limit || a2d > limit {
			if a1n != 0 {
				x = (limit - a0n) / a1n
			}
			if a1d != 0 {
				x = min(x, (limit-a0d)/a1d)
			}
			// den * (2*x*a1d + a0d) > num * a1d; FFmpeg computes it in
			// int64, so a product that does not fit is left to ffprobe.
			lhsHi, lhsLo := bits.Mul64(den, 2*x*a1d+a0d)
			rhsHi, rhsLo := bits.Mul64(num, a1d)
			if lhsHi != 0 || rhsHi != 0 || lhsLo > math.MaxInt64 || rhsLo > math.MaxInt64 {
				return 0, 0, false
			}
			if lhsLo > rhsLo {
				a1n, a1d = x*a1n+a0n, x*a1d+a0d
			}
			break
		}
		a0n, a0d = a1n, a1d
		a1n, a1d = a2n, a2d
		num, den = den, nextDen
	}
	return a1n, a1d, true
}

func mulAdd(x, a, b uint64) (uint64, bool) {
	hi, lo := bits.Mul64(x, a)
	sum, carry := bits.Add64(lo, b, 0)
	return sum, hi != 0 || carry != 0 || sum > math.MaxInt64
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// mp4Trace, when set (by tests), is told where the reader declined.
var mp4Trace atomic.Pointer[func(where string)]

// unsure returns errNotSure, telling mp4Trace where.
func unsure() error {
	if trace := mp4Trace.Load(); trace != nil {
		_, file, line, _ := runtime.Caller(1)
		(*trace)(filepath.Base(file) + ":" + strconv.Itoa(line))
	}
	return errNotSure
}
