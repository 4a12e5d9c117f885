package media

import (
	"bytes"
	"encoding/binary"
)

// The parsers below read the codec configuration that ffprobe's decoder
// would read and derive the pixel format and picture size it reports. Each
// one mirrors what FFmpeg 5.1's decoder does with the same bytes and returns
// ok=false for anything it does not reproduce exactly (an unusual profile, a
// value FFmpeg rejects, a header that ends early): the caller then asks
// ffprobe instead.

// maxPictureSide bounds the picture sizes accepted from codec headers, well
// inside what FFmpeg's av_image_check_size allows.
const maxPictureSide = 16384

// h264SPS holds what FFmpeg's H.264 decoder derives from a sequence
// parameter set.
type h264SPS struct {
	id                      uint32
	profileIDC, constraints uint32
	chromaFormat, bitDepth  uint32
	codedWidth, codedHeight int // 16 * macroblocks
	cropLeft, cropRight     int // luma samples
	cropTop, cropBottom     int
	fullRange               int // -1: the SPS does not say
	colorspace              int // -1: the SPS does not say
}

// parseH264SPS parses a sequence parameter set NAL unit (with its one-byte
// header), rejecting what FFmpeg's ff_h264_decode_seq_parameter_set rejects.
func parseH264SPS(nal []byte) (*h264SPS, bool) {
	if len(nal) < 4 || nal[0]&0x1f != 7 || nal[0]&0x80 != 0 {
		return nil, false
	}
	b := newBitReader(unescapeRBSP(nal[1:]))
	s := &h264SPS{fullRange: -1, colorspace: -1, chromaFormat: 1, bitDepth: 8}
	s.profileIDC = uint32(b.u(8))
	s.constraints = uint32(b.u(8))
	b.u(8) // level_idc
	s.id = b.ue()
	if s.id > 31 {
		return nil, false
	}
	switch s.profileIDC {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135, 144:
		s.chromaFormat = b.ue()
		if s.chromaFormat > 3 {
			return nil, false
		}
		if s.chromaFormat == 3 && b.flag() { // separate colour planes: unsupported
			return nil, false
		}
		luma, chroma := b.ue()+8, b.ue()+8
		if luma != chroma || luma > 14 || luma == 11 || luma == 13 {
			return nil, false
		}
		s.bitDepth = luma
		b.u(1) // qpprime_y_zero_transform_bypass_flag
		if b.flag() {
			lists := 8
			if s.chromaFormat == 3 {
				lists = 12
			}
			for i := 0; i < lists; i++ {
				size := 16
				if i >= 6 {
					size = 64
				}
				if !h264ScalingList(b, size) {
					return nil, false
				}
			}
		}
	}
	if b.ue() > 12 { // log2_max_frame_num_minus4
		return nil, false
	}
	switch b.ue() { // pic_order_cnt_type
	case 0:
		if b.ue() > 12 {
			return nil, false
		}
	case 1:
		b.u(1)
		b.se()
		b.se()
		cycle := b.ue()
		if cycle > 255 {
			return nil, false
		}
		for i := uint32(0); i < cycle && !b.overrun; i++ {
			b.se()
		}
	case 2:
	default:
		return nil, false
	}
	if b.ue() > 16 { // max_num_ref_frames
		return nil, false
	}
	b.u(1) // gaps_in_frame_num_value_allowed_flag
	mbWidth := int64(b.ue()) + 1
	mapHeight := int64(b.ue()) + 1
	frameMbsOnly := b.flag()
	mbHeight := mapHeight
	if !frameMbsOnly {
		mbHeight *= 2
		b.u(1) // mb_adaptive_frame_field_flag
	}
	if mbWidth*16 > maxPictureSide || mbHeight*16 > maxPictureSide {
		return nil, false
	}
	s.codedWidth, s.codedHeight = int(mbWidth*16), int(mbHeight*16)
	b.u(1) // direct_8x8_inference_flag
	if b.flag() {
		left, right, top, bottom := int64(b.ue()), int64(b.ue()), int64(b.ue()), int64(b.ue())
		stepX, stepY := int64(1), int64(1)
		if s.chromaFormat == 1 || s.chromaFormat == 2 {
			stepX = 2
		}
		if !frameMbsOnly {
			stepY = 2
		}
		if s.chromaFormat == 1 {
			stepY *= 2
		}
		// FFmpeg ignores invalid cropping with a warning; such a file is
		// left to ffprobe.
		if (left+right)*stepX >= int64(s.codedWidth) || (top+bottom)*stepY >= int64(s.codedHeight) {
			return nil, false
		}
		s.cropLeft, s.cropRight = int(left*stepX), int(right*stepX)
		s.cropTop, s.cropBottom = int(top*stepY), int(bottom*stepY)
	}
	if b.flag() && !s.parseVUI(b) {
		return nil, false
	}
	if b.overrun {
		return nil, false
	}
	return s, true
}

// h264ScalingList consumes one scaling_list() as FFmpeg's decode_scaling_list.
func h264ScalingList(b *bitReader, size int) bool {
	if !b.flag() {
		return !b.overrun
	}
	last, next := int64(8), int64(8)
	for i := 0; i < size; i++ {
		if next != 0 {
			v := b.se()
			if v < -128 || v > 127 {
				return false
			}
			next = (last + v) & 0xff
		}
		if i == 0 && next == 0 {
			break
		}
		if next != 0 {
			last = next
		}
	}
	return !b.overrun
}

