package kmsclient

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// subprocessEnv names the test a child process of runInSubprocess runs.
const subprocessEnv = "KMSCLIENT_TEST_SUBPROCESS"

// inSubprocess reports whether this process is the child that
// runInSubprocess started for the calling test.
func inSubprocess(t *testing.T) bool { return os.Getenv(subprocessEnv) == t.Name() }

// runInSubprocess runs the calling test again in a fresh process (the test
// binary itself, built with the same flags, -race included), with env added
// to this process's environment, and fails if the child fails. Tests that
// need state a process has only once (the SDK's package-level endpoint
// maps, environment read at package init, the system root pool) use it.
func runInSubprocess(t *testing.T, env ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), append(env, subprocessEnv+"="+t.Name())...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("subprocess %s failed: %v\n%s", t.Name(), err, out)
	}
	return string(out)
}
