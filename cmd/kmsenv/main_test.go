package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

const conformance = "../../localauthz/testdata/conformance/ram-kms.json"

func TestPolicyTestConformance(t *testing.T) {
	code, out, errOut := runCmd("policy", "test", conformance)
	assert.Equal(t, 0, code, errOut)
	assert.Equal(t, "40 passed, 0 failed", lastLine(out))
	assert.Contains(t, out, "PASS action_not_granted: ImplicitDeny\n")
	assert.Contains(t, out, "(assumes session-as-role)")

	code, out, _ = runCmd("policy", "test", "--json", conformance, "../../localauthz/testdata/extra-cases.json")
	assert.Equal(t, 0, code)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, lines, 40+18+1)
	assert.Equal(t, "58 passed, 0 failed", lines[len(lines)-1])
	for _, l := range lines[:len(lines)-1] {
		var res struct {
			Name     string            `json:"name"`
			Decision string            `json:"decision"`
			Missing  []json.RawMessage `json:"missing"`
			Denied   []json.RawMessage `json:"denied"`
			Pass     *bool             `json:"pass"`
		}
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&res), l)
		require.NotNil(t, res.Pass)
		assert.True(t, *res.Pass, l)
		assert.NotEmpty(t, res.Name)
	}
}

func TestPolicyTestDirectoryAndFailures(t *testing.T) {
	code, out, _ := runCmd("policy", "test", "testdata/cases")
	assert.Equal(t, 0, code, out)
	assert.Equal(t, "2 passed, 0 failed", lastLine(out))

	code, out, _ = runCmd("policy", "test", "testdata/failing.json", "testdata/cases", "--json")
	assert.Equal(t, 1, code)
	assert.Equal(t, "2 passed, 1 failed", lastLine(out))
	assert.Contains(t, out, `{"name":"expects_too_much","decision":"ImplicitDeny","missing":[{"action":"kms:Decrypt","resource":"acs:kms:cn-hangzhou:1111111111111111:key/key-app","where":"ram"}],"denied":[],"pass":false}`)

	code, out, _ = runCmd("policy", "test", "testdata/failing.json")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "FAIL expects_too_much: ImplicitDeny: decision ImplicitDeny, want Allow")

	code, _, errOut := runCmd("policy", "test", "testdata/app-ram.json")
	assert.Equal(t, 2, code, "a policy is not a case file")
	assert.Contains(t, errOut, "testdata/app-ram.json")

	code, _, _ = runCmd("policy", "test", "testdata/nope.json")
	assert.Equal(t, 2, code)
	code, _, _ = runCmd("policy", "test")
	assert.Equal(t, 2, code)
}

