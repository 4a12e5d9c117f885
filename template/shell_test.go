package template

import (
	"math/rand"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

// TestLexMatchesPOSIXShell compares Lex with a real /bin/sh on random
// commands built from quoting characters, to show that commands copied from
// a terminal split the same way. Characters that expand in a shell ($,
// backtick) are left out: not expanding them is the point of Lex.
func TestLexMatchesPOSIXShell(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a shell per case")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh on this machine")
	}
	pieces := []string{"a", "b", " ", "\t", "'", `"`, `\`, "\n", "\\\n", ";", "|", "&", ">", "{{in_x}}"}
	rng := rand.New(rand.NewSource(1))
	compared := 0
	for i := 0; i < 5000; i++ {
		var b strings.Builder
		for j := rng.Intn(12); j >= 0; j-- {
			b.WriteString(pieces[rng.Intn(len(pieces))])
		}
		command := b.String()
		// Lex ignores blank lines before the first word; in sh they would
		// separate an empty printf from the words.
		if strings.HasPrefix(strings.TrimLeft(strings.ReplaceAll(command, "\\\n", ""), " \t"), "\n") {
			continue
		}
		words, err := Lex(command)
		if err != nil {
			continue
		}
		out, err := exec.Command(sh, "-c", "printf '%s\\0' "+command).Output()
		if err != nil {
			t.Errorf("Lex accepts %q but sh fails: %v", command, err)
			continue
		}
		compared++
		var ours []string
		for _, w := range words {
			ours = append(ours, w.String())
		}
		theirs := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		if !reflect.DeepEqual(ours, theirs) {
			t.Errorf("%q: Lex %q, sh %q", command, ours, theirs)
		}
	}
	t.Logf("%d commands compared with %s", compared, sh)
	if compared < 300 {
		t.Fatalf("only %d commands compared", compared)
	}
}