// parseVUI mirrors FFmpeg 5.1's decode_vui_parameters, which fails the whole
// SPS on the errors it detects.
func (s *h264SPS) parseVUI(b *bitReader) bool {
	if b.flag() { // aspect_ratio_info_present_flag
		idc := b.u(8)
		if idc == 255 {
			b.u(32)
		} else if idc > 16 {
			return false // "illegal aspect ratio"
		}
	}
	if b.flag() {
		b.u(1)
	}
	if b.flag() { // video_signal_type_present_flag
		b.u(3)
		s.fullRange = int(b.u(1))
		if b.flag() {
			b.u(8)
			b.u(8)
			s.colorspace = int(b.u(8))
		}
	}
	if b.flag() { // chroma_loc_info_present_flag
		b.ue()
		b.ue()
	}
	if b.show(1) == 1 && b.left() < 10 {
		return !b.overrun // "Truncated VUI": FFmpeg stops here without error
	}
	if b.flag() { // timing_info_present_flag
		b.u(32)
		b.u(32)
		b.u(1)
	}
	nal := b.flag()
	if nal && !h264HRD(b) {
		return false
	}
	vcl := b.flag()
	if vcl && !h264HRD(b) {
		return false
	}
	if nal || vcl {
		b.u(1) // low_delay_hrd_flag
	}
	b.u(1) // pic_struct_present_flag
	if b.left() == 0 {
		return true
	}
	if b.flag() { // bitstream_restriction_flag
		b.u(1)
		for i := 0; i < 4; i++ {
			b.ue()
		}
		reorder := b.ue()
		b.ue()
		if b.overrun {
			return false
		}
		if reorder > 16 {
			return false
		}
	}
	return !b.overrun
}

func h264HRD(b *bitReader) bool {
	count := b.ue()
	if count > 31 {
		return false
	}
	b.u(8)
	for i := uint32(0); i <= count && !b.overrun; i++ {
		b.ue()
		b.ue()
		b.u(1)
	}
	b.u(20)
	return !b.overrun
}

// h264PixelFormat is get_pixel_format of FFmpeg's H.264 decoder: colorspace
// and fullRange are the decoder's (the SPS's, else the container's).
func h264PixelFormat(chroma, depth uint32, colorspace int, fullRange bool) (string, bool) {
	var yuv, rgb string
	switch chroma {
	case 3:
		yuv, rgb = "yuv444p", "gbrp"
	case 2:
		yuv = "yuv422p"
	default:
		yuv = "yuv420p"
	}
	if colorspace == 0 && chroma == 3 {
		yuv = rgb
	}
	switch depth {
	case 8:
		if fullRange && yuv != "gbrp" {
			return "yuvj" + yuv[3:], true
		}
		return yuv, true
	case 9, 10, 12, 14:
		return yuv + itoa(int(depth)) + "le", true
	}
	return "", false
}

// h264PPSOK checks a picture parameter set as FFmpeg's decoder would before
// accepting it; sps is the set it refers to.
func h264PPSOK(nal []byte, spsByID map[uint32]*h264SPS) bool {
	if len(nal) < 2 || nal[0]&0x1f != 8 || nal[0]&0x80 != 0 {
		return false
	}
	rbsp := unescapeRBSP(nal[1:])
	end := rbspEnd(rbsp)
	if end < 0 {
		return false
	}
	b := newBitReader(rbsp)
	if b.ue() > 255 {
		return false
	}
	sps := spsByID[b.ue()]
	if sps == nil {
		return false
	}
	b.u(2)
	if b.ue() != 0 { // slice groups (FMO): not supported by FFmpeg
		return false
	}
	if b.ue() > 31 || b.ue() > 31 {
		return false
	}
	b.u(3)
	b.se()
	b.se()
	if offset := b.se(); offset < -12 || offset > 12 {
		return false
	}
	b.u(3)
	if b.overrun {
		return false
	}
	moreData := !((sps.profileIDC == 66 || sps.profileIDC == 77 || sps.profileIDC == 88) && sps.constraints&0xe0 != 0)
	if end-b.pos > 0 && moreData {
		transform8x8 := b.flag()
		if b.flag() {
			lists := 6
			if transform8x8 {
				lists += 2
				if sps.chromaFormat == 3 {
					lists += 4
				}
			}
			for i := 0; i < lists; i++ {
				size := 16
				if i >= 6 {
					size = 64
				}
				if !h264ScalingList(b, size) {
					return false
				}
			}
		}
		if offset := b.se(); offset < -12 || offset > 12 {
			return false
		}
	}
	return !b.overrun
}

// rbspEnd returns the bit position of the rbsp_stop_one_bit, -1 if none.
func rbspEnd(rbsp []byte) int {
	for i := len(rbsp) - 1; i >= 0; i-- {
		if c := rbsp[i]; c != 0 {
			bit := 0
			for c&1 == 0 {
				c >>= 1
				bit++
			}
			return i*8 + 7 - bit
		}
	}
	return -1
}

// avcConfig is an AVCDecoderConfigurationRecord as FFmpeg reads it.
type avcConfig struct {
	nalLengthSize int
	sps           [][]byte
	pps           [][]byte
}

func parseAVCConfig(data []byte) (*avcConfig, bool) {
	if len(data) < 7 || data[0] != 1 {
		return nil, false
	}
	c := &avcConfig{nalLengthSize: int(data[4]&3) + 1}
	if c.nalLengthSize == 3 {
		return nil, false
	}
	p := 5
	for list := 0; list < 2; list++ {
		if p >= len(data) {
			return nil, false
		}
		count := int(data[p])
		if list == 0 {
			count &= 0x1f
		}
		p++
		for i := 0; i < count; i++ {
			if p+2 > len(data) {
				return nil, false
			}
			size := int(binary.BigEndian.Uint16(data[p:]))
			p += 2
			if p+size > len(data) || size == 0 {
				return nil, false
			}
			if list == 0 {
				c.sps = append(c.sps, data[p:p+size])
			} else {
				c.pps = append(c.pps, data[p:p+size])
			}
			p += size
		}
	}
	return c, true
}

