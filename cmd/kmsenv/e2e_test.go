package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/kmstest"
)

// kmsFixture is an emulator with one user and two keys; the process
// environment points kmsenv at it (region, endpoint, credentials from the
// library's chain), as a user's shell would.
type kmsFixture struct {
	srv          *kmstest.Server
	cred         kmstest.Credential
	key, keyARN  string
	key2, key2AR string
}

func startKMS(t *testing.T) *kmsFixture {
	t.Helper()
	srv := kmstest.Start(t)
	f := &kmsFixture{srv: srv, cred: srv.AddUser(srv.DefaultAccount(), "app")}
	var err error
	f.key, f.keyARN, err = srv.CreateKey(srv.DefaultAccount(), kmstest.KeyOptions{})
	require.NoError(t, err)
	f.key2, f.key2AR, err = srv.CreateKey(srv.DefaultAccount(), kmstest.KeyOptions{})
	require.NoError(t, err)
	setKMSEnv(t.Setenv, srv, f.cred)
	return f
}

// setKMSEnv sets the variables kmsenv reads (and clears those that would
// pick another identity).
func setKMSEnv(setenv func(k, v string), srv *kmstest.Server, cred kmstest.Credential) {
	setenv(envRegion, srv.Region())
	setenv(envEndpoint, srv.URL())
	setenv(envManagementEndpoint, "")
	setenv(envCAFile, "")
	setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", cred.AccessKeyID)
	setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", cred.AccessKeySecret)
	setenv("ALIBABA_CLOUD_SECURITY_TOKEN", cred.SecurityToken)
	setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	setenv("ALIBABA_CLOUD_CREDENTIALS_FILE", "/nonexistent")
	setenv("ALIBABA_CLOUD_PROFILE", "")
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func writeFile(t *testing.T, path string, data []byte) {
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, data, 0o600))
}

// dirNames lists every file under dir (relative, sorted), temporary ones included.
func dirNames(t *testing.T, dir string) []string {
	var names []string
	require.NoError(t, filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		require.NoError(t, err)
		if !info.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return nil
	}))
	sort.Strings(names)
	return names
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	f := startKMS(t)
	dir := t.TempDir()
	plain := randomBytes(t, 3<<20+123)
	in := filepath.Join(dir, "report.csv")
	writeFile(t, in, plain)
	meta := filepath.Join(dir, "meta.jsonl")

	code, out, errOut := runCmd("encrypt", "--key-id", f.key, "--context", "app=billing", "--context", "env=prod",
		"--frame-size", "4096", "--metadata-output", meta, in)
	require.Equal(t, exitOK, code, errOut)
	assert.Empty(t, out)
	enc, err := os.ReadFile(in + ".kmsenv")
	require.NoError(t, err)
	assert.NotContains(t, string(enc), string(plain[:64]))
	st, err := os.Stat(in + ".kmsenv")
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	var m fileMeta
	data, err := os.ReadFile(meta)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &m), string(data))
	assert.Equal(t, "encrypt", m.Mode)
	assert.Equal(t, []string{f.keyARN}, m.KeyARNs)
	assert.Equal(t, map[string]string{"app": "billing", "env": "prod"}, m.Context)
	assert.Equal(t, 4096, m.FrameSize)
	require.NotNil(t, m.PlaintextBytes)
	assert.Equal(t, int64(len(plain)), *m.PlaintextBytes)
	assert.Equal(t, int64(len(enc)), m.CiphertextBytes)
	assert.Len(t, m.MessageID, 64)

	// inspect: no KMS call
	f.srv.ResetCalls()
	code, out, errOut = runCmd("inspect", "--json", in+".kmsenv")
	require.Equal(t, exitOK, code, errOut)
	assert.Zero(t, f.srv.TotalCalls())
	var h headerJSON
	require.NoError(t, json.Unmarshal([]byte(out), &h))
	assert.Equal(t, 1, h.Version)
	assert.Equal(t, m.MessageID, h.MessageID)
	assert.Equal(t, f.keyARN, h.WrappedKeys[0].KeyARN)
	assert.Equal(t, 4096, h.FrameSize)
	code, out, _ = runCmd("inspect", in+".kmsenv")
	require.Equal(t, exitOK, code)
	assert.Contains(t, out, "    \"app\": \"billing\"\n")
	assert.Contains(t, out, "aliyun-kms "+f.keyARN)
	code, _, errOut = runCmd("inspect", in)
	assert.Equal(t, exitFail, code, "not a message")
	assert.Contains(t, errOut, "inspect "+in+": envelope: ")
	code, _, _ = runCmd("inspect", filepath.Join(dir, "nope"))
	assert.Equal(t, exitUsage, code)

	// decrypt needs the context, or an explicit --no-context-check
	require.NoError(t, os.Remove(in))
	code, _, errOut = runCmd("decrypt", "--key-id", f.key, in+".kmsenv")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "missing --context KEY=VALUE")
	assert.NoFileExists(t, in)

	code, _, errOut = runCmd("decrypt", "--key-id", f.key, "--context", "app=payroll", in+".kmsenv")
	assert.Equal(t, exitFail, code)
	assert.Contains(t, errOut, "encryption context")
	assert.NotContains(t, errOut, "payroll", "no context value in errors")
	assert.NoFileExists(t, in)

	code, _, errOut = runCmd("decrypt", "--key-id", f.key, "--context", "app=billing", "--metadata-output", meta, in+".kmsenv")
	require.Equal(t, exitOK, code, errOut)
	got, err := os.ReadFile(in)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(plain, got))
	data, err = os.ReadFile(meta)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &m), string(data))
	assert.Equal(t, "decrypt", m.Mode)
	assert.Equal(t, int64(len(plain)), *m.PlaintextBytes)
	assert.Equal(t, int64(len(enc)), m.CiphertextBytes)

	// never overwrite without --force
	code, _, errOut = runCmd("decrypt", "--key-id", f.key, "--no-context-check", in+".kmsenv")
	assert.Equal(t, exitFail, code)
	assert.Contains(t, errOut, in+" exists; not overwriting it (use --force)")
	require.NoError(t, os.WriteFile(in, []byte("old"), 0o600))
	code, _, errOut = runCmd("decrypt", "--key-id", f.key, "--no-context-check", "--force", in+".kmsenv")
	require.Equal(t, exitOK, code, errOut)
	got, _ = os.ReadFile(in)
	assert.True(t, bytes.Equal(plain, got))
	assert.Equal(t, []string{"meta.jsonl", "report.csv", "report.csv.kmsenv"}, dirNames(t, dir), "no temporary file left")
}

