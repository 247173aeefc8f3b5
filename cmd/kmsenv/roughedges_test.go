package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runIn runs kmsenv with stdin.
func runIn(stdin string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = runMain(args, strings.NewReader(stdin), &out, &errb, os.Getenv)
	return code, out.String(), errb.String()
}

// Issue 15: "-h exits 2 on subcommands but 0 at the top".
func TestHelpExitsZeroEverywhere(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"--help"}, {"help"},
		{"policy", "-h"}, {"policy", "test", "-h"}, {"policy", "lint", "-h"},
		{"policy", "explain", "-h"}, {"policy", "check", "--help"},
		{"help", "policy", "explain"},
		{"encrypt", "-h"}, {"decrypt", "-h"}, {"inspect", "-h"}, {"rewrap", "-h"},
		{"secret", "-h"}, {"secret", "get", "-h"}, {"secret", "exec", "-h"},
		{"preflight", "-h"}, {"version", "-h"}, {"completion", "bash", "-h"},
	} {
		code, out, errOut := runCmd(args...)
		assert.Equal(t, exitOK, code, "%v: %s", args, errOut)
		assert.Contains(t, out, "Usage:", args)
		assert.Empty(t, errOut, args)
	}
}

func TestCompletionAndVersion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, errOut := runCmd("completion", sh)
		assert.Equal(t, exitOK, code, errOut)
		assert.Contains(t, out, "kmsenv", sh)
	}
	code, out, _ := runCmd("version")
	assert.Equal(t, exitOK, code)
	assert.True(t, strings.HasPrefix(out, "kmsenv "), out)
	code, out, _ = runCmd("--version")
	assert.Equal(t, exitOK, code)
	assert.True(t, strings.HasPrefix(out, "kmsenv "), out)
	// cobra's hidden completion entry point completes flag values
	code, out, _ = runCmd("__complete", "policy", "lint", "--kind", "")
	assert.Equal(t, exitOK, code)
	assert.Contains(t, out, "secret\n")
}

// Issue 15: an empty case set passed with "0 passed, 0 failed", exit 0.
func TestPolicyTestEmptyCaseSetIsAnError(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	require.NoError(t, os.Mkdir(empty, 0o755))
	for _, content := range []string{"null", "[]", " [ ] \n", "\nnull\n"} {
		f := filepath.Join(dir, "cases.json")
		require.NoError(t, os.WriteFile(f, []byte(content), 0o600))
		code, _, errOut := runCmd("policy", "test", f)
		assert.Equal(t, exitUsage, code, "%q", content)
		assert.Contains(t, errOut, "no cases", "%q", content)
	}
	code, _, errOut := runCmd("policy", "test", empty)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "no *.json case files")

	// one empty file among good ones still fails the run
	f := filepath.Join(dir, "null.json")
	require.NoError(t, os.WriteFile(f, []byte("null"), 0o600))
	code, out, _ := runCmd("policy", "test", "testdata/cases", f)
	assert.Equal(t, exitUsage, code)
	assert.Equal(t, "2 passed, 0 failed", lastLine(out))
}

// Issue 15: inputs were read whole before any size check (/dev/zero ran
// out of memory).
func TestInputsAreSizeLimited(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err == nil {
		for _, args := range [][]string{
			{"policy", "lint", "/dev/zero"},
			{"policy", "test", "/dev/zero"},
			{"policy", "check", "--manifest", "/dev/zero"},
			{"policy", "explain", "--policy", "/dev/zero", "--principal", "acs:ram::1:user/a", "--action", "kms:Decrypt", "--resource", "acs:kms:cn-hangzhou:1:key/k"},
		} {
			code, _, errOut := runCmd(args...)
			assert.Equal(t, exitUsage, code, args)
			assert.Contains(t, errOut, "/dev/zero: input too large: more than 4194304 bytes", args)
		}
	}
	big := filepath.Join(t.TempDir(), "big.json")
	require.NoError(t, os.WriteFile(big, bytes.Repeat([]byte(" "), maxPolicyInput+1), 0o600))
	code, _, errOut := runCmd("policy", "lint", big)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "input too large")

	code, _, errOut = runIn(strings.Repeat(" ", maxPolicyInput+1), "policy", "lint", "-")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "<stdin>: input too large")
}