// h264Facts derives the decoder's pixel format and size from avcC. width
// and height are the sample entry's, which FFmpeg's decoder uses as
// container cropping when they fit.
func h264Facts(config []byte, colr colourInfo, width, height int) (pixFmt string, w, h int, params *avcConfig, ok bool) {
	c, ok := parseAVCConfig(config)
	if !ok || len(c.sps) != 1 || len(c.pps) == 0 {
		return "", 0, 0, nil, false
	}
	sps, ok := parseH264SPS(c.sps[0])
	if !ok {
		return "", 0, 0, nil, false
	}
	byID := map[uint32]*h264SPS{sps.id: sps}
	for _, pps := range c.pps {
		if !h264PPSOK(pps, byID) {
			return "", 0, 0, nil, false
		}
	}
	colorspace, fullRange := colr.matrix, colr.fullRange
	if sps.fullRange >= 0 {
		fullRange = sps.fullRange == 1
		if sps.colorspace >= 0 {
			colorspace = sps.colorspace
		}
	}
	pixFmt, ok = h264PixelFormat(sps.chromaFormat, sps.bitDepth, colorspace, fullRange)
	if !ok {
		return "", 0, 0, nil, false
	}
	// init_dimensions of FFmpeg's h264_slice.c, container cropping included.
	w = sps.codedWidth - sps.cropLeft - sps.cropRight
	h = sps.codedHeight - sps.cropTop - sps.cropBottom
	if width > 0 && height > 0 && sps.cropTop == 0 && sps.cropLeft == 0 &&
		align16(width) == align16(w) && align16(height) == align16(h) && width <= w && height <= h {
		w, h = width, height
	}
	return pixFmt, w, h, c, true
}

func align16(v int) int { return (v + 15) &^ 15 }

// ---- HEVC ----

var (
	hevcSubWidth  = [4]int64{1, 2, 2, 1}
	hevcSubHeight = [4]int64{1, 2, 1, 1}
)

type hevcSPS struct {
	vpsID, id     uint32
	chromaFormat  uint32
	bitDepth      uint32
	width, height int // output size
	pixFmt        string
}

// hevcPTL consumes profile_tier_level() as FFmpeg's parse_ptl.
func hevcPTL(b *bitReader, maxSubLayers int) bool {
	if b.left() < 88+8 {
		return false
	}
	b.skip(88)
	b.u(8) // general_level_idc
	var profilePresent, levelPresent [8]bool
	for i := 0; i < maxSubLayers-1; i++ {
		profilePresent[i] = b.flag()
		levelPresent[i] = b.flag()
	}
	if maxSubLayers > 1 {
		for i := maxSubLayers - 1; i < 8; i++ {
			b.u(2)
		}
	}
	for i := 0; i < maxSubLayers-1; i++ {
		if profilePresent[i] {
			if b.left() < 88 {
				return false
			}
			b.skip(88)
		}
		if levelPresent[i] {
			if b.left() < 8 {
				return false
			}
			b.u(8)
		}
	}
	return !b.overrun
}

// parseHEVCVPS returns the VPS id when FFmpeg's ff_hevc_decode_nal_vps
// would accept the set.
func parseHEVCVPS(nal []byte) (uint32, bool) {
	if len(nal) < 3 || (nal[0]>>1)&0x3f != 32 {
		return 0, false
	}
	b := newBitReader(unescapeRBSP(nal[2:]))
	id := uint32(b.u(4))
	if b.u(2) != 3 {
		return 0, false
	}
	b.u(6)
	maxSub := int(b.u(3)) + 1
	b.u(1)
	if b.u(16) != 0xffff || maxSub > 7 {
		return 0, false
	}
	if !hevcPTL(b, maxSub) {
		return 0, false
	}
	start := maxSub - 1
	if b.flag() {
		start = 0
	}
	for i := start; i < maxSub; i++ {
		dpb := int64(b.ue()) + 1
		reorder := int64(b.ue())
		b.ue()
		if dpb > 16 || reorder > dpb-1 {
			return 0, false
		}
	}
	maxLayerID := int64(b.u(6))
	sets := int64(b.ue()) + 1
	if sets > 1024 || (sets-1)*(maxLayerID+1) > int64(b.left()) {
		return 0, false
	}
	b.skip(int((sets - 1) * (maxLayerID + 1)))
	if b.flag() { // vps_timing_info_present_flag
		b.u(32)
		b.u(32)
		if b.flag() {
			b.ue()
		}
		if b.ue() != 0 { // vps_num_hrd_parameters: left to ffprobe
			return 0, false
		}
	}
	b.u(1)
	return id, !b.overrun
}