func TestDecryptTamperedLeavesNoOutput(t *testing.T) {
	f := startKMS(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "data.bin")
	writeFile(t, in, randomBytes(t, 1<<20+7))
	code, _, errOut := runCmd("encrypt", "--key-id", f.key, "--context", "a=b", in)
	require.Equal(t, exitOK, code, errOut)
	require.NoError(t, os.Remove(in))
	enc, err := os.ReadFile(in + ".kmsenv")
	require.NoError(t, err)

	for name, mutate := range map[string]func([]byte) []byte{
		"last frame":   func(b []byte) []byte { b[len(b)-3] ^= 1; return b },
		"first frame":  func(b []byte) []byte { b[len(b)-(1<<20)] ^= 0x80; return b },
		"truncated":    func(b []byte) []byte { return b[:len(b)-20] },
		"trailing":     func(b []byte) []byte { return append(b, 0) },
		"header ctx":   func(b []byte) []byte { return bytes.Replace(b, []byte("a\x00\x01b"), []byte("a\x00\x01c"), 1) },
		"empty":        func([]byte) []byte { return nil },
		"not envelope": func(b []byte) []byte { return []byte("hello, world") },
	} {
		t.Run(name, func(t *testing.T) {
			tampered := filepath.Join(dir, "t.kmsenv")
			writeFile(t, tampered, mutate(append([]byte(nil), enc...)))
			code, _, errOut := runCmd("decrypt", "--key-id", f.key, "--context", "a=b", tampered)
			assert.Equal(t, exitFail, code, errOut)
			assert.NoFileExists(t, filepath.Join(dir, "t"))
			assert.Equal(t, []string{"data.bin.kmsenv", "t.kmsenv"}, dirNames(t, dir), "no partial or temporary output")
		})
	}
}

