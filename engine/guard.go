package engine

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/openrender/openrender/template"
)

// The literal guard is an interim, deliberately coarse check on the parts of
// a command that are not placeholders: they must not name a file outside
// the command's work dir, a URL or protocol, or use the few options that
// write to a path taken from input metadata. It refuses what ffmpeg would
// otherwise happily do for any API key (read the state store through
// "-i ../../openrender.db", fetch "http://169.254.169.254/", write
// "/tmp/x"). It is a deny-list over an over-approximation of ffmpeg's
// unescaping (backslashes and quotes removed before matching), so it errs
// towards refusing; it is not the defence against hostile input *content*
// (an HLS playlist naming an absolute path), which needs the sandbox. Both
// the option allow-list and the sandbox replace and extend it.
var (
	// A path that starts at the root or a home directory, at the start of
	// an argument or after a filtergraph separator.
	absolutePath = regexp.MustCompile(`(^|[=:,;\[\]\s|])[/~]`)
	// A ".." path segment.
	parentDir = regexp.MustCompile(`(^|[/=:,;\[\]\s|])\.\.([/\\]|$|[:,;\]\s|])`)
	// A URL or ffmpeg protocol prefix ("http:", "concat:", "subfile,,").
	protocolPrefix = regexp.MustCompile(`(?i)(^|[=:,;\[\]\s|])(file|https?|tcp|udp|rtmpt?[es]?|rtsp|rtp|srtp|srt|s?ftp|concatf?|subfile|pipe|fd|data|crypto|tls|dtls|unix|gophers?|icecast|smb|ipfs|ipns|sctp|zmq|rist|librist|bluray|cache|async|hls|mmsh|mmst|prompeg|tee|md5|httpproxy)[:,]`)
	// Options that write to a path ffmpeg takes from an input's metadata,
	// or read an option's value from a file (ffmpeg 7's "-/opt").
	forbiddenOptions = map[string]string{
		"-dump_attachment": "writes files named by the input's metadata",
	}
)

// guardLiterals checks every literal part of every step of t.
func guardLiterals(t *template.Template, field string) template.Errors {
	var problems template.Errors
	for step, words := range t.Steps {
		loc := []any{"body", field}
		if len(t.Steps) > 1 {
			loc = append(loc, step)
		}
		for _, w := range words {
			if msg := literalProblem(w); msg != "" {
				problems = append(problems, template.NewFieldError(msg, loc...))
			}
		}
	}
	return problems
}

func literalProblem(w template.Word) string {
	shown := w.String()
	if len(shown) > 80 {
		shown = shown[:77] + "..."
	}
	if len(w) > 0 && w[0].Alias == "" {
		opt := w[0].Literal
		if strings.HasPrefix(opt, "-/") {
			return fmt.Sprintf("%q: reading an option's value from a file is not allowed", shown)
		}
		name, _, _ := strings.Cut(opt, ":") // per-stream forms: -dump_attachment:t
		if why, bad := forbiddenOptions[name]; bad && len(w) == 1 {
			return fmt.Sprintf("%q: this option %s, which is not allowed", shown, why)
		}
	}
	for _, p := range w {
		if p.Alias != "" {
			continue
		}
		// Over-approximate ffmpeg's escaping: "mo\vie=\/etc" and
		// "'/etc'" both reach ffmpeg as a path.
		text := strings.NewReplacer(`\`, "", `'`, "", `"`, "").Replace(p.Literal)
		switch {
		case p.Literal == "-" && len(w) == 1:
			// "-" alone is stdin or stdout (which are /dev/null): fine,
			// and how "-f null -" discards its output.
		case protocolPrefix.MatchString(text):
			return fmt.Sprintf("%q names a URL or an ffmpeg protocol; give inputs as URLs in input_files and refer to them through placeholders", shown)
		case absolutePath.MatchString(text):
			return fmt.Sprintf("%q names a path outside the command's own directory; refer to files only through {{in_...}} and {{out_...}} placeholders", shown)
		case parentDir.MatchString(text):
			return fmt.Sprintf("%q climbs out of the command's own directory with \"..\"; refer to files only through placeholders", shown)
		}
	}
	return ""
}