func TestUsage(t *testing.T) {
	code, _, errOut := runCmd()
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "Usage:\n  kmsenv [flags]")
	code, out, _ := runCmd("help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "policy")
	code, out, _ = runCmd("policy", "--help")
	assert.Equal(t, 0, code)
	for _, sub := range []string{"test", "lint", "explain", "check"} {
		assert.Contains(t, out, sub)
	}
	code, _, errOut = runCmd("frob")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown command "frob"`)
	code, _, errOut = runCmd("policy", "frob")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, `unknown command "frob" for "kmsenv policy"`)
	code, _, _ = runCmd("policy", "test", "--bogus", conformance)
	assert.Equal(t, 2, code)
}

func TestPolicyLint(t *testing.T) {
	code, out, _ := runCmd("policy", "lint", "../../localauthz/testdata/policies/seed001-crypto.ram.json")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "no findings (ram policy)")

	code, out, _ = runCmd("policy", "lint", "../../localauthz/testdata/policies/seed001-ip.ram.json", "../../localauthz/testdata/policies/seed004-default.key.json")
	assert.Equal(t, 0, code, "warnings only")
	assert.Contains(t, out, "seed001-ip.ram.json: warning full-access Statement[0].Action: ")
	assert.Contains(t, out, "seed004-default.key.json: info sid-charset Statement[0].Sid: ")

	code, out, _ = runCmd("policy", "lint", "--json", "testdata/cases/basic.json")
	assert.Equal(t, 1, code, "a case file is not a policy")
	var f struct {
		File, Severity, Code, Path, Message string
	}
	require.NoError(t, json.Unmarshal([]byte(lastLine(out)), &f))
	assert.Equal(t, "error", f.Severity)
	assert.Equal(t, "testdata/cases/basic.json", f.File)

	code, _, _ = runCmd("policy", "lint", "--kind", "bogus", "testdata/app-ram.json")
	assert.Equal(t, 2, code)
	code, out, _ = runCmd("policy", "lint", "--kind", "key", "testdata/app-ram.json")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "error parse Statement[0].Resource")
}

func TestPolicyExplain(t *testing.T) {
	const key = "acs:kms:cn-hangzhou:1111111111111111:key/key-app"
	code, out, errOut := runCmd("policy", "explain", "--policy", "testdata/app-ram.json",
		"--principal", "acs:ram::1111111111111111:user/ops", "--action", "kms:ScheduleKeyDeletion", "--resource", key)
	assert.Equal(t, 1, code, errOut)
	assert.Contains(t, out, "ExplicitDeny")
	assert.Contains(t, out, `decided by testdata/app-ram.json Statement[2] (Sid "NoDeletion")`)
	assert.Contains(t, out, `{"Sid":"NoDeletion","Effect":"Deny","Action":["kms:ScheduleKeyDeletion"],"Resource":["*"]}`)

	code, out, _ = runCmd("policy", "explain", "--policy", "testdata/app-ram.json", "--key-policy", key+"=testdata/key-policy.json", "--in-instance",
		"--principal", "acs:sts::1111111111111111:assumed-role/app/web-1", "--action", "kms:Decrypt", "--resource", key, "--context", "acs:SourceIp=10.0.0.1")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "Allow")
	assert.Contains(t, out, "decided by testdata/key-policy.json Statement[0]")

	code, out, _ = runCmd("policy", "explain", "--policy", "testdata/app-ram.json", "--principal", "acs:ram::1111111111111111:user/ops",
		"--operation", "GetSecretValue", "--resource", "acs:kms:cn-hangzhou:1111111111111111:secret/app/db",
		"--fact", "encryptionKey="+key, "--fact", "encryptionKeyType=self-managed")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "missing: kms:Decrypt on "+key+" (grant in ram)")

	code, out, _ = runCmd("policy", "explain", "--json", "--policy", "testdata/app-ram.json", "--principal", "acs:ram::1111111111111111:user/ops",
		"--action", "kms:Decrypt", "--resource", key)
	assert.Equal(t, 1, code)
	var d struct {
		Effect  string
		Missing []struct{ Action, Resource, Where string }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &d))
	assert.Equal(t, "ImplicitDeny", d.Effect)
	assert.Equal(t, "ram", d.Missing[0].Where)

	for _, args := range [][]string{
		{"policy", "explain", "--policy", "testdata/app-ram.json"},
		{"policy", "explain", "--policy", "testdata/missing.json", "--principal", "acs:ram::1:user/a", "--action", "kms:Decrypt", "--resource", key},
		{"policy", "explain", "--principal", "nobody", "--action", "kms:Decrypt", "--resource", key},
		{"policy", "explain", "--principal", "acs:ram::1:user/a", "--action", "kms:Decrypt", "--resource", key, "--context", "novalue"},
		{"policy", "explain", "--principal", "acs:ram::1:user/a", "--operation", "Encrypt", "--resource", key, "--fact", "color=blue"},
		{"policy", "explain", "--principal", "acs:ram::1:user/a", "--operation", "Encrypt", "--resource", "acs:kms:cn-hangzhou:1:alias/a"},
		{"policy", "explain", "--key-policy", "no-equals", "--principal", "acs:ram::1:user/a", "--action", "kms:Decrypt", "--resource", key},
	} {
		code, _, errOut := runCmd(args...)
		assert.Equal(t, 2, code, "%v: %s", args, errOut)
	}
}

func TestPolicyCheck(t *testing.T) {
	code, out, _ := runCmd("policy", "check", "--manifest", "testdata/manifest.json")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "3 operations: 0 allowed, 3 not allowed")
	assert.Contains(t, out, "grant in a RAM policy of acs:ram::1111111111111111:role/app:")
	assert.Contains(t, out, `all missing RAM permissions of acs:ram::1111111111111111:role/app:
  {"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:Decrypt","kms:GenerateDataKey"],"Resource":["acs:kms:cn-hangzhou:1111111111111111:key/key-app"]}]}`)
	assert.Contains(t, out, `denied: kms:ScheduleKeyDeletion`)

	code, out, _ = runCmd("policy", "check", "--manifest", "testdata/manifest-ok.json")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "3 operations: 3 allowed, 0 not allowed")

	code, out, _ = runCmd("policy", "check", "--json", "--manifest", "testdata/manifest.json")
	assert.Equal(t, 1, code)
	var res struct {
		Principal string
		Reports   []struct {
			Decision struct{ Effect string }
			Grants   []struct{ Where string }
		}
		Grants []struct{ Where string }
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	require.Len(t, res.Reports, 3)
	assert.Equal(t, "ImplicitDeny", res.Reports[0].Decision.Effect)
	assert.Equal(t, "ExplicitDeny", res.Reports[2].Decision.Effect)
	require.Len(t, res.Grants, 1)

	code, _, _ = runCmd("policy", "check")
	assert.Equal(t, 2, code)
	code, _, errOut := runCmd("policy", "check", "--manifest", "testdata/app-ram.json")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "unknown field")
}