// parseHEVCSPS mirrors ff_hevc_parse_sps of FFmpeg 5.1 (with
// apply_defdispwin off, as in ffprobe).
func parseHEVCSPS(nal []byte) (*hevcSPS, bool) {
	if len(nal) < 3 || (nal[0]>>1)&0x3f != 33 {
		return nil, false
	}
	b := newBitReader(unescapeRBSP(nal[2:]))
	s := &hevcSPS{}
	s.vpsID = uint32(b.u(4))
	maxSub := int(b.u(3)) + 1
	if maxSub > 7 {
		return nil, false
	}
	b.u(1)
	if !hevcPTL(b, maxSub) {
		return nil, false
	}
	s.id = b.ue()
	s.chromaFormat = b.ue()
	if s.id >= 16 || s.chromaFormat > 3 {
		return nil, false
	}
	if s.chromaFormat == 3 && b.flag() { // separate_colour_plane_flag
		return nil, false
	}
	width, height := int64(b.ue()), int64(b.ue())
	if width == 0 || height == 0 || width > maxPictureSide || height > maxPictureSide {
		return nil, false
	}
	var left, right, top, bottom int64
	if b.flag() {
		left = int64(b.ue()) * hevcSubWidth[s.chromaFormat]
		right = int64(b.ue()) * hevcSubWidth[s.chromaFormat]
		top = int64(b.ue()) * hevcSubHeight[s.chromaFormat]
		bottom = int64(b.ue()) * hevcSubHeight[s.chromaFormat]
	}
	// FFmpeg realigns a left offset and ignores invalid windows; such
	// streams are left to ffprobe.
	if left != 0 || top != 0 || left+right >= width || top+bottom >= height {
		return nil, false
	}
	s.width, s.height = int(width-left-right), int(height-top-bottom)
	luma, chroma := b.ue()+8, b.ue()+8
	if s.chromaFormat != 0 && luma != chroma {
		return nil, false
	}
	s.bitDepth = luma
	switch luma {
	case 8, 10, 12:
	default:
		return nil, false
	}
	s.pixFmt = hevcPixelFormat(s.chromaFormat, luma)
	log2MaxPOC := int(b.ue()) + 4
	if log2MaxPOC > 16 {
		return nil, false
	}
	start := maxSub - 1
	if b.flag() {
		start = 0
	}
	for i := start; i < maxSub; i++ {
		dpb := int64(b.ue()) + 1
		reorder := int64(b.ue())
		b.ue()
		if dpb > 16 || reorder > dpb-1 {
			return nil, false
		}
	}
	log2MinCB := int64(b.ue()) + 3
	diffCB := int64(b.ue())
	log2MinTB := int64(b.ue()) + 2
	diffTB := int64(b.ue())
	if log2MinCB > 30 || diffCB > 30 || log2MinTB >= log2MinCB || diffTB > 30 {
		return nil, false
	}
	depthInter, depthIntra := int64(b.ue()), int64(b.ue())
	if b.flag() && b.flag() { // scaling_list_enabled_flag, sps_scaling_list_data_present_flag
		if !hevcScalingListData(b) {
			return nil, false
		}
	}
	b.u(2)        // amp, sao
	if b.flag() { // pcm_enabled_flag
		pcmLuma, pcmChroma := b.u(4)+1, b.u(4)+1
		b.ue()
		b.ue()
		if max(pcmLuma, pcmChroma) > uint64(luma) {
			return nil, false
		}
		b.u(1)
	}
	sets := int(b.ue())
	if sets > 64 {
		return nil, false
	}
	deltaPOCs := make([]int, 0, sets)
	for i := 0; i < sets; i++ {
		n, ok := hevcShortTermRPS(b, i, deltaPOCs)
		if !ok {
			return nil, false
		}
		deltaPOCs = append(deltaPOCs, n)
	}
	if b.flag() { // long_term_ref_pics_present_flag
		n := b.ue()
		if n > 32 {
			return nil, false
		}
		for i := uint32(0); i < n && !b.overrun; i++ {
			b.u(log2MaxPOC)
			b.u(1)
		}
	}
	b.u(2) // sps_temporal_mvp_enabled_flag, strong_intra_smoothing
	if b.flag() && !s.parseVUI(b, maxSub) {
		return nil, false
	}
	if b.flag() { // sps_extension_present_flag
		rangeExt := b.flag()
		b.u(7)
		if rangeExt {
			b.u(9)
		}
	}
	log2CTB := log2MinCB + diffCB
	if log2CTB > 6 || log2CTB < 4 {
		return nil, false
	}
	if width%(1<<log2MinCB) != 0 || height%(1<<log2MinCB) != 0 {
		return nil, false
	}
	if depthInter > log2CTB-log2MinTB || depthIntra > log2CTB-log2MinTB || log2MinTB+diffTB > min(log2CTB, 5) {
		return nil, false
	}
	if b.overrun {
		return nil, false
	}
	return s, true
}

func hevcPixelFormat(chroma, depth uint32) string {
	base := [4]string{"gray", "yuv420p", "yuv422p", "yuv444p"}[chroma]
	if depth == 8 {
		return base
	}
	return base + itoa(int(depth)) + "le"
}

func hevcScalingListData(b *bitReader) bool {
	for sizeID := 0; sizeID < 4; sizeID++ {
		step := 1
		if sizeID == 3 {
			step = 3
		}
		for matrixID := 0; matrixID < 6; matrixID += step {
			if !b.flag() {
				delta := int64(b.ue()) * int64(step)
				if int64(matrixID) < delta {
					return false
				}
				continue
			}
			coefs := min(64, 1<<(4+(sizeID<<1)))
			if sizeID > 1 {
				dc := b.se()
				if dc < -7 || dc > 247 {
					return false
				}
			}
			for i := 0; i < coefs && !b.overrun; i++ {
				b.se()
			}
		}
	}
	return !b.overrun
}

// hevcShortTermRPS consumes st_ref_pic_set(idx) of an SPS and returns its
// number of delta POCs; previous holds those of the sets before it.
func hevcShortTermRPS(b *bitReader, idx int, previous []int) (int, bool) {
	if idx != 0 && b.flag() { // inter_ref_pic_set_prediction_flag
		b.u(1)
		if abs := int64(b.ue()) + 1; abs > 32768 {
			return 0, false
		}
		ref := previous[idx-1]
		k := 0
		for j := 0; j <= ref; j++ {
			used := b.flag()
			useDelta := false
			if !used {
				useDelta = b.flag()
			}
			if used || useDelta {
				k++
			}
		}
		if k > 32 || b.overrun {
			return 0, false
		}
		return k, true
	}
	negative, positive := b.ue(), b.ue()
	if negative >= 16 || positive >= 16 {
		return 0, false
	}
	for i := uint32(0); i < negative+positive; i++ {
		if b.ue() >= 32768 {
			return 0, false
		}
		b.u(1)
	}
	return int(negative + positive), !b.overrun
}

