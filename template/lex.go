package template

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Part is one piece of a Word: either literal text or a placeholder.
// Exactly one field is set; Alias set means a placeholder for that alias.
type Part struct {
	Literal string
	Alias   string
}

// Word is one argv element before substitution. Adjacent literal pieces are
// always merged into one Part and empty literals are dropped, so a Word built
// by Lex has a canonical form; an empty word (from empty quotes) has no parts.
type Word []Part

// String returns the word as text with every placeholder shown as {{alias}}.
// It is meant for messages, not for running anything.
func (w Word) String() string {
	var b strings.Builder
	for _, p := range w {
		if p.Alias != "" {
			b.WriteString("{{" + p.Alias + "}}")
		} else {
			b.WriteString(p.Literal)
		}
	}
	return b.String()
}

// IsPlaceholder reports whether the word is exactly one placeholder and
// nothing else, which is what an input (-i) or output position requires.
func (w Word) IsPlaceholder() (alias string, ok bool) {
	if len(w) == 1 && w[0].Alias != "" {
		return w[0].Alias, true
	}
	return "", false
}

// LexError is a problem found while splitting a command into words.
// Msg is a complete sentence for the client; it already names Token and
// Offset (a byte offset into the command).
type LexError struct {
	Offset int
	Token  string
	Msg    string
}

func (e *LexError) Error() string { return e.Msg }

// Lex splits a command into argv words following the rules in the package
// documentation. The leading word "ffmpeg", if present, is dropped. The error,
// if any, is a *LexError.
func Lex(command string) ([]Word, error) {
	lexed, err := lexCommand(command)
	if err != nil {
		return nil, err
	}
	return lexed.words, nil
}

// placeholderUse records where a placeholder appeared and how it was written,
// so that Parse can quote the user's own spelling (<< in_x >>) in messages.
type placeholderUse struct {
	alias   string
	written string
	offset  int
}

type lexedCommand struct {
	words []Word
	uses  []placeholderUse
}

type quoteState int

const (
	unquoted quoteState = iota
	inSingleQuotes
	inDoubleQuotes
)

// lexer holds the state of one scan. The pending literal run keeps the source
// offset of each of its bytes so that a problem found only once the run is
// complete (a placeholder assembled from several quoted pieces) can still be
// reported at the place the user wrote it.
type lexer struct {
	src   string
	pos   int
	state quoteState

	// quoteStart is where the currently open quote began, for the
	// "unbalanced quote" message.
	quoteStart int

	result lexedCommand

	inWord         bool
	sawFirstWord   bool
	parts          Word
	literal        []byte
	literalOffsets []int
	// plain is true while the current word consists only of unquoted,
	// unescaped literal bytes; only such a word "ffmpeg" names the program.
	plain bool
}

func lexCommand(src string) (*lexedCommand, error) {
	if err := checkCharacters(src); err != nil {
		return nil, err
	}
	l := &lexer{src: src}
	if err := l.run(); err != nil {
		return nil, err
	}
	if len(l.result.words) == 0 {
		msg := "the command is empty; write ffmpeg's arguments, for example: -i {{in_video}} {{out_video}}"
		if l.sawFirstWord {
			msg = "the command has no arguments after ffmpeg; write them, for example: ffmpeg -i {{in_video}} {{out_video}}"
		}
		return nil, &LexError{Offset: len(src), Token: "", Msg: msg}
	}
	return &l.result, nil
}

// checkCharacters rejects bytes that have no business in a command line
// anywhere, quoted or not: they are invisible in logs and messages, NUL
// cannot be passed through exec at all, and the rest only ever appear when
// something upstream mangled the text.
func checkCharacters(src string) error {
	for i, r := range src {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(src[i:]); size == 1 {
				return &LexError{Offset: i, Token: src[i : i+1],
					Msg: fmt.Sprintf("invalid UTF-8 byte 0x%02x at offset %d; the command must be UTF-8 text", src[i], i)}
			}
		}
		if isForbiddenControl(r) {
			return &LexError{Offset: i, Token: string(r),
				Msg: fmt.Sprintf("control character %U at offset %d is not allowed; only tab, newline and carriage return may appear", r, i)}
		}
	}
	return nil
}

func isForbiddenControl(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return false
	case r < 0x20 || r == 0x7f:
		return true
	case r >= 0x80 && r <= 0x9f: // C1 controls
		return true
	}
	return false
}

func (l *lexer) run() error {
	for l.pos < len(l.src) {
		var err error
		switch l.state {
		case unquoted:
			err = l.stepUnquoted()
		case inSingleQuotes:
			err = l.stepSingle()
		case inDoubleQuotes:
			err = l.stepDouble()
		}
		if err != nil {
			return err
		}
	}
	if l.state != unquoted {
		quote := "'"
		if l.state == inDoubleQuotes {
			quote = `"`
		}
		return &LexError{Offset: l.quoteStart, Token: quote,
			Msg: fmt.Sprintf("unbalanced %s quote: the quote opened at offset %d is never closed", quote, l.quoteStart)}
	}
	return l.endWord()
}