func TestDecryptKeyTrust(t *testing.T) {
	f := startKMS(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "x")
	writeFile(t, in, []byte("secret data"))
	code, _, errOut := runCmd("encrypt", "--key-id", f.key, "--context", "a=b", in)
	require.Equal(t, exitOK, code, errOut)
	require.NoError(t, os.Remove(in))
	msg := in + ".kmsenv"

	code, _, errOut = runCmd("decrypt", "--context", "a=b", msg)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "missing --key-id")

	f.srv.ResetCalls()
	code, _, errOut = runCmd("decrypt", "--key-id", f.key2, "--context", "a=b", msg)
	assert.Equal(t, exitFail, code)
	assert.Contains(t, errOut, "no wrapped key could be unwrapped")
	assert.Zero(t, f.srv.Calls("Decrypt"), "an untrusted key is not sent to KMS")
	assert.NoFileExists(t, in)

	for _, trust := range [][]string{
		{"--key-id", f.key2, "--allowed-key", "acs:kms:*:" + f.srv.DefaultAccount() + ":*"},
		{"--key-id", f.keyARN},
		{"--discovery-account", f.srv.DefaultAccount()},
		{"--discovery-account", "*"},
	} {
		args := append([]string{"decrypt", "--context", "a=b", "--force", "-o", "-"}, trust...)
		code, out, errOut := runCmd(append(args, msg)...)
		assert.Equal(t, exitOK, code, "%v: %s", trust, errOut)
		assert.Equal(t, "secret data", out, trust)
	}
	code, _, errOut = runCmd("decrypt", "--context", "a=b", "--discovery-account", "9999999999999999", "-o", "-", msg)
	assert.Equal(t, exitFail, code)
	assert.Contains(t, errOut, "discovery-account")
}

func TestStdinStdout(t *testing.T) {
	f := startKMS(t)
	plain := randomBytes(t, 200_000)
	code, enc, errOut := runIn(string(plain), "encrypt", "--key-id", f.key, "--context", "k=v", "-")
	require.Equal(t, exitOK, code, errOut)
	code, out, errOut := runIn(enc, "decrypt", "--key-id", f.key, "--context", "k=v", "-")
	require.Equal(t, exitOK, code, errOut)
	assert.True(t, bytes.Equal(plain, []byte(out)))

	// stdin to a named file
	dir := t.TempDir()
	code, _, errOut = runIn(enc, "decrypt", "--key-id", f.key, "--context", "k=v", "-o", filepath.Join(dir, "p"), "-")
	require.Equal(t, exitOK, code, errOut)
	got, _ := os.ReadFile(filepath.Join(dir, "p"))
	assert.True(t, bytes.Equal(plain, got))

	// metadata to stdout with the output to a file
	code, out, errOut = runIn(enc, "inspect", "--json", "-")
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, `"file":"-"`)

	code, _, errOut = runIn(enc, "decrypt", "--key-id", f.key, "--context", "k=v", "--metadata-output", "-", "-")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "both go to stdout")
}

func TestRecursiveMixedTree(t *testing.T) {
	f := startKMS(t)
	root := filepath.Join(t.TempDir(), "tree")
	files := map[string][]byte{
		"empty":              {},
		"small.txt":          []byte("hello\n"),
		"a/frame.bin":        randomBytes(t, 65536), // exactly one full frame
		"a/b/c/deep.bin":     randomBytes(t, 300_001),
		"a/b/spaces in name": []byte("x"),
		"unicode-é.txt":      []byte("é"),
	}
	for name, data := range files {
		writeFile(t, filepath.Join(root, name), data)
	}
	require.NoError(t, os.Symlink("small.txt", filepath.Join(root, "link")))
	writeFile(t, filepath.Join(root, "old.kmsenv"), []byte("already encrypted"))

	encDir := filepath.Join(t.TempDir(), "enc")
	require.NoError(t, os.Mkdir(encDir, 0o755))
	meta := filepath.Join(t.TempDir(), "meta")
	code, _, errOut := runCmd("encrypt", "-r", "--key-id", f.key, "--context", "t=1", "-o", encDir, "--metadata-output", meta, root)
	require.Equal(t, exitOK, code, errOut)
	assert.Contains(t, errOut, "skipped "+filepath.Join(root, "link")+": not a regular file")
	assert.Contains(t, errOut, "skipped "+filepath.Join(root, "old.kmsenv")+": already has the suffix .kmsenv")
	var want []string
	for name := range files {
		want = append(want, filepath.Join("tree", name)+".kmsenv")
	}
	sort.Strings(want)
	assert.Equal(t, want, dirNames(t, encDir))
	data, _ := os.ReadFile(meta)
	assert.Equal(t, len(files), strings.Count(string(data), "\n"))

	// -r is needed for a directory; a second run refuses to overwrite
	code, _, errOut = runCmd("encrypt", "--key-id", f.key, root)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "is a directory (use -r")
	code, _, errOut = runCmd("encrypt", "-r", "--key-id", f.key, "-o", encDir, root)
	assert.Equal(t, exitFail, code)
	assert.Contains(t, errOut, "not overwriting")

	decDir := filepath.Join(t.TempDir(), "dec")
	require.NoError(t, os.Mkdir(decDir, 0o755))
	code, _, errOut = runCmd("decrypt", "-r", "-q", "--key-id", f.key, "--context", "t=1", "-o", decDir, filepath.Join(encDir, "tree"))
	require.Equal(t, exitOK, code, errOut)
	assert.Empty(t, errOut, "--quiet")
	for name, data := range files {
		got, err := os.ReadFile(filepath.Join(decDir, "tree", name))
		require.NoError(t, err, name)
		assert.True(t, bytes.Equal(data, got), name)
	}

	// in place next to the inputs
	code, _, errOut = runCmd("encrypt", "-r", "-q", "--key-id", f.key, "--context", "t=1", root)
	require.Equal(t, exitOK, code, errOut)
	for name := range files {
		assert.FileExists(t, filepath.Join(root, name)+".kmsenv")
	}
}