// parseVUI mirrors FFmpeg 5.1's decode_vui for the fields that change the
// pixel format; the alternative-syntax workarounds FFmpeg applies to broken
// streams are not reproduced, so a stream that would trigger them is
// refused.
func (s *hevcSPS) parseVUI(b *bitReader, maxSub int) bool {
	if b.flag() {
		if b.u(8) == 255 {
			b.u(32)
		}
	}
	if b.flag() {
		b.u(1)
	}
	if b.flag() { // video_signal_type_present_flag
		b.u(3)
		fullRange := b.flag()
		if fullRange && s.pixFmt == "yuv420p" {
			s.pixFmt = "yuvj420p"
		}
		if b.flag() {
			b.u(16)
			if b.u(8) == 0 { // matrix_coeffs RGB
				switch s.pixFmt {
				case "yuv444p":
					s.pixFmt = "gbrp"
				case "yuv444p10le":
					s.pixFmt = "gbrp10le"
				case "yuv444p12le":
					s.pixFmt = "gbrp12le"
				}
			}
		}
	}
	if b.flag() {
		b.ue()
		b.ue()
	}
	b.u(3) // neutral_chroma, field_seq, frame_field_info
	if b.left() >= 68 && b.show(21) == 0x100000 {
		return false
	}
	if b.flag() { // default_display_window_flag
		for i := 0; i < 4; i++ {
			b.ue()
		}
	}
	if b.flag() { // vui_timing_info_present_flag
		if b.left() < 66 {
			return false
		}
		b.u(32)
		b.u(32)
		if b.flag() {
			b.ue()
		}
		if b.flag() && !hevcHRD(b, true, maxSub) {
			return false
		}
	}
	if b.flag() { // bitstream_restriction_flag
		if b.left() < 8 {
			return false
		}
		b.u(3)
		for i := 0; i < 5; i++ {
			b.ue()
		}
	}
	return !b.overrun
}

func hevcHRD(b *bitReader, common bool, maxSub int) bool {
	nal, vcl, subPic := false, false, false
	if common {
		nal, vcl = b.flag(), b.flag()
		if nal || vcl {
			subPic = b.flag()
			if subPic {
				b.u(19)
			}
			b.u(8)
			if subPic {
				b.u(4)
			}
			b.u(15)
		}
	}
	for i := 0; i < maxSub; i++ {
		lowDelay := false
		fixed := b.flag()
		if !fixed {
			fixed = b.flag()
		}
		if fixed {
			b.ue()
		} else {
			lowDelay = b.flag()
		}
		cpb := uint32(1)
		if !lowDelay {
			cpb = b.ue() + 1
			if cpb > 32 {
				return false
			}
		}
		for pass := 0; pass < 2; pass++ {
			if (pass == 0 && !nal) || (pass == 1 && !vcl) {
				continue
			}
			for j := uint32(0); j < cpb && !b.overrun; j++ {
				b.ue()
				b.ue()
				if subPic {
					b.ue()
					b.ue()
				}
				b.u(1)
			}
		}
	}
	return !b.overrun
}

// hevcConfig is an HEVCDecoderConfigurationRecord: its parameter sets in
// order, and the NAL length size.
type hevcConfig struct {
	nalLengthSize int
	nals          [][]byte
}

func parseHEVCConfig(data []byte) (*hevcConfig, bool) {
	// FFmpeg takes anything that does not look like Annex B as hvcC.
	if len(data) < 23 || !(data[0] != 0 || data[1] != 0 || data[2] > 1) {
		return nil, false
	}
	c := &hevcConfig{nalLengthSize: int(data[21]&3) + 1}
	if c.nalLengthSize == 3 {
		return nil, false
	}
	arrays := int(data[22])
	p := 23
	for i := 0; i < arrays; i++ {
		if p+3 > len(data) {
			return nil, false
		}
		count := int(binary.BigEndian.Uint16(data[p+1:]))
		p += 3
		for j := 0; j < count; j++ {
			if p+2 > len(data) {
				return nil, false
			}
			size := int(binary.BigEndian.Uint16(data[p:]))
			p += 2
			if p+size > len(data) || size < 2 {
				return nil, false
			}
			c.nals = append(c.nals, data[p:p+size])
			p += size
		}
	}
	return c, true
}

// hevcFacts derives the decoder's pixel format and size from hvcC.
func hevcFacts(config []byte) (pixFmt string, w, h int, c *hevcConfig, sps []byte, ok bool) {
	c, ok = parseHEVCConfig(config)
	if !ok {
		return "", 0, 0, nil, nil, false
	}
	vps := map[uint32]bool{}
	var parsed *hevcSPS
	ppsCount := 0
	for _, nal := range c.nals {
		switch (nal[0] >> 1) & 0x3f {
		case 32:
			id, ok := parseHEVCVPS(nal)
			if !ok {
				return "", 0, 0, nil, nil, false
			}
			vps[id] = true
		case 33:
			if parsed != nil {
				return "", 0, 0, nil, nil, false
			}
			s, ok := parseHEVCSPS(nal)
			if !ok || !vps[s.vpsID] {
				return "", 0, 0, nil, nil, false
			}
			parsed, sps = s, nal
		case 34:
			if parsed == nil {
				return "", 0, 0, nil, nil, false
			}
			b := newBitReader(unescapeRBSP(nal[2:]))
			if b.ue() >= 64 || b.ue() != parsed.id || b.overrun {
				return "", 0, 0, nil, nil, false
			}
			ppsCount++
		case 39, 40:
			if !hevcSEIOK(nal) {
				return "", 0, 0, nil, nil, false
			}
		default:
			return "", 0, 0, nil, nil, false
		}
	}
	if parsed == nil || ppsCount == 0 {
		return "", 0, 0, nil, nil, false
	}
	return parsed.pixFmt, parsed.width, parsed.height, c, sps, true
}

// ---- AV1 ----

type av1Sequence struct {
	reduced              bool
	decoderModel         bool
	equalPictureInterval bool
	frameIDBits          int // 0 when frame ids are absent
	forceScreenContent   int // 2 = select
	forceIntegerMV       int // 2 = select
	maxWidth, maxHeight  int
	pixFmt               string
	monochrome           bool
}