// shellMetaReasons says, for each character a shell would act on, what the
// user probably expected and why it cannot happen here.
var shellMetaReasons = map[byte]string{
	';': "commands cannot be chained",
	'|': "there are no pipes",
	'&': "commands cannot be chained or run in the background",
	'$': "there is no variable or command expansion",
	'`': "there is no command substitution",
	'<': "there is no input redirection",
	'>': "there is no output redirection",
}

func shellMetaError(offset int, c byte) error {
	var msg string
	switch c {
	case '\n', '\r':
		name := "line break"
		if c == '\r' {
			name = "carriage return"
		}
		msg = fmt.Sprintf("unquoted %s at offset %d: OpenRender runs ffmpeg without a shell, so a line break cannot separate commands; end the line with \\ to continue the command, or quote the line break if it is part of an argument",
			name, offset)
	default:
		msg = fmt.Sprintf("unquoted '%c' at offset %d: OpenRender runs ffmpeg without a shell, so %s; if it is part of an argument, quote it, for example 'a%cb'",
			c, offset, shellMetaReasons[c], c)
	}
	return &LexError{Offset: offset, Token: string(c), Msg: msg}
}

func (l *lexer) stepUnquoted() error {
	c := l.src[l.pos]
	switch c {
	case ' ', '\t':
		l.pos++
		return l.endWord()
	case '\n', '\r':
		// Line breaks before the first word or after the last are
		// harmless (text editors and heredocs add them); between words
		// they would start a second command in a shell, so they are
		// rejected to avoid a silent change of meaning.
		leading := !l.inWord && len(l.result.words) == 0 && !l.sawFirstWord
		if leading {
			l.pos++
			return nil
		}
		if isBlank(l.src[l.pos:]) {
			l.pos = len(l.src) // nothing but blanks follows: done
			return l.endWord()
		}
		return shellMetaError(l.pos, c)
	case '\\':
		if n := lineContinuation(l.src, l.pos); n > 0 {
			l.pos += n
			return nil
		}
		if l.pos+1 >= len(l.src) {
			return &LexError{Offset: l.pos, Token: `\`,
				Msg: fmt.Sprintf(`trailing backslash at offset %d escapes nothing; remove it or quote it ('\')`, l.pos)}
		}
		l.startWord()
		l.plain = false
		_, size := utf8.DecodeRuneInString(l.src[l.pos+1:])
		for i := 0; i < size; i++ {
			l.addLiteral(l.src[l.pos+1+i], l.pos+1+i)
		}
		l.pos += 1 + size
		return nil
	case '\'':
		l.openQuote(inSingleQuotes)
		return nil
	case '"':
		l.openQuote(inDoubleQuotes)
		return nil
	case '{':
		if strings.HasPrefix(l.src[l.pos:], "{{") {
			return l.strictPlaceholder()
		}
	case '<':
		if matched, err := l.tryPlaceholder(); matched || err != nil {
			return err
		}
		return shellMetaError(l.pos, c)
	case ';', '|', '&', '$', '`', '>':
		return shellMetaError(l.pos, c)
	}
	l.startWord()
	l.addLiteral(c, l.pos)
	l.pos++
	return nil
}

func (l *lexer) stepSingle() error {
	c := l.src[l.pos]
	switch c {
	case '\'':
		l.state = unquoted
		l.pos++
		return nil
	case '{', '<':
		if handled, err := l.quotedPlaceholder(); handled {
			return err
		}
	}
	l.addLiteral(c, l.pos)
	l.pos++
	return nil
}

func (l *lexer) stepDouble() error {
	c := l.src[l.pos]
	switch c {
	case '"':
		l.state = unquoted
		l.pos++
		return nil
	case '\\':
		if n := lineContinuation(l.src, l.pos); n > 0 {
			l.pos += n
			return nil
		}
		// POSIX: inside double quotes a backslash escapes only these;
		// before anything else it is an ordinary character.
		if l.pos+1 < len(l.src) && strings.IndexByte("\"\\$`", l.src[l.pos+1]) >= 0 {
			l.addLiteral(l.src[l.pos+1], l.pos+1)
			l.pos += 2
			return nil
		}
	case '{', '<':
		if handled, err := l.quotedPlaceholder(); handled {
			return err
		}
	}
	l.addLiteral(c, l.pos)
	l.pos++
	return nil
}

// lineContinuation returns the length of a backslash-newline or
// backslash-CRLF at pos, or 0.
func lineContinuation(src string, pos int) int {
	switch {
	case strings.HasPrefix(src[pos:], "\\\n"):
		return 2
	case strings.HasPrefix(src[pos:], "\\\r\n"):
		return 3
	}
	return 0
}

func isBlank(s string) bool {
	return strings.Trim(s, " \t\r\n") == ""
}

func (l *lexer) openQuote(state quoteState) {
	l.startWord()
	l.plain = false
	l.state = state
	l.quoteStart = l.pos
	l.pos++
}

func (l *lexer) startWord() {
	if !l.inWord {
		l.inWord = true
		l.plain = true
		l.parts = Word{}
	}
}

func (l *lexer) addLiteral(c byte, offset int) {
	l.literal = append(l.literal, c)
	l.literalOffsets = append(l.literalOffsets, offset)
}

// quotedPlaceholder handles a '{' or '<' inside quotes: "{{" must begin a
// placeholder; "<<" begins one if well formed, else stays literal text.
func (l *lexer) quotedPlaceholder() (handled bool, err error) {
	if strings.HasPrefix(l.src[l.pos:], "{{") {
		return true, l.strictPlaceholder()
	}
	if l.src[l.pos] == '<' {
		return l.tryPlaceholder()
	}
	return false, nil
}

// strictPlaceholder handles "{{", which must always begin a placeholder.
func (l *lexer) strictPlaceholder() error {
	if matched, err := l.tryPlaceholder(); matched || err != nil {
		return err
	}
	token := malformedPlaceholderText(l.src, l.pos)
	return &LexError{Offset: l.pos, Token: token,
		Msg: fmt.Sprintf(`malformed placeholder %s at offset %d: write {{name}} or <<name>> where name uses only letters, digits and _ (for example {{in_video}}); "{{" may not appear otherwise`,
			token, l.pos)}
}

// tryPlaceholder consumes a placeholder at the current position if there is
// a well-formed one, and reports whether it did. The error comes from
// checking the literal text that precedes the placeholder in the word.
func (l *lexer) tryPlaceholder() (matched bool, err error) {
	alias, end, ok := matchPlaceholder(l.src, l.pos)
	if !ok {
		return false, nil
	}
	l.startWord()
	l.plain = false
	if err := l.flushLiteral(); err != nil {
		return true, err
	}
	l.parts = append(l.parts, Part{Alias: alias})
	l.result.uses = append(l.result.uses, placeholderUse{alias: alias, written: l.src[l.pos:end], offset: l.pos})
	l.pos = end
	return true, nil
}

// matchPlaceholder reports whether src[pos:] starts with {{name}} or
// <<name>> (spaces or tabs allowed around name) and returns the name and the
// offset just past the closing brackets.
func matchPlaceholder(src string, pos int) (alias string, end int, ok bool) {
	var closer string
	switch {
	case strings.HasPrefix(src[pos:], "{{"):
		closer = "}}"
	case strings.HasPrefix(src[pos:], "<<"):
		closer = ">>"
	default:
		return "", 0, false
	}
	i := skipSpaces(src, pos+2)
	nameStart := i
	for i < len(src) && isAliasByte(src[i]) {
		i++
	}
	if i == nameStart {
		return "", 0, false
	}
	name := src[nameStart:i]
	i = skipSpaces(src, i)
	if !strings.HasPrefix(src[i:], closer) {
		return "", 0, false
	}
	return name, i + len(closer), true
}

func skipSpaces(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func isAliasByte(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// malformedPlaceholderText picks the text to quote for a bad placeholder at
// pos: up to the closing "}}" when that is near, else the rest of the word.
func malformedPlaceholderText(src string, pos int) string {
	const limit = 80
	rest := src[pos:]
	if i := strings.Index(rest[2:], "}}"); i >= 0 && i+4 <= limit && !strings.ContainsAny(rest[:i+4], "\n\r") {
		return rest[:i+4]
	}
	end := 2
	for end < len(rest) && strings.IndexByte(" \t\r\n'\"", rest[end]) < 0 {
		end++
	}
	return shorten(rest[:end], limit)
}

// flushLiteral moves the pending literal run into the current word. It
// rejects runs that read as placeholder syntax: such text can only arise
// from quotes or escapes splitting "{{" or "<<name>>", it would never be
// substituted, and ffmpeg would receive it literally.
func (l *lexer) flushLiteral() error {
	if len(l.literal) == 0 {
		return nil
	}
	text := string(l.literal)
	offsets := l.literalOffsets
	l.parts = append(l.parts, Part{Literal: text})
	l.literal = l.literal[:0]
	l.literalOffsets = l.literalOffsets[:0]

	if i := strings.Index(text, "{{"); i >= 0 {
		return &LexError{Offset: offsets[i], Token: "{{",
			Msg: fmt.Sprintf(`"{{" at offset %d is assembled from quoted or escaped pieces; "{{" is reserved for placeholders such as {{in_video}}, written in one piece`, offsets[i])}
	}
	for i := strings.Index(text, "<<"); i >= 0; {
		if _, end, ok := matchPlaceholder(text, i); ok {
			written := text[i:end]
			return &LexError{Offset: offsets[i], Token: written,
				Msg: fmt.Sprintf("%s at offset %d looks like a placeholder but is split by quotes or escapes; write the placeholder in one piece", written, offsets[i])}
		}
		next := strings.Index(text[i+1:], "<<")
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return nil
}

func (l *lexer) endWord() error {
	if !l.inWord {
		return nil
	}
	if err := l.flushLiteral(); err != nil {
		return err
	}
	word := l.parts
	isProgramName := l.plain && !l.sawFirstWord && len(word) == 1 && word[0].Literal == "ffmpeg"
	l.sawFirstWord = true
	l.inWord = false
	l.parts = nil
	if isProgramName {
		return nil
	}
	l.result.words = append(l.result.words, word)
	return nil
}
