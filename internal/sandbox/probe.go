package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ProbeTimeout bounds each attempt of Probe.
const ProbeTimeout = 20 * time.Second

// Probe checks that this host can sandbox program (ffmpeg) and returns the
// mode to use: it runs "program -version" in the sandbox, in a scratch dir
// under workDir, after the helper has checked from inside that a file
// outside the sandbox can't be opened, a TCP listener on the host's
// loopback can't be reached and no Unix socket can be created (the seccomp
// filter holds). User namespaces are tried first, then a bare
// network namespace. The error says what failed, for each mode.
func Probe(ctx context.Context, program, workDir string) (Mode, error) {
	if abi := LandlockABI(); abi < MinLandlockABI {
		return 0, fmt.Errorf("the kernel has no Landlock (ABI %d, need %d or later): it needs CONFIG_SECURITY_LANDLOCK=y and landlock in its lsm= list", abi, MinLandlockABI)
	}
	dir, err := os.MkdirTemp(workDir, "sandbox-probe-")
	if err != nil {
		return 0, fmt.Errorf("sandbox probe: %w", err)
	}
	defer os.RemoveAll(dir)
	jail := filepath.Join(dir, "jail")
	secret := filepath.Join(dir, "outside.txt")
	if err := os.Mkdir(jail, 0o700); err != nil {
		return 0, err
	}
	if err := os.WriteFile(secret, []byte("outside"), 0o600); err != nil {
		return 0, err
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("sandbox probe: %w", err)
	}
	defer ln.Close()
	connected := watchConnections(ln)

	spec := Spec{
		Path:     program,
		Args:     []string{"-hide_banner", "-version"},
		Env:      []string{"PATH=/usr/bin:/bin", "HOME=" + jail},
		Writable: []string{jail},
		Limits:   Limits{CPUSeconds: 10, Processes: 64},
		SelfTest: &selfTest{MustNotRead: secret, MustNotConnect: ln.Addr().String(), MustNotCreateSocket: true},
	}
	var errs []error
	for _, mode := range []Mode{ModeUserNamespace, ModeNetworkNamespace} {
		err := probeOnce(ctx, spec, mode, jail)
		if err == nil {
			select {
			case <-connected:
				return 0, errors.New("sandbox probe: the sandboxed program reached a listener on the host's loopback")
			default:
			}
			return mode, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", mode, err))
		if ctx.Err() != nil {
			break
		}
	}
	return 0, fmt.Errorf("sandbox probe failed: %w", errors.Join(errs...))
}

func probeOnce(ctx context.Context, spec Spec, mode Mode, dir string) error {
	ctx, cancel := context.WithTimeout(ctx, ProbeTimeout)
	defer cancel()
	cmd, err := Command(ctx, spec, mode)
	if err != nil {
		return err
	}
	var stdout, stderr bytes.Buffer
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 500 {
			msg = msg[len(msg)-500:]
		}
		if msg == "" {
			return err
		}
		return fmt.Errorf("%v: %s", err, msg)
	}
	if !bytes.Contains(stdout.Bytes(), []byte("version")) {
		return fmt.Errorf("%s -version printed no version inside the sandbox", spec.Path)
	}
	return nil
}

// watchConnections accepts and closes every connection to ln until it is
// closed, and says on the channel that one came: a canary for the probe
// (and the tests) that nothing inside the sandbox reached the host.
func watchConnections(ln net.Listener) <-chan struct{} {
	connected := make(chan struct{}, 1)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			select {
			case connected <- struct{}{}:
			default:
			}
		}
	}()
	return connected
}