// parseAV1Sequence parses a sequence header OBU payload.
func parseAV1Sequence(payload []byte) (*av1Sequence, bool) {
	b := newBitReader(payload)
	s := &av1Sequence{}
	profile := b.u(3)
	if profile > 2 {
		return nil, false
	}
	b.u(1) // still_picture
	s.reduced = b.flag()
	if s.reduced {
		b.u(5)
	} else {
		if b.flag() { // timing_info_present_flag
			b.u(64)
			s.equalPictureInterval = b.flag()
			if s.equalPictureInterval {
				if !av1UVLC(b) {
					return nil, false
				}
			}
			s.decoderModel = b.flag()
			if s.decoderModel {
				return nil, false // operating parameters: left to ffprobe
			}
		}
		initialDelay := b.flag()
		points := int(b.u(5)) + 1
		for i := 0; i < points; i++ {
			b.u(12)
			if b.u(5) > 7 {
				b.u(1)
			}
			if initialDelay && b.flag() {
				b.u(4)
			}
		}
	}
	widthBits, heightBits := int(b.u(4))+1, int(b.u(4))+1
	s.maxWidth, s.maxHeight = int(b.u(widthBits))+1, int(b.u(heightBits))+1
	if s.maxWidth > maxPictureSide || s.maxHeight > maxPictureSide {
		return nil, false
	}
	if !s.reduced && b.flag() { // frame_id_numbers_present_flag
		delta := int(b.u(4)) + 2
		extra := int(b.u(3)) + 1
		s.frameIDBits = delta + extra
	}
	b.u(3) // 128x128, filter intra, intra edge
	s.forceScreenContent, s.forceIntegerMV = 2, 2
	if !s.reduced {
		b.u(4) // interintra, masked, warped, dual filter
		orderHint := b.flag()
		if orderHint {
			b.u(2)
		}
		if b.flag() {
			s.forceScreenContent = 2
		} else {
			s.forceScreenContent = int(b.u(1))
		}
		if s.forceScreenContent > 0 {
			if b.flag() {
				s.forceIntegerMV = 2
			} else {
				s.forceIntegerMV = int(b.u(1))
			}
		}
		if orderHint {
			b.u(3)
		}
	}
	b.u(3) // superres, cdef, restoration
	// color_config()
	highBitDepth := b.flag()
	depth := 8
	if profile == 2 && highBitDepth {
		depth = 10
		if b.flag() {
			depth = 12
		}
	} else if highBitDepth {
		depth = 10
	}
	if profile != 1 {
		s.monochrome = b.flag()
	}
	primaries, transfer, matrix := uint64(2), uint64(2), uint64(2)
	if b.flag() {
		primaries, transfer, matrix = b.u(8), b.u(8), b.u(8)
	}
	layout := ""
	switch {
	case s.monochrome:
		b.u(1)
		layout = "gray"
	case primaries == 1 && transfer == 13 && matrix == 0:
		return nil, false // sRGB: mapped to GBR by some decoders only
	default:
		b.u(1) // color_range
		ssx, ssy := true, true
		switch profile {
		case 1:
			ssx, ssy = false, false
		case 2:
			if depth == 12 {
				ssx = b.flag()
				ssy = ssx && b.flag()
			} else {
				ssx, ssy = true, false
			}
		}
		if ssx && ssy {
			b.u(2)
		}
		b.u(1) // separate_uv_delta_q
		switch {
		case ssx && ssy:
			layout = "yuv420p"
		case ssx:
			layout = "yuv422p"
		default:
			layout = "yuv444p"
			if matrix == 0 {
				return nil, false
			}
		}
	}
	b.u(1) // film_grain_params_present
	if b.overrun {
		return nil, false
	}
	if depth == 8 {
		s.pixFmt = layout
	} else {
		s.pixFmt = layout + itoa(depth) + "le"
	}
	return s, true
}

func av1UVLC(b *bitReader) bool {
	zeros := 0
	for !b.flag() {
		zeros++
		if zeros >= 32 || b.overrun {
			return false
		}
	}
	b.u(zeros)
	return !b.overrun
}

// av1OBU splits data into OBUs: type and payload.
func av1OBUs(data []byte, fn func(obuType int, payload []byte) bool) bool {
	for len(data) > 0 {
		header := data[0]
		if header&0x80 != 0 {
			return false
		}
		obuType := int(header>>3) & 0xf
		p := 1
		if header&0x04 != 0 {
			p++
		}
		size := len(data) - p
		if header&0x02 != 0 {
			var v uint64
			n := 0
			for ; n < 8; n++ {
				if p+n >= len(data) {
					return false
				}
				c := data[p+n]
				v |= uint64(c&0x7f) << (7 * uint(n))
				if c&0x80 == 0 {
					break
				}
			}
			if n == 8 {
				return false
			}
			p += n + 1
			if v > uint64(len(data)-p) {
				return false
			}
			size = int(v)
		}
		if p > len(data) {
			return false
		}
		if !fn(obuType, data[p:p+size]) {
			return false
		}
		data = data[p+size:]
	}
	return true
}

// av1Facts reads av1C (whose sequence header the decoder is given) and the
// first temporal unit of the track, whose first frame must be a shown key
// frame of the sequence's full size.
func av1Facts(config, firstSample []byte) (pixFmt string, w, h int, ok bool) {
	if len(config) < 4 || config[0] != 0x81 {
		return "", 0, 0, false
	}
	var seq []byte
	if !av1OBUs(config[4:], func(t int, payload []byte) bool {
		if t == 1 {
			if seq != nil {
				return false
			}
			seq = payload
		}
		return true
	}) || seq == nil {
		return "", 0, 0, false
	}
	s, ok := parseAV1Sequence(seq)
	if !ok {
		return "", 0, 0, false
	}
	// The first temporal unit may repeat the sequence header (encoders do
	// not always write it byte for byte as in av1C); the decoder then uses
	// the in-band one, which must describe the same stream.
	active := s
	frameSeen := false
	if !av1OBUs(firstSample, func(t int, payload []byte) bool {
		switch t {
		case 1:
			inBand, ok := parseAV1Sequence(payload)
			if !ok || *inBand != *s {
				return false
			}
			active = inBand
			return true
		case 2, 5, 15:
			return true
		case 3, 6:
			if frameSeen {
				return true
			}
			frameSeen = true
			return av1FrameIsFullKey(payload, active)
		}
		return frameSeen
	}) || !frameSeen {
		return "", 0, 0, false
	}
	return s.pixFmt, s.maxWidth, s.maxHeight, true
}

