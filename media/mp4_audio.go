package media

import "encoding/binary"

// The audio parsers return the sample rate and channel count ffprobe reports
// after FFmpeg 5.1's decoder has read the codec configuration and the first
// frame, or ok=false when they cannot be sure of them.

var aacSampleRates = [13]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// aacConfig parses an AudioSpecificConfig the way FFmpeg's
// avpriv_mpeg4audio_get_config2 (with sync extension search) and the AAC
// decoder do. Only AAC-LC with a channel configuration and an explicit "no
// SBR" signal is accepted: without that signal the decoder may switch to
// HE-AAC (and double the sample rate) when it meets SBR data in the stream.
func aacConfig(asc []byte) (sampleRate, chanConfig int, ok bool) {
	b := newBitReader(asc)
	objectType := b.u(5)
	if objectType == 31 {
		objectType = 32 + b.u(6)
	}
	if objectType != 2 {
		return 0, 0, false
	}
	index := b.u(4)
	if index > 12 {
		return 0, 0, false
	}
	chanConfig = int(b.u(4))
	if chanConfig < 1 || chanConfig > 7 || b.overrun {
		return 0, 0, false
	}
	// GASpecificConfig: 960-sample frames are not supported by FFmpeg.
	if b.show(1) == 1 {
		return 0, 0, false
	}
	sbrSignalled := false
	for b.left() > 15 {
		if b.show(11) == 0x2b7 {
			b.u(11)
			ext := b.u(5)
			if ext == 31 {
				ext = 32 + b.u(6)
			}
			if ext == 5 && b.u(1) == 0 && !b.overrun {
				sbrSignalled = true
			}
			break
		}
		b.u(1)
	}
	if !sbrSignalled {
		return 0, 0, false
	}
	return aacSampleRates[index], chanConfig, true
}

// aacChannels is FFmpeg's channel count for a channel configuration.
func aacChannels(chanConfig int) int {
	if chanConfig == 7 {
		return 8
	}
	return chanConfig
}

// aacFirstElementOK checks the first channel element of the first raw data
// block (after the fill and data stream elements an encoder may put first,
// such as FFmpeg's encoder signature): FFmpeg's decoder reconfigures
// mono/stereo when the element does not match the channel configuration.
func aacFirstElementOK(frame []byte, chanConfig int) bool {
	b := newBitReader(frame)
	for elements := 0; elements < 64 && !b.overrun; elements++ {
		switch b.u(3) {
		case 0: // SCE
			return chanConfig != 2 && !b.overrun
		case 1: // CPE
			return chanConfig == 2 && !b.overrun
		case 4: // DSE
			b.u(4)
			align := b.flag()
			count := int(b.u(8))
			if count == 255 {
				count += int(b.u(8))
			}
			if align && b.pos%8 != 0 {
				b.skip(8 - b.pos%8)
			}
			b.skip(8 * count)
		case 6: // FIL
			count := int(b.u(4))
			if count == 15 {
				count += int(b.u(8)) - 1
			}
			b.skip(8 * count)
		default:
			return false
		}
	}
	return false
}

var mp3SampleRates = [3]int{44100, 48000, 32000}

// mp3Header reads an MPEG audio layer III frame header.
func mp3Header(h []byte) (sampleRate, channels int, ok bool) {
	if len(h) < 4 || h[0] != 0xff || h[1]&0xe0 != 0xe0 {
		return 0, 0, false
	}
	version := (h[1] >> 3) & 3
	layer := (h[1] >> 1) & 3
	bitrateIndex := h[2] >> 4
	rateIndex := (h[2] >> 2) & 3
	if version == 1 || layer != 1 || bitrateIndex == 0 || bitrateIndex == 15 || rateIndex == 3 {
		return 0, 0, false
	}
	sampleRate = mp3SampleRates[rateIndex]
	switch version {
	case 2:
		sampleRate /= 2
	case 0:
		sampleRate /= 4
	}
	channels = 2
	if h[3]>>6 == 3 {
		channels = 1
	}
	return sampleRate, channels, true
}

var (
	ac3SampleRates = [3]int{48000, 44100, 32000}
	ac3Bitrates    = [19]int{32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640}
	ac3Channels    = [8]int{2, 1, 2, 3, 3, 4, 4, 5}
)

// ac3Header reads an AC-3 sync frame header: sample rate, channels and the
// nominal bitrate.
func ac3Header(h []byte) (sampleRate, channels, bitrate int, ok bool) {
	if len(h) < 8 || h[0] != 0x0b || h[1] != 0x77 {
		return 0, 0, 0, false
	}
	b := newBitReader(h[4:])
	fscod, frmsizecod := b.u(2), b.u(6)
	bsid := b.u(5)
	b.u(3)
	acmod := b.u(3)
	if fscod == 3 || frmsizecod >= 38 || bsid > 8 {
		return 0, 0, 0, false
	}
	if acmod&1 == 1 && acmod != 1 {
		b.u(2)
	}
	if acmod&4 != 0 {
		b.u(2)
	}
	if acmod == 2 {
		b.u(2)
	}
	lfe := int(b.u(1))
	if b.overrun {
		return 0, 0, 0, false
	}
	return ac3SampleRates[fscod], ac3Channels[acmod] + lfe, ac3Bitrates[frmsizecod>>1] * 1000, true
}

