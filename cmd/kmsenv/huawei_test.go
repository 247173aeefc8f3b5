package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	huaweiCases = "../../localauthz/testdata/conformance/huawei-kms.json"
	hwAcct      = "11111111111111111111111111111111"
	hwKey       = "kms:cn-north-4:" + hwAcct + ":KeyId:0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	hwAlice     = "iam::" + hwAcct + ":user:alice"
)

func TestPolicyTestHuawei(t *testing.T) {
	for _, args := range [][]string{
		{"policy", "test", "--dialect", "huawei", huaweiCases},
		{"policy", "test", huaweiCases}, // detected
		{"policy", "test", huaweiCases, "--dialect", "auto"},
	} {
		code, out, errOut := runCmd(args...)
		assert.Equal(t, 0, code, "%v: %s%s", args, out, errOut)
		assert.Equal(t, "54 passed, 0 failed", lastLine(out), args)
	}
	code, out, _ := runCmd("policy", "test", huaweiCases)
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "PASS alias_expansion_surprise_get_prefix_grants_quota: Allow (assumes no-resource,action-alias)\n")

	// both dialects in one run, each case in its own
	code, out, _ = runCmd("policy", "test", conformance, huaweiCases)
	assert.Equal(t, 0, code)
	assert.Equal(t, "94 passed, 0 failed", lastLine(out))

	code, out, _ = runCmd("policy", "test", "--json", "--dialect", "huawei", huaweiCases)
	assert.Equal(t, 0, code)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	require.Len(t, lines, 55)
	for _, l := range lines[:54] {
		var res struct {
			Name     string `json:"name"`
			Decision string `json:"decision"`
			Missing  []struct {
				Action, Resource, Where string
			} `json:"missing"`
			Denied []struct {
				Action, Resource, Policy string
				Statement                int
			} `json:"denied"`
			Pass *bool `json:"pass"`
		}
		dec := json.NewDecoder(strings.NewReader(l))
		dec.DisallowUnknownFields()
		require.NoError(t, dec.Decode(&res), l)
		require.NotNil(t, res.Pass)
		assert.True(t, *res.Pass, l)
		assert.NotNil(t, res.Missing, l)
		assert.NotNil(t, res.Denied, l)
	}
	assert.Contains(t, out, `{"name":"scp_boundary_does_not_include_action","decision":"ImplicitDeny","missing":[{"action":"kms:cmk:encryptData","resource":"`+hwKey+`","where":"scp"}],"denied":[],"pass":true}`)
	assert.Contains(t, out, `{"name":"explicit_deny_overrides_allow","decision":"ExplicitDeny","missing":[],"denied":[{"action":"kms:cmk:scheduleKeyDeletion","resource":"`+hwKey+`","policy":"policies[1]","statement":0}],"pass":true}`)

	// the wrong dialect fails every case that has policies
	code, out, _ = runCmd("policy", "test", "--dialect", "alibaba", huaweiCases)
	assert.Equal(t, 1, code)
	assert.Equal(t, "0 passed, 54 failed", lastLine(out))
	code, out, _ = runCmd("policy", "test", "--dialect", "huawei", conformance)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "is not a Huawei Cloud policy type")

	code, _, errOut := runCmd("policy", "test", "--dialect", "aws", huaweiCases)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "expected auto, alibaba or huawei")
}

func TestPolicyLintHuawei(t *testing.T) {
	code, out, _ := runCmd("policy", "lint", "testdata/huawei/lint-problems.json", "testdata/huawei/identity.json", "testdata/huawei/resource.json")
	assert.Equal(t, 1, code, out)
	for _, want := range []string{
		"testdata/huawei/lint-problems.json: warning full-access Statement[0].Action: ",
		"testdata/huawei/lint-problems.json: error unknown-operator Statement[1].Condition.NumericGreaterThanEquals: ",
		"did you mean NumberGreaterThanEquals?",
		"testdata/huawei/lint-problems.json: warning stringlike-substring Statement[2].Condition.StringLike: ",
		"testdata/huawei/lint-problems.json: info action-alias Statement[3].Action[0]: ",
		"testdata/huawei/identity.json: no findings (identity policy)",
		"testdata/huawei/resource.json: no findings (resource policy)",
	} {
		assert.Contains(t, out, want)
	}

	code, out, _ = runCmd("policy", "lint", "--kind", "scp", "testdata/huawei/identity.json", "testdata/huawei/scp-root.json")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "testdata/huawei/identity.json: error scp-syntax Statement[0].Resource[0]: ")
	assert.Contains(t, out, "testdata/huawei/scp-root.json: no findings (scp policy)")

	code, out, _ = runCmd("policy", "lint", "--dialect", "huawei", "--json", "testdata/huawei/legacy.json")
	assert.Equal(t, 0, code, out)
	var f struct{ File, Severity, Code, Path, Message string }
	require.NoError(t, json.Unmarshal([]byte(lastLine(out)), &f))
	assert.Equal(t, "legacy-unmatched", f.Code)
	assert.Equal(t, "Statement[0].Action[1]", f.Path)

	// a RAM document forced into the Huawei dialect is a Huawei parse error
	code, out, _ = runCmd("policy", "lint", "--dialect", "huawei", "testdata/app-ram.json")
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "error parse Version")

	code, _, errOut := runCmd("policy", "lint", "--dialect", "alibaba", "--kind", "scp", "testdata/huawei/scp-root.json")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "--kind scp belongs to the huawei dialect, not alibaba")
	code, _, _ = runCmd("policy", "lint", "--dialect", "x", "testdata/huawei/scp-root.json")
	assert.Equal(t, 2, code)
}