func TestRewrapInPlace(t *testing.T) {
	f := startKMS(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "doc")
	writeFile(t, in, []byte("rewrap me"))
	code, _, errOut := runCmd("encrypt", "--key-id", f.key, "--context", "a=b", in)
	require.Equal(t, exitOK, code, errOut)
	msg := in + ".kmsenv"
	before, _ := os.ReadFile(msg)

	code, _, errOut = runCmd("rewrap", "--key-id", f.key2, "--no-context-check", msg)
	assert.Equal(t, exitFail, code, "the old key is not trusted")
	assert.Contains(t, errOut, "no wrapped key could be unwrapped")
	after, _ := os.ReadFile(msg)
	assert.Equal(t, before, after, "a failed rewrap leaves the file as it was")

	code, _, errOut = runCmd("rewrap", "--key-id", f.key2, "--context", "a=b", "--allowed-key", f.keyARN, msg)
	require.Equal(t, exitOK, code, errOut)
	code, out, _ := runCmd("inspect", "--json", msg)
	require.Equal(t, exitOK, code)
	var h headerJSON
	require.NoError(t, json.Unmarshal([]byte(out), &h))
	assert.Equal(t, f.key2AR, h.WrappedKeys[0].KeyARN)
	assert.Equal(t, []string{"doc", "doc.kmsenv"}, dirNames(t, dir))

	code, out, errOut = runCmd("decrypt", "--key-id", f.key2, "--context", "a=b", "-o", "-", msg)
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "rewrap me", out)
	code, _, _ = runCmd("decrypt", "--key-id", f.key, "--context", "a=b", "-o", "-", msg)
	assert.Equal(t, exitFail, code, "no longer under the old key")
}