// eac3Header reads the header of an independent E-AC-3 substream; frameSize
// is its length in bytes.
func eac3Header(h []byte) (sampleRate, channels, bitrate, frameSize int, ok bool) {
	if len(h) < 8 || h[0] != 0x0b || h[1] != 0x77 {
		return 0, 0, 0, 0, false
	}
	b := newBitReader(h[2:])
	strmtyp, substream := b.u(2), b.u(3)
	frameSize = (int(b.u(11)) + 1) * 2
	fscod := b.u(2)
	blocks := 6
	if fscod == 3 {
		fscod2 := b.u(2)
		if fscod2 == 3 {
			return 0, 0, 0, 0, false
		}
		sampleRate = ac3SampleRates[fscod2] / 2
	} else {
		blocks = [4]int{1, 2, 3, 6}[b.u(2)]
		sampleRate = ac3SampleRates[fscod]
	}
	acmod, lfe := b.u(3), int(b.u(1))
	bsid := b.u(5)
	if strmtyp != 0 || substream != 0 || bsid <= 10 || bsid > 16 || b.overrun {
		return 0, 0, 0, 0, false
	}
	bitrate = frameSize * 8 * sampleRate / (blocks * 256)
	return sampleRate, ac3Channels[acmod] + lfe, bitrate, frameSize, true
}

// opusConfig reads dOps the way FFmpeg's Opus decoder reads the OpusHead it
// is rebuilt into.
func opusConfig(dops []byte) (channels int, ok bool) {
	if len(dops) < 11 || dops[0] != 0 {
		return 0, false
	}
	channels = int(dops[1])
	switch family := dops[10]; family {
	case 0:
		if channels < 1 || channels > 2 {
			return 0, false
		}
	case 1:
		if channels < 1 || channels > 8 || len(dops) < 13+channels {
			return 0, false
		}
		streams, coupled := int(dops[11]), int(dops[12])
		if streams == 0 || coupled > streams || streams+coupled > 255 {
			return 0, false
		}
		for _, index := range dops[13 : 13+channels] {
			if int(index) >= streams+coupled && index != 255 {
				return 0, false
			}
		}
	default:
		return 0, false
	}
	return channels, true
}

var flacSampleRates = [12]int{0, 88200, 176400, 192000, 8000, 16000, 22050, 24000, 32000, 44100, 48000, 96000}

// flacStreamInfo reads the STREAMINFO block of dfLa (whose first four bytes
// are the box version and flags).
func flacStreamInfo(dfla []byte) (sampleRate, channels int, ok bool) {
	if len(dfla) < 42 || dfla[0] != 0 || dfla[4]&0x7f != 0 || binary.BigEndian.Uint32(dfla[4:])&0xffffff != 34 {
		return 0, 0, false
	}
	info := dfla[8:42]
	b := newBitReader(info)
	b.u(16)
	if b.u(16) < 16 { // max block size
		return 0, 0, false
	}
	b.u(48)
	sampleRate = int(b.u(20))
	channels = int(b.u(3)) + 1
	bps := b.u(5) + 1
	if sampleRate == 0 || (bps != 8 && bps != 12 && bps != 16 && bps != 20 && bps != 24) {
		return 0, 0, false
	}
	return sampleRate, channels, true
}

// flacFrameAgrees checks that the first frame header states the same
// channels and sample rate as STREAMINFO: FFmpeg reports the frame's.
func flacFrameAgrees(frame []byte, sampleRate, channels int) bool {
	b := newBitReader(frame)
	if b.u(15) != 0x7ffc {
		return false
	}
	b.u(5) // blocking strategy, block size code
	rateCode := b.u(4)
	mode := int(b.u(4))
	frameChannels := 2
	switch {
	case mode < 8:
		frameChannels = mode + 1
	case mode > 10:
		return false
	}
	if bps := b.u(3); bps == 3 || bps == 7 || b.u(1) != 0 || b.overrun {
		return false
	}
	if rateCode >= 12 || (rateCode != 0 && flacSampleRates[rateCode] != sampleRate) {
		return false
	}
	return frameChannels == channels
}

// alacConfig reads the 24-byte ALACSpecificConfig that follows the version
// and flags of the 'alac' box.
func alacConfig(payload []byte) (sampleRate, channels int, ok bool) {
	if len(payload) != 28 {
		return 0, 0, false
	}
	c := payload[4:]
	frameLength := binary.BigEndian.Uint32(c)
	depth := c[5]
	channels = int(c[9])
	sampleRate = int(binary.BigEndian.Uint32(c[20:]))
	if frameLength == 0 || frameLength > 4096*4096 || channels < 1 || channels > 8 || sampleRate <= 0 ||
		(depth != 16 && depth != 20 && depth != 24 && depth != 32) {
		return 0, 0, false
	}
	return sampleRate, channels, true
}
