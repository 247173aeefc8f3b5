package testkms

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIndependentOfLocalauthz keeps the emulator's policy decisions
// independent of localauthz: if the emulator shared any code with it
// (directly or through another package), the differential test in
// internal/conformance would compare localauthz with itself. The test
// asks the go tool for every dependency of the package, its tests
// included.
func TestIndependentOfLocalauthz(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH; cannot list dependencies")
	}
	const forbidden = "github.com/kmsenvelope/kmsenvelope/localauthz"
	for _, args := range [][]string{
		{"list", "-deps", "."},
		{"list", "-deps", "-test", "."},
		{"list", "-deps", "./refpolicy"},
		{"list", "-deps", "-test", "./refpolicy"},
	} {
		out, err := exec.Command(goTool, args...).CombinedOutput()
		require.NoError(t, err, "go %s: %s", strings.Join(args, " "), out)
		pkgs := strings.Fields(string(out))
		require.NotEmpty(t, pkgs)
		for _, p := range pkgs {
			if p == forbidden || strings.HasPrefix(p, forbidden+"/") {
				t.Errorf("go %s lists %s: the emulator must share no code with localauthz", strings.Join(args, " "), p)
			}
		}
	}
}
