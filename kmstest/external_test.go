package kmstest_test

import (
	"bufio"
	"bytes"
	"context"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// externalTest is the whole test of a module outside this repository that
// uses only public packages: the kit, a kmsenvelope.Client on it, Encrypt
// and Decrypt, a stream, a secret and a live Preflight.
const externalTest = `package kmsuser_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/kmstest"
)

func TestWithTheKit(t *testing.T) {
	srv := kmstest.Start(t, kmstest.WithTLS())
	acct := srv.DefaultAccount()
	keyID, keyARN, err := srv.CreateKey(acct, kmstest.KeyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secretARN, err := srv.CreateSecret(acct, "db-password", []byte("hunter2"), kmstest.SecretOptions{EncryptionKeyID: keyID})
	if err != nil {
		t.Fatal(err)
	}
	user := kmstest.UserARN(acct, "svc")
	err = srv.AttachPolicy(user, "svc", ` + "`" + `{"Version":"1","Statement":[
		{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:GenerateDataKeyWithoutPlaintext","kms:Decrypt","kms:DescribeKey"],"Resource":"` + "`+keyARN+`" + `"},
		{"Effect":"Allow","Action":["kms:GetSecretValue","kms:DescribeSecret"],"Resource":"` + "`+secretARN+`" + `"},
		{"Effect":"Allow","Action":["ram:ListPoliciesForUser","ram:ListGroupsForUser"],"Resource":"` + "`+user+`" + `"},
		{"Effect":"Allow","Action":["ram:GetPolicy","ram:GetPolicyVersion"],"Resource":"*"}]}` + "`" + `)
	if err != nil {
		t.Fatal(err)
	}
	srv.EnforcePolicies()

	cfg := srv.ClientConfig(srv.AddUser(acct, "svc"))
	cfg.KeyID = keyID
	cfg.SecretNames = []string{"db-password"}
	cfg.LivePolicies = true
	cfg.PolicyMode = kmsenvelope.PolicyEnforce
	ctx := context.Background()
	client, err := kmsenvelope.New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()

	rep, err := client.Preflight(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("preflight:\n%s", rep.Text())
	}

	tenant := map[string]string{"tenant": "acme"}
	msg, err := client.Encrypt(ctx, []byte("record"), tenant)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := client.Decrypt(ctx, msg)
	if err != nil || string(pt) != "record" {
		t.Fatalf("Decrypt: %q, %v", pt, err)
	}

	var sealed bytes.Buffer
	w, err := client.NewWriter(ctx, &sealed, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, "a stream"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := client.NewReader(ctx, &sealed)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || string(got) != "a stream" {
		t.Fatalf("stream: %q, %v", got, err)
	}

	v, err := client.Secret(ctx, "db-password")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.Bytes(), []byte("hunter2")) {
		t.Fatal("secret: wrong value")
	}
}
`

// TestExternalModule is issue 14's acceptance test: a module outside the
// repository, whose go.mod replaces this module with the working tree,
// tests its code with only public packages and passes. A package of this
// module that imported an internal one would fail it with "use of internal
// package ... not allowed".
func TestExternalModule(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the external module test, which runs the go tool")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go tool is not on PATH: cannot build an external module")
	}
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	root := filepath.Dir(filepath.Dir(file))
	mainMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	goLine := "go 1.25.0"
	sc := bufio.NewScanner(bytes.NewReader(mainMod))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "go ") {
			goLine = sc.Text()
		}
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	require.NoError(t, err)

	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	write("go.mod", "module example.com/kmsuser\n\n"+goLine+"\n\n"+
		"require github.com/kmsenvelope/kmsenvelope v0.0.0-00010101000000-000000000000\n\n"+
		"replace github.com/kmsenvelope/kmsenvelope => "+root+"\n")
	write("go.sum", string(sum))
	write("kmsuser_test.go", externalTest)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "test", "-count=1", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" -mod=mod"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go test in the external module:\n%s", out)
	require.Contains(t, string(out), "ok  \texample.com/kmsuser")
}

// TestExamplesUsePublicPackages: every examples/ program and every
// example_test.go outside internal/ imports only public packages, so that
// users can copy them into their own modules.
func TestExamplesUsePublicPackages(t *testing.T) {
	_, file, _, ok := runtime.Caller(0)
	require.True(t, ok)
	root := filepath.Dir(filepath.Dir(file))
	const internal = "github.com/kmsenvelope/kmsenvelope/internal"
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "internal" || rel == "bench" || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || !(strings.HasPrefix(rel, "examples/") || filepath.Base(rel) == "example_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		checked++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == internal || strings.HasPrefix(p, internal+"/") {
				t.Errorf("%s imports %s: examples must use only public packages (kmstest instead of internal/testkms)", rel, p)
			}
		}
		return nil
	})
	require.NoError(t, err)
	require.GreaterOrEqual(t, checked, 8, "found too few example files: is the walk wrong?")
}
