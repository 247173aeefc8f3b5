package kmsenvelope_test

import (
	"go/version"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// codeNeedsGo is the oldest Go release the module's own code builds with:
// hash.Cloner (envelope's keyed HMAC) and sync.WaitGroup.Go are Go 1.25.
const codeNeedsGo = "go1.25.0"

// TestGoDirectiveIsMinimal keeps go.mod's go line at the lowest version
// that works (issue 14 item 4): the newer of what the code needs and what
// the dependencies' own go.mod files declare, which Go requires of the
// main module. A higher line (say a patch release such as 1.26.8) would
// make every user's build download that toolchain for nothing.
func TestGoDirectiveIsMinimal(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the go.mod check, which runs the go tool")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH")
	}
	out, err := exec.Command(goTool, "list", "-m", "-f", "{{.Main}} {{.Path}} {{.GoVersion}}", "all").CombinedOutput()
	require.NoError(t, err, "go list -m all: %s", out)
	var main string
	need, why := codeNeedsGo, "the module's code"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[2] == "" || f[2] == "<nil>" {
			continue
		}
		v := "go" + f[2]
		if f[0] == "true" {
			main = v
			continue
		}
		if version.Compare(v, need) > 0 {
			need, why = v, f[1]
		}
	}
	require.NotEmpty(t, main, "no go line for the main module in:\n%s", out)
	require.Equal(t, need, main, "go.mod's go line should be %s (needed by %s), not %s", strings.TrimPrefix(need, "go"), why, strings.TrimPrefix(main, "go"))
}
