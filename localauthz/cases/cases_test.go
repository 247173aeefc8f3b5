package cases_test

import (
	"encoding/json"
	"os"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
	"github.com/kmsenvelope/kmsenvelope/localauthz/cases"
)

func loadCases(t *testing.T, file string) []cases.Case {
	t.Helper()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	list, err := cases.Parse(data)
	require.NoError(t, err)
	return list
}

// TestConformance runs the project's 40 RAM/KMS conformance cases (a copy of
// authz-cases/ram-kms.json) and this package's additional cases.
func TestConformance(t *testing.T) {
	for file, n := range map[string]int{"../testdata/conformance/ram-kms.json": 40, "../testdata/extra-cases.json": 18} {
		list := loadCases(t, file)
		require.Len(t, list, n, file)
		for _, c := range list {
			t.Run(c.Name, func(t *testing.T) {
				res := c.Run()
				assert.True(t, res.Pass, "%v", res.Problems)
				assert.Equal(t, c.Expect, res.Decision)
				if c.Expect == localauthz.ExplicitDeny {
					assert.NotEmpty(t, res.Denied, "an explicit deny names its statement")
				}
			})
		}
	}
}

func TestCaseResultJSONShape(t *testing.T) {
	list := loadCases(t, "../testdata/conformance/ram-kms.json")
	for _, c := range list {
		line, err := json.Marshal(c.Run())
		require.NoError(t, err)
		var m map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(line, &m))
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		assert.Equal(t, []string{"decision", "denied", "missing", "name", "pass"}, keys)
		assert.NotEqual(t, "null", string(m["missing"]))
		assert.NotEqual(t, "null", string(m["denied"]))
	}
	res := loadCases(t, "../testdata/conformance/ram-kms.json")[9].Run() // explicit_deny_overrides_allow_same_policy
	line, _ := json.Marshal(res)
	assert.JSONEq(t, `{"name":"explicit_deny_overrides_allow_same_policy","decision":"ExplicitDeny","missing":[],
	  "denied":[{"action":"kms:Decrypt","resource":"acs:kms:cn-hangzhou:1111111111111111:key/key-hzz0001","policy":"policies[0]","statement":1}],"pass":true}`, string(line))
}

func TestCaseFailures(t *testing.T) {
	base := `{"name":"n","policies":[{"type":"ram","document":{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}}],
	  "request":{"principal":"acs:ram::1:user/a","action":"kms:Decrypt","resource":"acs:kms:r:1:key/k"},"expect":"Allow","missing":[]}`
	list, err := cases.Parse([]byte(base))
	require.NoError(t, err, "a single object is accepted")
	require.True(t, list[0].Run().Pass)

	tests := map[string]string{
		"wrong decision": `[{"name":"n","policies":[],"request":{"principal":"acs:ram::1:user/a","action":"kms:Decrypt","resource":"acs:kms:r:1:key/k"},"expect":"Allow","missing":[]}]`,
		"wrong missing": `[{"name":"n","policies":[],"request":{"principal":"acs:ram::1:user/a","action":"kms:Decrypt","resource":"acs:kms:r:1:key/k"},"expect":"ImplicitDeny",
		  "missing":[{"action":"kms:Decrypt","resource":"acs:kms:r:1:key/k","where":"key"}]}]`,
		"bad policy": `[{"name":"n","policies":[{"type":"ram","document":{"Version":"1"}}],"request":{"principal":"acs:ram::1:user/a","action":"kms:Decrypt","resource":"acs:kms:r:1:key/k"},"expect":"ImplicitDeny"}]`,
		"bad target": `[{"name":"n","policies":[{"type":"key","resource":"acs:kms:r:1:alias/a","document":{"Version":"1","Statement":[{"Effect":"Allow","Principal":{"RAM":"acs:ram::1:*"},"Action":"kms:*","Resource":"*"}]}}],
		  "request":{"principal":"acs:ram::1:user/a","action":"kms:Decrypt","resource":"acs:kms:r:1:key/k"},"expect":"ImplicitDeny"}]`,
		"action not needed": `[{"name":"n","policies":[],"request":{"principal":"acs:ram::1:user/a","action":"kms:Encrypt","resource":"acs:kms:r:1:secret/s","operation":"GetSecretValue"},"expect":"ImplicitDeny"}]`,
		"unknown operation": `[{"name":"n","policies":[],"request":{"principal":"acs:ram::1:user/a","action":"kms:Encrypt","resource":"acs:kms:r:1:key/k","operation":"Encrypts"},"expect":"ImplicitDeny"}]`,
		"bad principal":     `[{"name":"n","policies":[],"request":{"principal":"alice","action":"kms:Encrypt","resource":"acs:kms:r:1:key/k"},"expect":"ImplicitDeny","missing":[]}]`,
	}
	for name, doc := range tests {
		list, err := cases.Parse([]byte(doc))
		require.NoError(t, err, name)
		res := list[0].Run()
		assert.False(t, res.Pass, name)
		assert.NotEmpty(t, res.Problems, name)
	}

	_, err = cases.Parse([]byte("[\n{\"name\": }]"))
	assert.ErrorContains(t, err, "line 2")
	_, err = cases.Parse([]byte(`[{"policies":[]}]`))
	assert.ErrorContains(t, err, "no name")
	_, err = cases.Parse([]byte(`[{"name":"x","request":{"context":{"k":{"nested":1}}}}]`))
	assert.Error(t, err)
}

// TestConformanceCopies checks the copies in testdata/conformance against
// the project's shared case files when AUTHZ_CASES_DIR names their folder
// (authz-cases); tests never need it otherwise.
func TestConformanceCopies(t *testing.T) {
	dir := os.Getenv("AUTHZ_CASES_DIR")
	if dir == "" {
		t.Skip("AUTHZ_CASES_DIR not set")
	}
	for _, f := range []string{"ram-kms.json", "huawei-kms.json", "huawei-api-actions.json"} {
		want, err := os.ReadFile(dir + "/" + f)
		require.NoError(t, err)
		got, err := os.ReadFile("../testdata/conformance/" + f)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "../testdata/conformance/%s is out of date", f)
	}
}

// TestUnknownKeyCases runs the cases with request keys the client does not
// know (unknownContext), quoting KMS's "Policy condition keys" page.
func TestUnknownKeyCases(t *testing.T) {
	list := loadCases(t, "../testdata/unknown-keys.json")
	require.Len(t, list, 10)
	for _, c := range list {
		t.Run(c.Name, func(t *testing.T) {
			res := c.Run()
			assert.True(t, res.Pass, "%v", res.Problems)
			if c.Expect == localauthz.Conditional {
				assert.NotEmpty(t, res.ConditionKeys)
			}
		})
	}
	// the case's own context is not modified by the unknown marks
	c := list[0]
	c.Request.Context = localauthz.Context{"acs:SourceIp": {"1.2.3.4"}}
	assert.Equal(t, localauthz.Conditional, c.Run().Decision)
	assert.False(t, c.Request.Context.Unknown("acs:SourceIp"))
	// a wrong expectation of the keys fails the case
	c.ConditionKeys = []string{"acs:SourceVpc"}
	res := c.Run()
	assert.False(t, res.Pass)
	assert.Contains(t, res.Problems[0], "condition keys")
}
