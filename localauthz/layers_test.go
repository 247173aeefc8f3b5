package localauthz_test

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/kmsenvelope/kmsenvelope/"

// layers says which packages of this module each localauthz package may
// import: the core none, each dialect only the core, the case runner the
// dialects and the core. Nothing here imports the rest of the module.
var layers = map[string][]string{
	"localauthz/core":   nil,
	"localauthz":        {"localauthz/core"},
	"localauthz/huawei": {"localauthz/core"},
	"localauthz/cases":  {"localauthz", "localauthz/core", "localauthz/huawei"},
}

// TestLayering enforces the direction rules on the source: the imports of
// every non-test file, read with go/parser.
func TestLayering(t *testing.T) {
	for pkg, allowed := range layers {
		dir := strings.TrimPrefix(strings.TrimPrefix(pkg, "localauthz"), "/")
		if dir == "" {
			dir = "."
		}
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		require.NoError(t, err)
		require.NotEmpty(t, files, pkg)
		got := map[string]bool{}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
			require.NoError(t, err)
			for _, imp := range ast.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if strings.HasPrefix(p, module) {
					got[strings.TrimPrefix(p, module)] = true
				}
			}
		}
		for p := range got {
			assert.Contains(t, allowed, p, "%s must not import %s", pkg, p)
		}
	}
}

// TestLayeringDeps checks the same rules on the transitive dependencies
// that "go list -deps" reports, when the go command is at hand.
func TestLayeringDeps(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	for pkg, allowed := range layers {
		cmd := exec.Command(goCmd, "list", "-deps", "-f", "{{.ImportPath}}", module+pkg)
		out, err := cmd.Output()
		require.NoError(t, err, pkg)
		var deps []string
		for _, l := range strings.Fields(string(out)) {
			if strings.HasPrefix(l, module) && l != module+pkg {
				deps = append(deps, strings.TrimPrefix(l, module))
			}
		}
		sort.Strings(deps)
		want := append([]string(nil), allowed...)
		sort.Strings(want)
		if len(want) == 0 {
			want = nil
		}
		assert.Equal(t, want, deps, "module packages %s depends on", pkg)
	}
}