func TestPolicyExplainHuawei(t *testing.T) {
	code, out, errOut := runCmd("policy", "explain", "--policy", "testdata/huawei/identity.json",
		"--principal", hwAlice, "--action", "kms:cmk:scheduleKeyDeletion", "--resource", hwKey)
	assert.Equal(t, 1, code, errOut)
	assert.Contains(t, out, "ExplicitDeny")
	assert.Contains(t, out, `decided by testdata/huawei/identity.json Statement[1] (Sid "NoDeletion")`)
	assert.Contains(t, out, `{"Sid":"NoDeletion","Effect":"Deny","Action":["kms:cmk:scheduleKeyDeletion"]}`)

	// from the HTTP call, through the SCPs of the caller's path
	base := []string{"policy", "explain", "--policy", "testdata/huawei/identity.json",
		"--scp", "root=testdata/huawei/scp-root.json", "--scp", "ou:ou-1=testdata/huawei/scp-ou.json",
		"--org-path", "root,ou:ou-1,account:" + hwAcct, "--principal", hwAlice,
		"--region", "cn-north-4", "--account", hwAcct, "--key-id", "0d0466b0-e727-4d9c-b35d-f84bb474a37f"}
	code, out, _ = runCmd(append(base, "--api", "POST /v1.0/0123/kms/encrypt-data")...)
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "kms:cmk:encryptData on "+hwKey+": Allow")
	code, out, _ = runCmd(append(base, "--api", "POST /v1.0/0123/kms/decrypt-data")...)
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "missing: kms:cmk:decryptData on "+hwKey+" (grant in scp)")
	assert.Contains(t, out, `{"Effect":"Allow","Action":["kms:cmk:decryptData"],"Resource":["*"]}`)
	code, out, _ = runCmd(append(base, "--api", "POST /v1.0/0123/kms/decrypt-data", "--management-account")...)
	assert.Equal(t, 0, code, out)

	// cross-account: identity and resource policy
	bob := "iam::22222222222222222222222222222222:user:bob"
	bobPolicy := `testdata/huawei/bob.json`
	code, out, _ = runCmd("policy", "explain", "--policy", bobPolicy, "--principal", bob, "--action", "kms:cmk:decryptData", "--resource", hwKey, "--json")
	assert.Equal(t, 1, code, out)
	var rep struct {
		Decision struct {
			Effect  string
			Missing []struct{ Action, Resource, Where string }
		}
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	assert.Equal(t, "resource", rep.Decision.Missing[0].Where)
	code, out, _ = runCmd("policy", "explain", "--policy", bobPolicy, "--resource-policy", hwKey+"=testdata/huawei/resource.json",
		"--principal", bob, "--action", "kms:cmk:decryptData", "--resource", hwKey)
	assert.Equal(t, 0, code, out)

	// two units: the key and the alias
	alias := "kms:cn-north-4:" + hwAcct + ":alias:app"
	code, out, _ = runCmd("policy", "explain", "--dialect", "huawei", "--policy", "testdata/huawei/identity.json",
		"--principal", hwAlice, "--action", "kms:alias:create", "--resource", hwKey, "--resource", alias)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "missing: kms:alias:create on "+alias+" (grant in identity)")
	assert.Contains(t, out, "grant in an identity policy of "+hwAlice+":")

	for _, args := range [][]string{
		{"policy", "explain", "--policy", "testdata/huawei/identity.json", "--principal", hwAlice, "--api", "POST"},
		{"policy", "explain", "--policy", "testdata/huawei/identity.json", "--principal", hwAlice, "--api", "POST /v1.0/p/kms/nope"},
		{"policy", "explain", "--policy", "testdata/huawei/identity.json", "--principal", hwAlice, "--api", "POST /v1.0/p/kms/decrypt-data"},
		{"policy", "explain", "--policy", "testdata/huawei/identity.json", "--principal", hwAlice, "--api", "POST /v1.0/p/kms/decrypt-data", "--action", "kms:cmk:encryptData", "--resource", hwKey},
		{"policy", "explain", "--policy", "testdata/huawei/identity.json", "--principal", hwAlice, "--action", "kms:cmk:get"},
		{"policy", "explain", "--policy", "testdata/huawei/identity.json", "--key-policy", "acs:kms:r:1:key/k=testdata/key-policy.json", "--principal", hwAlice, "--action", "kms:cmk:get", "--resource", hwKey},
		{"policy", "explain", "--dialect", "alibaba", "--scp", "testdata/huawei/scp-root.json", "--principal", "acs:ram::1:user/a", "--action", "kms:Decrypt", "--resource", "acs:kms:r:1:key/k"},
		{"policy", "explain", "--policy", "testdata/huawei/identity.json", "--principal", "acs:ram::1:user/a", "--dialect", "huawei", "--action", "kms:cmk:get", "--resource", hwKey},
		{"policy", "explain", "--resource-policy", "kms:*:1:KeyId:*=testdata/huawei/resource.json", "--principal", hwAlice, "--action", "kms:cmk:get", "--resource", hwKey},
	} {
		code, out, errOut := runCmd(args...)
		assert.Equal(t, 2, code, "%v: %s%s", args, out, errOut)
	}
}