func TestSecretGetAndExec(t *testing.T) {
	f := startKMS(t)
	acct := f.srv.DefaultAccount()
	arn, err := f.srv.CreateSecret(acct, "db", []byte(`{"user":"app","password":"s3cr3t!","port":5432}`), kmstest.SecretOptions{})
	require.NoError(t, err)
	_, err = f.srv.CreateSecret(acct, "token", []byte("tok-v1"), kmstest.SecretOptions{})
	require.NoError(t, err)
	require.NoError(t, f.srv.PutSecretValue(acct, "token", []byte("tok-v2"), "v2"))

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"token"}, "tok-v2"},
		{[]string{"token", "--version", "v1"}, "tok-v1"},
		{[]string{"token", "--stage", "ACSPrevious"}, "tok-v1"},
		{[]string{"db", "--field", "password"}, "s3cr3t!"},
		{[]string{"db", "--field", "port"}, "5432"},
		{[]string{arn, "--field", "user"}, "app"},
	} {
		code, out, errOut := runCmd(append([]string{"secret", "get"}, tc.args...)...)
		assert.Equal(t, exitOK, code, "%v: %s", tc.args, errOut)
		assert.Equal(t, tc.want, out, tc.args)
	}
	code, _, errOut := runCmd("secret", "get", "db", "--field", "nope")
	assert.Equal(t, exitFail, code)
	assert.NotContains(t, errOut, "s3cr3t")
	code, _, _ = runCmd("secret", "get", "missing")
	assert.Equal(t, exitFail, code)
	code, _, _ = runCmd("secret", "get", "token", "--stage", "ACSCurrent", "--version", "v1")
	assert.Equal(t, exitUsage, code)

	// exec: the secret reaches the child's environment, not its arguments
	code, out, errOut := runCmd("secret", "exec", "--env", "DB_PW=db:password", "--env", "TOKEN="+"token",
		"--env", "DB_USER="+arn+":user", "--", "sh", "-c", `printf '%s|%s|%s|%s' "$DB_PW" "$TOKEN" "$DB_USER" "$0"`)
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "s3cr3t!|tok-v2|app|sh", out)
	code, _, _ = runCmd("secret", "exec", "--env", "X=token", "--", "sh", "-c", "exit 7")
	assert.Equal(t, 7, code, "the child's status")
	code, _, _ = runCmd("secret", "exec", "--env", "X=token", "--", "sh", "-c", "kill -TERM $$")
	assert.Equal(t, 128+15, code)
	code, _, errOut = runCmd("secret", "exec", "--env", "X=token", "--", "/nonexistent/cmd")
	assert.Equal(t, 127, code, errOut)
	code, _, errOut = runCmd("secret", "exec", "--env", "X=missing", "--", "sh", "-c", "echo ran")
	assert.Equal(t, exitFail, code, errOut)
	for _, bad := range [][]string{
		{"secret", "exec", "--", "true"},
		{"secret", "exec", "--env", "1X=token", "--", "true"},
		{"secret", "exec", "--env", "X=token", "true"},
		{"secret", "exec", "--env", "X=token", "--env", "X=db", "--", "true"},
	} {
		code, _, errOut := runCmd(bad...)
		assert.Equal(t, exitUsage, code, "%v: %s", bad, errOut)
	}
}

func TestParseEnvSpec(t *testing.T) {
	for _, tc := range []struct{ in, variable, name, field string }{
		{"A=db", "A", "db", ""},
		{"A=db:password", "A", "db", "password"},
		{"A=acs:kms:cn-hangzhou:123:secret/db", "A", "acs:kms:cn-hangzhou:123:secret/db", ""},
		{"A=acs:kms:cn-hangzhou:123:secret/db:pw", "A", "acs:kms:cn-hangzhou:123:secret/db", "pw"},
		{"A=db:a:b", "A", "db", "a:b"},
	} {
		sp, err := parseEnvSpec(tc.in)
		require.NoError(t, err, tc.in)
		assert.Equal(t, envSpec{tc.variable, tc.name, tc.field}, sp, tc.in)
	}
	for _, bad := range []string{"A", "=db", "A=", "A=db:", "A B=db", "A=acs:kms:x", "A=:pw", "A=acs:kms:r:1:secret/", "A=acs:kms:r:1:secret/:pw"} {
		_, err := parseEnvSpec(bad)
		assert.Error(t, err, bad)
	}
}

