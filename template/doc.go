// Package template turns a client's FFmpeg command string and its declared
// file aliases into an argv template, and checks every rule the API places
// on them.
//
// A client submits something like
//
//	{"input_files":  {"in_video": "https://…/clip.mp4"},
//	 "output_files": {"out_video": "small.mp4"},
//	 "ffmpeg_command": "ffmpeg -i {{in_video}} -vf scale=320:180 {{out_video}}"}
//
// and the engine later runs ffmpeg with the placeholders replaced by local
// paths it chose itself. [Parse] does the checking and returns a [Template];
// [Template.Argv] does the substitution.
//
// # Why there is no shell
//
// The command is never given to a shell. A shell would turn the user's text
// into a program: `;`, `|`, `&`, `$(…)`, backticks and redirections would let
// a client run anything on the worker, and every variable and glob expansion
// would make the meaning of an argument depend on the machine. Instead the
// command is split into words by [Lex] with the quoting rules of a POSIX shell
// (so that commands copied from a terminal keep working) and the words go
// straight to exec as argv. Because users expect a shell, the characters that
// would do something in one are rejected when unquoted instead of being passed
// on silently: a client who wrote `… ; rm x` must learn that it did not do what
// they meant. Quoting such a character makes it an ordinary argument byte.
//
// # Tokenizer rules
//
//   - Words are split on unquoted spaces and tabs.
//   - '…' keeps everything literally up to the next single quote.
//   - "…" keeps everything literally except that a backslash escapes ", \, $,
//     ` and a newline; any other backslash stays. $ and ` are literal: there is
//     no expansion of any kind, in any quoting.
//   - An unquoted backslash makes the next character literal (\; is a ';').
//   - Backslash-newline (or backslash-CRLF) outside single quotes is removed,
//     so multi-line commands pasted from a shell script work.
//   - Adjacent pieces join into one word: a'b c'"d" is the word "ab cd";
//     empty quotes make an empty word.
//   - Unquoted ; | & $ ` < > and line breaks between words are rejected, as
//     are NUL and other control characters (tab, newline and CR excepted)
//     anywhere, invalid UTF-8, and unbalanced quotes. Line breaks before the
//     first word or after the last one are ignored.
//   - A leading unquoted word ffmpeg is dropped. Any other first word
//     ('ffmpeg' quoted, /usr/bin/ffmpeg, ffprobe) stays as ffmpeg's first
//     argument: the program is always ffmpeg, chosen by the engine.
//
// # Placeholders
//
// Files are referred to only through placeholders, {{alias}} or <<alias>>
// (the second form exists because {{ }} collides with the expression syntax
// of n8n, Make and Zapier). Spaces or tabs may pad the name: {{ in_video }}.
// Placeholders are recognised in every quoting context, because they are
// often part of a quoted filter argument such as -vf 'subtitles={{in_subs}}'.
//
// "{{" is reserved: wherever it appears it must begin a well-formed
// placeholder, so a typo such as {{in-video}} is reported rather than passed
// to ffmpeg as a file name. "<<" that is not a placeholder is ordinary text
// inside quotes and a redirection (so rejected) outside them. Text that would
// read as a placeholder only after quotes or escapes are removed, such as
// '{'{in_video}} or \<\<in_video\>\>, is rejected too: it could never be
// substituted, and would reach ffmpeg as a literal "{{in_video}}".
//
// # Request rules checked by Parse
//
//   - input aliases match in_[A-Za-z0-9_]+, output aliases out_[A-Za-z0-9_]+,
//     each at most [MaxAliasLen] bytes; at most [MaxInputs] inputs and
//     [MaxOutputs] outputs; either map may be empty.
//   - output file names are a plain base name of letters, digits, _ and -
//     with exactly one extension (see [ValidOutputFileName]), and no two
//     outputs share one. An output whose alias starts with [SetAliasPrefix]
//     may instead be an image sequence such as "frame_%03d.jpg" (see
//     [ValidImageSequenceName]); no other output's name may be one it could
//     match.
//   - 1 to [MaxSteps] commands, each at most [MaxCommandBytes] bytes.
//   - every placeholder is declared, and every declared alias is used by at
//     least one step. A later step of a chain may read an earlier step's
//     output through its placeholder.
//
// All problems are reported together as [Errors], in a fixed order, each
// carrying the location of the offending field in the request body so that
// the HTTP layer can answer 422 with a "detail" list.
//
// This package deliberately knows nothing about ffmpeg's options or
// filtergraphs; the allow-list of options, formats and filters is a separate
// layer, package template/policy, that works on the [Word]s produced here,
// where placeholders are still known (see [Word.IsPlaceholder]).
package template
