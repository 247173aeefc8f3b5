package testkms

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNoCatalogueUse keeps the emulator independent of localauthz's
// operation catalogue and preflight: it may use the policy evaluator only.
// If the emulator took its per-operation checks from the catalogue, the
// differential test in internal/conformance would compare the catalogue
// with itself.
func TestNoCatalogueUse(t *testing.T) {
	allowed := map[string]bool{
		"ParsePolicy": true, "WithName": true, "Policy": true, "PolicyKind": true,
		"RAMPolicy": true, "KeyPolicy": true, "SecretPolicy": true,
		"PolicySet": true, "Request": true, "Context": true, "Decision": true,
		"Allow": true, "ImplicitDeny": true, "ExplicitDeny": true,
	}
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		require.NoError(t, err)
		f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
		require.NoError(t, err)
		local := ""
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == "github.com/kmsenvelope/kmsenvelope/localauthz" {
				local = "localauthz"
				if imp.Name != nil {
					local = imp.Name.Name
				}
			}
		}
		if local == "" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == local && !allowed[sel.Sel.Name] {
				t.Errorf("%s: testkms uses localauthz.%s; only the policy evaluator may be used", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
}