func TestPreflight(t *testing.T) {
	f := startKMS(t)
	acct := f.srv.DefaultAccount()
	secretARN, err := f.srv.CreateSecret(acct, "db", []byte("pw"), kmstest.SecretOptions{EncryptionKeyID: f.key})
	require.NoError(t, err)
	f.srv.EnforcePolicies()
	require.NoError(t, f.srv.AttachPolicy(f.cred.Principal, "app", `{"Version":"1","Statement":[
		{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt","kms:GetSecretValue","kms:DescribeKey","kms:DescribeSecret","kms:GetKeyPolicy","kms:GetSecretPolicy","kms:ListAliasesByKeyId"],"Resource":"*"},
		{"Effect":"Allow","Action":["ram:ListPoliciesForUser","ram:ListGroupsForUser","ram:GetPolicy","ram:GetPolicyVersion","ram:GetUser"],"Resource":"*"}]}`))

	code, out, errOut := runCmd("preflight", "--key-id", f.key, "--secret", "db")
	assert.Equal(t, exitOK, code, out+errOut)
	assert.Contains(t, out, "preflight: OK")

	code, out, errOut = runCmd("preflight", "--key-id", f.key, "--secret", "db", "--json")
	assert.Equal(t, exitOK, code, errOut)
	// (decoded loosely: localauthz's Assumptions do not unmarshal from the JSON they marshal to)
	var res struct {
		OK      bool `json:"ok"`
		Reports []struct {
			Principal  string `json:"principal"`
			Operations []struct{ Operation, Status string }
		} `json:"reports"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res), out)
	assert.True(t, res.OK)
	require.Len(t, res.Reports, 1)
	assert.Equal(t, f.cred.Principal, res.Reports[0].Principal)
	require.Len(t, res.Reports[0].Operations, 3)
	for _, op := range res.Reports[0].Operations {
		assert.Equal(t, "allowed", op.Status, op.Operation)
	}

	// a manifest: its key and secret operations, as the caller
	dir := t.TempDir()
	manifest := filepath.Join(dir, "m.json")
	writeFile(t, manifest, []byte(`{"principal":"`+f.cred.Principal+`","operations":[
		{"operation":"GenerateDataKey","resource":"`+f.keyARN+`"},
		{"operation":"GetSecretValue","resource":"`+secretARN+`"}]}`))
	code, out, errOut = runCmd("preflight", "--manifest", manifest)
	assert.Equal(t, exitOK, code, out+errOut)

	// an operation the live preflight does not cover is not OK
	writeFile(t, manifest, []byte(`{"principal":"`+f.cred.Principal+`","operations":[{"operation":"DescribeRegions"}]}`))
	code, out, _ = runCmd("preflight", "--manifest", manifest)
	assert.Equal(t, exitFail, code, out)
	assert.Contains(t, out, "DescribeRegions: not checked")

	// another principal's manifest is not checked as the caller's
	writeFile(t, manifest, []byte(`{"principal":"acs:ram::`+acct+`:role/other","operations":[{"operation":"GenerateDataKey","resource":"`+f.keyARN+`"}]}`))
	code, out, _ = runCmd("preflight", "--manifest", manifest)
	assert.Equal(t, exitFail, code, out)
	assert.Contains(t, out, "is not the caller")

	// a missing permission: exit 1
	require.NoError(t, f.srv.AttachPolicy(f.cred.Principal, "app", `{"Version":"1","Statement":[
		{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:DescribeKey"],"Resource":"*"},
		{"Effect":"Allow","Action":["ram:ListPoliciesForUser","ram:ListGroupsForUser","ram:GetPolicy","ram:GetPolicyVersion","ram:GetUser"],"Resource":"*"}]}`))
	code, out, errOut = runCmd("preflight", "--key-id", f.key)
	assert.Equal(t, exitFail, code, out+errOut)
	assert.Contains(t, out, "kms:Decrypt")
	assert.Contains(t, out, "preflight: NOT OK")

	code, _, errOut = runCmd("preflight")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "nothing to check")
}

func TestSharedFlagErrors(t *testing.T) {
	f := startKMS(t)
	in := filepath.Join(t.TempDir(), "x")
	writeFile(t, in, []byte("x"))
	t.Setenv(envRegion, "")
	code, _, errOut := runCmd("encrypt", "--key-id", f.key, in)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "missing --region")
	code, _, errOut = runCmd("encrypt", "--region", f.srv.Region(), "--key-id", f.key, "--ca-file", "/nonexistent", in)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "/nonexistent")
	code, _, errOut = runCmd("encrypt", "--region", f.srv.Region(), "--key-id", f.key, "--frame-size", "10", in)
	assert.Equal(t, exitUsage, code, errOut)
	code, _, errOut = runCmd("encrypt", "--region", f.srv.Region(), in)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "missing --key-id")
	assert.NoFileExists(t, in+".kmsenv")
}

func FuzzParseEnvSpec(f *testing.F) {
	for _, s := range []string{"A=db", "A=db:pw", "A=acs:kms:cn-hangzhou:123:secret/db:pw", "=x", "A=", "A=acs:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := parseEnvSpec(s)
		if err != nil {
			return
		}
		require.True(t, envVarName.MatchString(sp.variable))
		require.NotEmpty(t, sp.name)
		back := sp.variable + "=" + sp.name
		if sp.field != "" {
			back += ":" + sp.field
		}
		require.Equal(t, s, back)
	})
}

// The shared flags against a KMS instance gateway: its private CA with
// --ca-file, and --management-endpoint for what the gateway does not serve.
func TestInstanceGatewayFlags(t *testing.T) {
	f := startKMS(t)
	gw := f.srv.StartInstanceGateway(t, "kst-test1")
	key, keyARN, err := f.srv.CreateKey(f.srv.DefaultAccount(), kmstest.KeyOptions{InstanceID: "kst-test1"})
	require.NoError(t, err)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	writeFile(t, ca, gw.CACertPEM())
	in := filepath.Join(dir, "x")
	writeFile(t, in, []byte("via the gateway"))
	base := []string{"--endpoint", gw.URL(), "--instance-gateway", "--ca-file", ca, "--sts-endpoint", f.srv.URL()}

	f.srv.ResetCalls()
	code, _, errOut := runCmd(append(append([]string{"encrypt", "--key-id", keyARN, "--context", "a=b"}, base...), in)...)
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, 1, gw.Calls("GenerateDataKey"))
	assert.Zero(t, f.srv.ManagementCalls(), "the data path makes no management call")
	code, out, errOut := runCmd(append(append([]string{"decrypt", "--key-id", keyARN, "--context", "a=b", "-o", "-"}, base...), in+".kmsenv")...)
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "via the gateway", out)

	// without the CA the TLS handshake fails: exit 1, no output
	code, _, errOut = runCmd("decrypt", "--key-id", keyARN, "--context", "a=b", "--endpoint", gw.URL(), "--instance-gateway", "--sts-endpoint", f.srv.URL(), "-o", filepath.Join(dir, "y"), in+".kmsenv")
	assert.Equal(t, exitFail, code, errOut)
	assert.Contains(t, errOut, "certificate")
	assert.NoFileExists(t, filepath.Join(dir, "y"))

	// rewrap needs ReEncrypt: through --management-endpoint
	_, key2ARN, err := f.srv.CreateKey(f.srv.DefaultAccount(), kmstest.KeyOptions{InstanceID: "kst-test1"})
	require.NoError(t, err)
	code, _, errOut = runCmd(append(append([]string{"rewrap", "--key-id", key2ARN, "--context", "a=b", "--allowed-key", keyARN, "--management-endpoint", f.srv.URL()}, base...), in+".kmsenv")...)
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, 1, f.srv.Calls("ReEncrypt"))
	_ = key
}

// TestDiscoveryRefusesRelabelledAccount: a review found that
// `decrypt --discovery-account D` without --key-id built its client on the
// key ARN the message claims, which made that key trusted: a message under
// a key of another account, relabelled as D's, decrypted. Trust now rests on
// the account KMS confirms.
func TestDiscoveryRefusesRelabelledAccount(t *testing.T) {
	f := startKMS(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "r")
	writeFile(t, in, []byte("attacker chosen"))
	code, _, errOut := runCmd("encrypt", "--key-id", f.key, "--context", "a=b", in)
	require.Equal(t, exitOK, code, errOut)
	msg := in + ".kmsenv"
	data, err := os.ReadFile(msg)
	require.NoError(t, err)
	acct := f.srv.DefaultAccount()
	relabelled := bytes.Replace(data, []byte(":"+acct+":key/"), []byte(":9999999999999999:key/"), 1)
	require.NotEqual(t, data, relabelled)
	require.NoError(t, os.WriteFile(msg, relabelled, 0o600))
	code, out, errOut := runCmd("decrypt", "--context", "a=b", "--discovery-account", "9999999999999999", "-o", "-", msg)
	assert.Equal(t, exitFail, code, "out=%q err=%s", out, errOut)
	assert.NotContains(t, out, "attacker chosen")
}

// TestMetadataOutputIsNeverAnInput: a review found that
// `encrypt --metadata-output precious.txt precious.txt` truncated the input
// before reading it, and the plaintext was lost.
func TestMetadataOutputIsNeverAnInput(t *testing.T) {
	f := startKMS(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "precious.txt")
	writeFile(t, in, []byte("irreplaceable"))
	code, _, errOut := runCmd("encrypt", "--key-id", f.key, "--context", "a=b", "--metadata-output", in, in)
	assert.Equal(t, exitUsage, code, errOut)
	assert.Contains(t, errOut, "also an input or output")
	got, err := os.ReadFile(in)
	require.NoError(t, err)
	assert.Equal(t, "irreplaceable", string(got))
}