// Issue 15: stdin (-) was not accepted.
func TestStdinWhereverAFileIs(t *testing.T) {
	ram, err := os.ReadFile("testdata/app-ram.json")
	require.NoError(t, err)
	code, out, errOut := runIn(string(ram), "policy", "lint", "-")
	assert.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "-: ")

	basic, err := os.ReadFile("testdata/cases/basic.json")
	require.NoError(t, err)
	code, out, errOut = runIn(string(basic), "policy", "test", "-")
	assert.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "2 passed, 0 failed", lastLine(out))

	const key = "acs:kms:cn-hangzhou:1111111111111111:key/key-app"
	code, out, errOut = runIn(string(ram), "policy", "explain", "--policy", "-",
		"--principal", "acs:ram::1111111111111111:user/ops", "--action", "kms:ScheduleKeyDeletion", "--resource", key)
	assert.Equal(t, exitFail, code, errOut)
	assert.Contains(t, out, `decided by - Statement[2] (Sid "NoDeletion")`)

	kp, err := os.ReadFile("testdata/key-policy.json")
	require.NoError(t, err)
	code, out, errOut = runIn(string(kp), "policy", "explain", "--policy", "testdata/app-ram.json", "--key-policy", key+"=-", "--in-instance",
		"--principal", "acs:sts::1111111111111111:assumed-role/app/web-1", "--action", "kms:Decrypt", "--resource", key, "--context", "acs:SourceIp=10.0.0.1")
	assert.Equal(t, exitOK, code, errOut)
	assert.Contains(t, out, "decided by - Statement[0]")

	manifest, err := os.ReadFile("testdata/manifest-ok.json")
	require.NoError(t, err)
	// relative policy paths of a manifest on stdin are relative to the working directory
	m := strings.ReplaceAll(string(manifest), `"file": "`, `"file": "testdata/`)
	code, out, errOut = runIn(m, "policy", "check", "--manifest", "-")
	assert.Equal(t, exitOK, code, errOut+out)
	assert.Contains(t, out, "3 operations: 3 allowed, 0 not allowed")

	// stdin is read once
	code, _, errOut = runIn(string(ram), "policy", "lint", "-", "-")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "stdin (-) may be given only once")
}

// Issue 15: explain without --principal dumped 40 lines of usage.
func TestExplainNamesTheMissingFlag(t *testing.T) {
	code, out, errOut := runCmd("policy", "explain", "--policy", "testdata/app-ram.json", "--action", "kms:Decrypt", "--resource", "acs:kms:cn-hangzhou:1:key/k")
	assert.Equal(t, exitUsage, code)
	assert.Empty(t, out)
	assert.Equal(t, "kmsenv: policy explain: missing --principal (see 'kmsenv policy explain --help')\n", errOut)

	code, _, errOut = runCmd("policy", "explain", "--policy", "testdata/app-ram.json", "--principal", "acs:ram::1:user/a")
	assert.Equal(t, exitUsage, code)
	assert.Equal(t, "kmsenv: policy explain: missing --action (or --operation), --resource (see 'kmsenv policy explain --help')\n", errOut)

	code, _, errOut = runCmd("policy", "check")
	assert.Equal(t, exitUsage, code)
	assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
	assert.Contains(t, errOut, "missing --manifest")

	code, _, errOut = runCmd("policy", "test", "--bogus", conformance)
	assert.Equal(t, exitUsage, code)
	assert.Equal(t, 1, strings.Count(errOut, "\n"), errOut)
	assert.Contains(t, errOut, "unknown flag: --bogus")
}

// Issue 15: trailing garbage after a manifest's JSON was accepted.
func TestManifestTrailingDataRejected(t *testing.T) {
	manifest, err := os.ReadFile("testdata/manifest-ok.json")
	require.NoError(t, err)
	dir := t.TempDir()
	for _, p := range []string{"app-ram.json", "key-policy.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", p))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), data, 0o600))
	}
	for _, tail := range []string{"garbage", "{}", `{"principal":"x"}`, "]"} {
		f := filepath.Join(dir, "m.json")
		require.NoError(t, os.WriteFile(f, append(append([]byte{}, manifest...), tail...), 0o600))
		code, _, errOut := runCmd("policy", "check", "--manifest", f)
		assert.Equal(t, exitUsage, code, tail)
		assert.Contains(t, errOut, "unexpected data after the manifest's JSON object", tail)
	}
	f := filepath.Join(dir, "m.json")
	require.NoError(t, os.WriteFile(f, append(append([]byte{}, manifest...), " \n\t"...), 0o600))
	code, _, errOut := runCmd("policy", "check", "--manifest", f)
	assert.Equal(t, exitOK, code, errOut)
}

func FuzzParseManifest(f *testing.F) {
	for _, p := range []string{"testdata/manifest.json", "testdata/manifest-ok.json"} {
		data, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(data)
	}
	f.Add([]byte(`{"principal":"a","operations":[{}]} x`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(data, "fuzz")
		if err == nil {
			require.NotEmpty(t, m.Principal)
			require.NotEmpty(t, m.Operations)
		}
	})
}