func av1FrameIsFullKey(payload []byte, s *av1Sequence) bool {
	if s.reduced {
		return true
	}
	b := newBitReader(payload)
	if b.flag() { // show_existing_frame
		return false
	}
	if b.u(2) != 0 || !b.flag() { // KEY_FRAME, show_frame
		return false
	}
	b.u(1) // disable_cdf_update
	allowScreen := s.forceScreenContent
	if allowScreen == 2 {
		allowScreen = int(b.u(1))
	}
	if allowScreen != 0 && s.forceIntegerMV == 2 {
		b.u(1)
	}
	if s.frameIDBits > 0 {
		b.u(s.frameIDBits)
	}
	return !b.flag() && !b.overrun // frame_size_override_flag
}

// ---- VP9 ----

// vp9Facts parses the uncompressed header of the first frame, which must be
// a key frame, as FFmpeg's VP9 decoder does.
func vp9Facts(frame []byte) (pixFmt string, w, h int, ok bool) {
	b := newBitReader(frame)
	if b.u(2) != 2 {
		return "", 0, 0, false
	}
	profile := b.u(1) | b.u(1)<<1
	if profile == 3 && b.u(1) != 0 {
		return "", 0, 0, false
	}
	if b.flag() || b.flag() { // show_existing_frame, non-key frame
		return "", 0, 0, false
	}
	b.u(2) // show_frame, error_resilient_mode
	if b.u(24) != 0x498342 {
		return "", 0, 0, false
	}
	depth := 8
	if profile >= 2 {
		depth = 10
		if b.flag() {
			depth = 12
		}
	}
	var base string
	if b.u(3) == 7 { // RGB
		if profile&1 == 0 || b.flag() {
			return "", 0, 0, false
		}
		base = "gbrp"
	} else {
		b.u(1)
		ssx, ssy := true, true
		if profile&1 == 1 {
			ssx, ssy = b.flag(), b.flag()
			if (ssx && ssy && profile == 1) || b.flag() {
				return "", 0, 0, false
			}
		}
		switch {
		case ssx && ssy:
			base = "yuv420p"
		case ssx:
			base = "yuv422p"
		case ssy:
			base = "yuv440p"
		default:
			base = "yuv444p"
		}
	}
	w, h = int(b.u(16))+1, int(b.u(16))+1
	if b.overrun {
		return "", 0, 0, false
	}
	if depth == 8 {
		return base, w, h, true
	}
	return base + itoa(depth) + "le", w, h, true
}

// ---- MPEG-4 Part 2 ----

// mpeg4VOLSize finds the first video object layer header in data and
// returns the picture size FFmpeg's MPEG-4 decoder takes from it.
func mpeg4VOLSize(data []byte) (w, h int, found, ok bool) {
	for i := 0; i+4 <= len(data); i++ {
		if data[i] != 0 || data[i+1] != 0 || data[i+2] != 1 || data[i+3] < 0x20 || data[i+3] > 0x2f {
			continue
		}
		b := newBitReader(data[i+4:])
		b.u(1)
		voType := b.u(8)
		if voType == 0x0e || voType == 0x0f { // studio profiles
			return 0, 0, true, false
		}
		if b.flag() {
			b.u(7) // vo_ver_id, vo_priority
		}
		if b.u(4) == 15 {
			b.u(16)
		}
		if b.flag() { // vol_control_parameters
			if b.u(2) != 1 {
				return 0, 0, true, false
			}
			b.u(1)
			if b.flag() {
				b.u(79)
			}
		}
		if b.u(2) != 0 { // rectangular shape only
			return 0, 0, true, false
		}
		if !b.flag() {
			return 0, 0, true, false
		}
		resolution := b.u(16)
		if resolution == 0 || !b.flag() {
			return 0, 0, true, false
		}
		if b.flag() { // fixed_vop_rate
			bits := 1
			for (uint64(1) << uint(bits)) < resolution {
				bits++
			}
			b.u(bits)
		}
		if !b.flag() {
			return 0, 0, true, false
		}
		w = int(b.u(13))
		if !b.flag() {
			return 0, 0, true, false
		}
		h = int(b.u(13))
		if !b.flag() || b.overrun || w == 0 || h == 0 {
			return 0, 0, true, false
		}
		return w, h, true, true
	}
	return 0, 0, false, true
}

// ---- still-picture codecs in video tracks ----

