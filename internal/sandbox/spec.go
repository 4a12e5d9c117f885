package sandbox

import (
	"encoding/json"
	"fmt"
)

// specEnv carries the JSON Spec to the helper. Its presence is what makes a
// process the helper; the program never sees it (it gets Spec.Env only).
const specEnv = "OPENRENDER_SANDBOX_SPEC"

// HelperFailedExit is the helper's exit status when it could not set up the
// sandbox; it prints the reason to stderr, prefixed with HelperErrorPrefix.
const HelperFailedExit = 121

// HelperErrorPrefix starts every line the helper prints about itself.
const HelperErrorPrefix = "openrender-sandbox: "

// Spec is one sandboxed run.
type Spec struct {
	// Path is the program to run, an absolute path. Its directory is
	// readable (and executable) inside the sandbox.
	Path string `json:"path"`
	// Args are the arguments after the program name.
	Args []string `json:"args"`
	// Env is the program's whole environment.
	Env []string `json:"env"`
	// ReadOnly lists absolute paths (dirs or files) the program may read,
	// besides the system paths (see SystemReadOnlyPaths).
	ReadOnly []string `json:"read_only,omitempty"`
	// Writable lists absolute dirs the program may read and write.
	Writable []string `json:"writable,omitempty"`
	// Limits are the rlimits set before the program starts.
	Limits Limits `json:"limits"`

	// selfTest, when set, makes the helper check the sandbox from inside
	// before it execs the program; Probe uses it.
	SelfTest *selfTest `json:"self_test,omitempty"`
}

// Limits are resource limits; zero means "leave as inherited".
type Limits struct {
	// CPUSeconds is RLIMIT_CPU: past it the program gets SIGXCPU, and
	// SIGKILL a few seconds later.
	CPUSeconds uint64 `json:"cpu_seconds,omitempty"`
	// FileBytes is RLIMIT_FSIZE: writing past it gets SIGXFSZ.
	FileBytes uint64 `json:"file_bytes,omitempty"`
	// AddressSpaceBytes is RLIMIT_AS: allocations past it fail.
	AddressSpaceBytes uint64 `json:"address_space_bytes,omitempty"`
	// Processes is RLIMIT_NPROC (threads count too). It is enforced per
	// user, so it is only set in a user namespace, where the sandbox's user
	// is its own (see Mode).
	Processes uint64 `json:"processes,omitempty"`
}

// selfTest lists things that must fail inside the sandbox.
type selfTest struct {
	// MustNotRead is a file outside the sandbox that the helper tries to
	// open.
	MustNotRead string `json:"must_not_read"`
	// MustNotConnect is a TCP "ip:port" on the host's loopback that the
	// helper tries to connect to.
	MustNotConnect string `json:"must_not_connect"`
	// MustNotCreateSocket makes the helper check that socket(AF_UNIX)
	// and socketpair fail with EACCES, i.e. that the seccomp filter holds.
	MustNotCreateSocket bool `json:"must_not_create_socket"`
}

func (s *Spec) validate() error {
	if s.Path == "" || s.Path[0] != '/' {
		return fmt.Errorf("program path %q is not absolute", s.Path)
	}
	for _, p := range append(append([]string(nil), s.ReadOnly...), s.Writable...) {
		if p == "" || p[0] != '/' {
			return fmt.Errorf("sandbox path %q is not absolute", p)
		}
	}
	return nil
}

func (s *Spec) encode() (string, error) {
	b, err := json.Marshal(s)
	return string(b), err
}
