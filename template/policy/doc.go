// Package policy decides whether an ffmpeg command may run: it checks a
// parsed [template.Template] against allow-lists of ffmpeg options, formats
// and filters, and reports every problem as a [template.FieldError] whose
// location ends with the offending argv word.
//
// It is a separate package from template because template is about the
// request's grammar (quoting, placeholders, aliases) and knows nothing of
// ffmpeg, while everything here is ffmpeg knowledge that changes with
// ffmpeg releases: which options take a value, which filters open files,
// how libavfilter unescapes a graph. It works on template's Words, not on
// substituted argv, because only there is a placeholder distinguishable from
// a literal path.
//
// The rules, in short (the README's "Command validation" has the long
// form): files are named only through placeholders (-i takes one input
// placeholder, an output position one output placeholder); options,
// -f formats and filters come from allow-lists, with their values checked;
// filtergraphs are parsed with FFmpeg's own two levels of quoting and
// escaping ([ParseGraph], tested against ffmpeg's reading of the same
// graphs), and a filter's file option takes exactly one placeholder;
// generated sources, sizes, loops and threads are bounded.
//
// Validation is one layer. It cannot see inside input files (an HLS or
// DASH file auto-detected from a downloaded input can name other paths), so
// ffmpeg must also run in a sandbox; the allow-list gives clear errors up
// front and keeps the sandbox's job small.
package policy