// mjpegFacts reads the markers of a JPEG picture up to its frame header.
func mjpegFacts(data []byte) (pixFmt string, w, h int, ok bool) {
	if len(data) < 4 || data[0] != 0xff || data[1] != 0xd8 {
		return "", 0, 0, false
	}
	itu601 := false
	p := 2
	for p+4 <= len(data) {
		if data[p] != 0xff {
			return "", 0, 0, false
		}
		marker := data[p+1]
		if marker == 0xff {
			p++
			continue
		}
		length := int(binary.BigEndian.Uint16(data[p+2:]))
		if length < 2 || p+2+length > len(data) {
			return "", 0, 0, false
		}
		segment := data[p+4 : p+2+length]
		switch {
		case marker == 0xc0 || marker == 0xc1:
			return jpegFrameFacts(segment, itu601)
		case marker >= 0xc2 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc:
			return "", 0, 0, false // progressive, lossless, arithmetic: left to ffprobe
		case marker == 0xfe: // COM
			if bytes.HasPrefix(segment, []byte("CS=ITU601")) {
				itu601 = true
			}
		case marker == 0xee: // APP14 (Adobe transform)
			return "", 0, 0, false
		case marker >= 0xe1 && marker <= 0xef:
			// Other application segments can carry vendor-specific
			// decoder switches; only plain EXIF/ICC data is common.
			if !bytes.HasPrefix(segment, []byte("Exif\x00")) && !bytes.HasPrefix(segment, []byte("ICC_PROFILE\x00")) {
				return "", 0, 0, false
			}
		case marker == 0xe0:
			if !bytes.HasPrefix(segment, []byte("JFIF\x00")) && !bytes.HasPrefix(segment, []byte("AVI1")) && !bytes.HasPrefix(segment, []byte("JFXX\x00")) {
				return "", 0, 0, false
			}
		case marker == 0xdb || marker == 0xc4 || marker == 0xdd:
		default:
			return "", 0, 0, false
		}
		p += 2 + length
	}
	return "", 0, 0, false
}

func jpegFrameFacts(sof []byte, itu601 bool) (string, int, int, bool) {
	if len(sof) < 6 || sof[0] != 8 {
		return "", 0, 0, false
	}
	h := int(binary.BigEndian.Uint16(sof[1:]))
	w := int(binary.BigEndian.Uint16(sof[3:]))
	n := int(sof[5])
	if w == 0 || h == 0 || len(sof) < 6+3*n {
		return "", 0, 0, false
	}
	switch n {
	case 1:
		return "gray", w, h, true
	case 3:
	default:
		return "", 0, 0, false
	}
	if sof[6] == 'R' && sof[9] == 'G' && sof[12] == 'B' {
		return "", 0, 0, false // RGB-tagged components
	}
	var id uint32
	for i := 0; i < 3; i++ {
		c := sof[6+3*i:]
		hc, vc := uint32(c[1]>>4), uint32(c[1]&0xf)
		if hc == 0 || vc == 0 || hc > 4 || vc > 4 {
			return "", 0, 0, false
		}
		id |= hc<<(28-8*uint(i)) | vc<<(24-8*uint(i))
	}
	if id&0xD0D0D0D0 == 0 {
		id -= (id & 0xF0F0F0F0) >> 1
	}
	if id&0x0D0D0D0D == 0 {
		id -= (id & 0x0F0F0F0F) >> 1
	}
	prefix := "yuvj"
	if itu601 {
		prefix = "yuv"
	}
	switch id {
	case 0x11111100:
		return prefix + "444p", w, h, true
	case 0x22111100:
		return prefix + "420p", w, h, true
	case 0x21111100:
		return prefix + "422p", w, h, true
	}
	return "", 0, 0, false
}

// pngFacts reads the chunks of a PNG picture up to its first IDAT.
func pngFacts(data []byte) (pixFmt string, w, h int, ok bool) {
	if len(data) < 33 || !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) ||
		string(data[12:16]) != "IHDR" || binary.BigEndian.Uint32(data[8:]) != 13 {
		return "", 0, 0, false
	}
	w = int(binary.BigEndian.Uint32(data[16:]))
	h = int(binary.BigEndian.Uint32(data[20:]))
	depth, colorType := data[24], data[25]
	if w <= 0 || h <= 0 || w > maxPictureSide || h > maxPictureSide || data[26] != 0 || data[27] != 0 || data[28] > 1 {
		return "", 0, 0, false
	}
	switch {
	case depth == 8 && colorType == 2:
		pixFmt = "rgb24"
	case depth == 8 && colorType == 6:
		pixFmt = "rgba"
	case depth == 8 && colorType == 0:
		pixFmt = "gray"
	case depth == 16 && colorType == 0:
		pixFmt = "gray16be"
	case depth == 16 && colorType == 2:
		pixFmt = "rgb48be"
	case depth == 16 && colorType == 6:
		pixFmt = "rgba64be"
	case colorType == 3 && (depth == 1 || depth == 2 || depth == 4 || depth == 8):
		pixFmt = "pal8"
	case depth == 8 && colorType == 4:
		pixFmt = "ya8"
	case depth == 16 && colorType == 4:
		pixFmt = "ya16be"
	default:
		return "", 0, 0, false
	}
	// A tRNS chunk turns RGB and grey pictures into ones with alpha.
	p := 33
	for p+8 <= len(data) {
		size := int(binary.BigEndian.Uint32(data[p:]))
		kind := string(data[p+4 : p+8])
		if kind == "IDAT" {
			return pixFmt, w, h, true
		}
		if kind == "tRNS" && colorType != 3 {
			return "", 0, 0, false
		}
		if size < 0 || size > len(data) {
			return "", 0, 0, false
		}
		p += 12 + size
	}
	return "", 0, 0, false
}

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	var buf [20]byte
	i := len(buf)
	negative := v < 0
	if negative {
		v = -v
	}
	for v > 0 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	if negative {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

// hevcSEIOK checks that an SEI NAL unit is a well-formed list of messages.
func hevcSEIOK(nal []byte) bool {
	rbsp := unescapeRBSP(nal[2:])
	p := 0
	for {
		if p >= len(rbsp) {
			return false
		}
		if len(rbsp)-p == 1 && rbsp[p] == 0x80 {
			return true
		}
		for i := 0; i < 2; i++ { // payload type, then size
			v := 0
			for p < len(rbsp) && rbsp[p] == 0xff {
				v += 255
				p++
			}
			if p >= len(rbsp) {
				return false
			}
			v += int(rbsp[p])
			p++
			if i == 1 {
				if v > len(rbsp)-p {
					return false
				}
				p += v
			}
		}
	}
}
