package policy

import "strings"

// whitespaces is libavutil's WHITESPACES: what av_get_token skips before a
// token and trims after it.
const whitespaces = " \n\t\r"

// getToken is a port of libavutil's av_get_token (avstring.c, unchanged
// since FFmpeg 1.0): it reads from s up to the first unescaped, unquoted byte
// of term, removing one level of escaping on the way. A backslash makes the
// next byte literal; '…' keeps everything up to the next quote literally.
// Leading whitespace is skipped and trailing whitespace trimmed, except
// whitespace that was escaped or quoted. It returns the token and the rest
// of s, starting at the terminator (or empty).
//
// Every check of a filtergraph goes through this one function so that the
// validator reads a graph exactly as ffmpeg will, however the user chose to
// quote it: "mo\vie", "'movie'" and "m'ov'ie" are all the filter movie.
func getToken(s, term string) (token, rest string) {
	p := strings.TrimLeft(s, whitespaces)
	out := make([]byte, 0, len(p))
	end := 0 // out[:end] is protected from trimming (escaped or quoted)
	i := 0
	for i < len(p) && strings.IndexByte(term, p[i]) < 0 {
		c := p[i]
		i++
		switch {
		case c == '\\' && i < len(p):
			out = append(out, p[i])
			i++
			end = len(out)
		case c == '\'':
			for i < len(p) && p[i] != '\'' {
				out = append(out, p[i])
				i++
			}
			if i < len(p) {
				i++
				end = len(out)
			}
		default:
			out = append(out, c)
		}
	}
	for len(out) > end && strings.IndexByte(whitespaces, out[len(out)-1]) >= 0 {
		out = out[:len(out)-1]
	}
	return string(out), p[i:]
}

// isKeyChar is libavutil/opt.c's is_key_char: option keys in filter
// arguments are made of these bytes and are never unescaped.
func isKeyChar(c byte) bool {
	return ('a' <= c|32 && c|32 <= 'z') || ('0' <= c && c <= '9') || c == '-' || c == '_' || c == '/' || c == '.'
}

// getKey is libavutil/opt.c's get_key with delim "=": a run of key bytes,
// optional whitespace, then '='. ok is false when s does not start with a
// key (the argument is then positional).
func getKey(s string) (key, rest string, ok bool) {
	p := strings.TrimLeft(s, whitespaces)
	i := 0
	for i < len(p) && isKeyChar(p[i]) {
		i++
	}
	key = p[:i]
	after := strings.TrimLeft(p[i:], whitespaces)
	if after == "" || after[0] != '=' {
		return "", s, false
	}
	return key, after[1:], true
}
