package cases_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
	"github.com/kmsenvelope/kmsenvelope/localauthz/cases"
	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
	"github.com/kmsenvelope/kmsenvelope/localauthz/huawei"
)

const (
	hwAcct  = "11111111111111111111111111111111"
	hwKey   = "kms:cn-north-4:" + hwAcct + ":KeyId:0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	hwAlias = "kms:cn-north-4:" + hwAcct + ":alias:app-prod"
)

// TestHuaweiConformance runs the project's Huawei Cloud conformance cases
// (a copy of authz-cases/huawei-kms.json), with the dialect detected and
// forced.
func TestHuaweiConformance(t *testing.T) {
	list := loadCases(t, "../testdata/conformance/huawei-kms.json")
	require.Len(t, list, 54)
	for _, c := range list {
		t.Run(c.Name, func(t *testing.T) {
			assert.Equal(t, cases.DialectHuawei, c.Dialect())
			res := c.Run()
			assert.True(t, res.Pass, "%v", res.Problems)
			assert.Equal(t, c.Expect, res.Decision)
			if c.Expect == localauthz.ExplicitDeny {
				assert.NotEmpty(t, res.Denied, "an explicit deny names its statement")
			}
			forced := c.RunDialect(cases.DialectHuawei)
			assert.True(t, forced.Pass, "%v", forced.Problems)
			wrong := c.RunDialect(cases.DialectAlibaba)
			if len(c.Policies) > 0 {
				assert.False(t, wrong.Pass, "Huawei policies are not Alibaba policies")
			}
		})
	}
	for _, c := range loadCases(t, "../testdata/conformance/ram-kms.json") {
		assert.Equal(t, cases.DialectAlibaba, c.Dialect(), c.Name)
	}
}

func TestHuaweiCaseDetails(t *testing.T) {
	list := loadCases(t, "../testdata/conformance/huawei-kms.json")
	byName := map[string]cases.Case{}
	for _, c := range list {
		byName[c.Name] = c
	}
	res := byName["scp_deny_overrides_identity_allow"].Run()
	require.Len(t, res.Denied, 1)
	assert.Equal(t, cases.Denied{Action: "kms:cmk:decryptData", Resource: hwKey, Policy: "policies[2]", Statement: 0}, res.Denied[0])

	res = byName["api_alias_create_needs_alias_resource"].Run()
	assert.Equal(t, []huawei.Missing{{Action: "kms:alias:create", Resource: hwAlias, Where: huawei.WhereIdentity}}, res.Missing)

	res = byName["alias_expansion_surprise_get_prefix_grants_quota"].Run()
	assert.True(t, res.Assumptions.Has(huawei.AssumeActionAlias))
	res = byName["cond_aws_operator_name_unknown"].Run()
	assert.True(t, res.Assumptions.Has(huawei.AssumeOperatorNeverMatches))
	res = byName["mixed_models_v5_deny_beats_1_1_allow"].Run()
	assert.True(t, res.Assumptions.Has(huawei.AssumeMixedPolicyVersions))

	// the API must derive the case's action
	c := byName["api_create_pin_maps_to_createDataKey"]
	c.Request.Action = "kms:cmk:createDataKeyWithoutPlaintext"
	res = c.Run()
	assert.False(t, res.Pass)
	assert.Contains(t, strings.Join(res.Problems, ";"), "is authorized by kms:cmk:createDataKey")
	c.Request.API.Path = "/v1.0/p/kms/no-such-api"
	res = c.Run()
	assert.False(t, res.Pass)

	// resource arrays survive a JSON round trip
	line, err := json.Marshal(byName["api_alias_delete"].Request)
	require.NoError(t, err)
	assert.Contains(t, string(line), `"resource":["`+hwKey+`","`+hwAlias+`"]`)
	var back cases.Request
	require.NoError(t, json.Unmarshal(line, &back))
	assert.Equal(t, []string{hwKey, hwAlias}, back.Resources)
	assert.Equal(t, hwKey, back.Resource)

	_, err = cases.Parse([]byte(`[{"name":"x","request":{"resource":[1]}}]`))
	assert.Error(t, err)
	_, err = cases.Parse([]byte(`[{"name":"x","request":{"resource":{}}}]`))
	assert.Error(t, err)
}

func TestDetectPolicy(t *testing.T) {
	tests := []struct {
		doc     string
		dialect cases.Dialect
		kind    core.PolicyKind
	}{
		{`{"Version":"5.0","Statement":[]}`, cases.DialectHuawei, huawei.IdentityPolicy},
		{`{"Version":"1.1","Statement":[]}`, cases.DialectHuawei, huawei.IdentityPolicy},
		{`{"Version":"5.0","Statement":[{"Principal":{"IAM":["1"]}}]}`, cases.DialectHuawei, huawei.ResourcePolicy},
		{`{"Statement":{"Action":"kms:cmk:get"}}`, cases.DialectHuawei, huawei.IdentityPolicy},
		{`{"Statement":[{"Principal":{"IAM":"1"}}]}`, cases.DialectHuawei, huawei.ResourcePolicy},
		{`{"Version":"1","Statement":[{"Action":"kms:cmk:get"}]}`, cases.DialectAlibaba, localauthz.RAMPolicy},
		{`{"Version":"1","Statement":[{"Principal":{"RAM":"x"}}]}`, cases.DialectAlibaba, localauthz.KeyPolicy},
		{`{"Statement":[{"Action":["acs:x:y"]}]}`, cases.DialectAlibaba, localauthz.RAMPolicy},
		{`not json`, cases.DialectAlibaba, localauthz.RAMPolicy},
	}
	for _, tt := range tests {
		d, k := cases.DetectPolicy([]byte(tt.doc))
		assert.Equal(t, tt.dialect, d, tt.doc)
		assert.Equal(t, tt.kind, k, tt.doc)
	}
	for _, s := range []string{"huawei", "HuaweiCloud", "alibaba", "ram", "aliyun"} {
		_, ok := cases.ParseDialect(s)
		assert.True(t, ok, s)
	}
	_, ok := cases.ParseDialect("aws")
	assert.False(t, ok)
	assert.Len(t, cases.Dialect("").Values(), 2)
	assert.Equal(t, cases.Dialect(""), cases.DialectOf(core.PolicyKind("x")))
	assert.Len(t, cases.PolicyKinds(), 6)

	// ParsePolicy dispatches on the kind
	p, err := cases.ParsePolicy([]byte(`{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:cmk:get"]}]}`), huawei.SCP)
	require.NoError(t, err)
	assert.Equal(t, cases.DialectHuawei, cases.DialectOf(p.Kind()))
}
