// Package interop proves that `kmsenv emulator` serves Alibaba Cloud's own
// SDKs, which nobody in this repository wrote: the Go V2 SDK
// (github.com/alibabacloud-go/kms-20160120/v3 on darabonba-openapi/v2,
// signature v3) here, and the Node SDKs in node/ (signature v1 and v3).
// Each test starts the emulator binary as a subprocess on loopback, reads
// the environment lines it prints, and points the client at it.
//
// It is a module of its own so that none of these SDKs ever enters the main
// module's go.mod.
package interop

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// kmsenvBin is the kmsenv binary TestMain builds from the working tree.
var kmsenvBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kmsenv-interop-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if bin := os.Getenv("KMSENV_BIN"); bin != "" {
		kmsenvBin = bin
	} else {
		kmsenvBin = filepath.Join(dir, "kmsenv")
		build := exec.Command("go", "build", "-o", kmsenvBin, "./cmd/kmsenv")
		build.Dir = ".." // the main module, as checked out
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "interop: building kmsenv:", err)
			return 1
		}
	}
	return m.Run()
}

// seedFile is the example seed the emulator tests use.
const seedFile = "../cmd/kmsenv/testdata/emulator-seed.yaml"

// The seed's credentials and names.
const (
	appKeyID        = "LTAIemulatorApp00001"
	appSecret       = "emulatorAppSecret0000000000001"
	workerKeyID     = "STS.emulatorWorker0001"
	keyAlias        = "alias/app"
	keyID           = "key-emulator0000000000000001"
	secretName      = "app/db-password"
	secretValue     = "correct-horse-battery-staple"
	deniedSecret    = "ops/backup-passphrase"
	deniedSecretVal = "not-for-the-app"
)

// emulator is a running `kmsenv emulator` subprocess.
type emulator struct {
	env    map[string]string
	cmd    *exec.Cmd
	mu     sync.Mutex
	logs   strings.Builder
	done   chan struct{}
	exitMu sync.Mutex
	exit   error
}

// startEmulator runs kmsenv emulator with args and waits for its ready
// line. It is stopped with SIGTERM at the end of the test.
func startEmulator(t *testing.T, args ...string) *emulator {
	t.Helper()
	cmd := exec.Command(kmsenvBin, append([]string{"emulator"}, args...)...)
	cmd.Env = append(os.Environ(), "ALIBABA_CLOUD_ECS_METADATA_DISABLED=true")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	e := &emulator{env: map[string]string{}, cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kmsenv emulator: %v", err)
	}
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			e.mu.Lock()
			e.logs.WriteString(sc.Text() + "\n")
			e.mu.Unlock()
		}
	}()
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "# kmsenv emulator ready") {
				ready <- nil
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				ready <- fmt.Errorf("not an environment line: %q", line)
				return
			}
			e.env[k] = strings.Trim(v, "'")
		}
		ready <- fmt.Errorf("the emulator ended its output without the ready line")
	}()
	go func() {
		err := cmd.Wait()
		<-logsDone
		e.exitMu.Lock()
		e.exit = err
		e.exitMu.Unlock()
		close(e.done)
	}()
	select {
	case err := <-ready:
		if err != nil {
			e.stop(t)
			t.Fatalf("%v; stderr:\n%s", err, e.stderr())
		}
	case <-time.After(30 * time.Second):
		e.stop(t)
		t.Fatalf("the emulator did not get ready in 30 s; stderr:\n%s", e.stderr())
	}
	t.Cleanup(func() { e.stop(t) })
	return e
}

// stop sends SIGTERM and waits for the process; it returns the exit error.
func (e *emulator) stop(t *testing.T) error { return e.stopWith(t, syscall.SIGTERM) }

// stopWith sends sig and waits for the process; it returns the exit error.
func (e *emulator) stopWith(t *testing.T, sig os.Signal) error {
	select {
	case <-e.done:
	default:
		_ = e.cmd.Process.Signal(sig)
		select {
		case <-e.done:
		case <-time.After(15 * time.Second):
			_ = e.cmd.Process.Kill()
			<-e.done
			t.Errorf("the emulator did not stop on %v", sig)
		}
	}
	e.exitMu.Lock()
	defer e.exitMu.Unlock()
	return e.exit
}

func (e *emulator) stderr() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.logs.String()
}
