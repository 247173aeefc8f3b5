package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const unknownCases = "../../localauthz/testdata/unknown-keys.json"

func TestPolicyTestUnknownKeyCases(t *testing.T) {
	code, out, errOut := runCmd("policy", "test", unknownCases)
	assert.Equal(t, 0, code, errOut+out)
	assert.Equal(t, "10 passed, 0 failed", lastLine(out))
	assert.Contains(t, out, "PASS source_ip_unknown_is_conditional: Conditional")

	code, out, _ = runCmd("policy", "test", "--json", unknownCases)
	assert.Equal(t, 0, code)
	assert.Contains(t, out, `"decision":"Conditional"`)
	assert.Contains(t, out, `"conditionKeys":["acs:SourceIp"]`)
}

func TestPolicyExplainUnknown(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "ram.json")
	require.NoError(t, os.WriteFile(pol, []byte(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"116.62.0.0/24"}}}]}`), 0o600))
	base := []string{"policy", "explain", "--policy", pol, "--principal", "acs:ram::1111111111111111:user/alice",
		"--action", "kms:GenerateDataKey", "--resource", "acs:kms:cn-hangzhou:1111111111111111:key/k1"}

	code, out, errOut := runCmd(append(base, "--unknown", "acs:SourceIp")...)
	assert.Equal(t, exitFail, code, errOut)
	assert.Contains(t, out, "kms:GenerateDataKey on acs:kms:cn-hangzhou:1111111111111111:key/k1: Conditional\n")
	assert.Contains(t, out, "conditional on acs:SourceIp (the client does not know it; KMS decides)")
	assert.NotContains(t, out, "grant in a RAM policy")

	code, out, _ = runCmd(append(base, "--unknown", "acs:SourceIp", "--json")...)
	assert.Equal(t, exitFail, code)
	var d struct {
		Effect        string   `json:"effect"`
		ConditionKeys []string `json:"conditionKeys"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &d), out)
	assert.Equal(t, "Conditional", d.Effect)
	assert.Equal(t, []string{"acs:SourceIp"}, d.ConditionKeys)

	// without --unknown the key is absent: denied, and no grant drops the condition
	code, out, _ = runCmd(base...)
	assert.Equal(t, exitFail, code)
	assert.Contains(t, out, ": ImplicitDeny\n")
	assert.Contains(t, out, "Statement[0] allows it when acs:SourceIp is in 116.62.0.0/24 (IpAddress); the request has no acs:SourceIp")
	assert.NotContains(t, out, "grant in a RAM policy")

	// a key cannot be both known and unknown
	code, _, errOut = runCmd(append(base, "--unknown", "acs:SourceIp", "--context", "acs:SourceIp=1.2.3.4")...)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, errOut, "--unknown acs:SourceIp")
}

func TestPolicyCheckUnknownContext(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ram.json"), []byte(`{"Version":"1","Statement":[
	  {"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"116.62.0.0/24"}}},
	  {"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":"true"}}}]}`), 0o600))
	manifest := filepath.Join(dir, "app.json")
	require.NoError(t, os.WriteFile(manifest, []byte(`{"principal":"acs:ram::1111111111111111:user/alice",
	  "context":{"acs:SecureTransport":"false"},"unknownContext":["acs:SourceIp"],
	  "policies":[{"type":"ram","file":"ram.json"}],
	  "operations":[{"operation":"GenerateDataKey","resource":"acs:kms:cn-hangzhou:1111111111111111:key/k1"},
	                {"operation":"Decrypt","resource":"acs:kms:cn-hangzhou:1111111111111111:key/k1"}]}`), 0o600))
	code, out, errOut := runCmd("policy", "check", "--manifest", manifest, "--json")
	assert.Equal(t, exitFail, code, errOut)
	var res struct {
		Grants []json.RawMessage `json:"grants"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Empty(t, res.Grants, "neither a conditional call nor an unmet condition gets a grant")

	code, out, _ = runCmd("policy", "check", "--manifest", manifest)
	assert.Equal(t, exitFail, code)
	assert.Contains(t, out, "2 operations: 0 allowed, 1 conditional (KMS decides), 1 not allowed")
	assert.Contains(t, out, "Statement[1] allows it when acs:SecureTransport is true (Bool); the request has false")
}
