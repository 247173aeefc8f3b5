package localauthz_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

const (
	hwAcct  = "11111111111111111111111111111111"
	hwOther = "22222222222222222222222222222222"
	hwKey   = "kms:cn-north-4:" + hwAcct + ":KeyId:0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	hwAlias = "kms:cn-north-4:" + hwAcct + ":alias:app-prod"
	hwAlice = "iam::" + hwAcct + ":user:alice"
)

// TestHuaweiConformance runs the project's Huawei Cloud conformance cases
// (a copy of authz-cases/huawei-kms.json), with the dialect detected and
// forced.
func TestHuaweiConformance(t *testing.T) {
	cases := loadCases(t, "testdata/conformance/huawei-kms.json")
	require.Len(t, cases, 54)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			assert.Equal(t, localauthz.DialectHuawei, c.Dialect())
			res := c.Run()
			assert.True(t, res.Pass, "%v", res.Problems)
			assert.Equal(t, c.Expect, res.Decision)
			if c.Expect == localauthz.ExplicitDeny {
				assert.NotEmpty(t, res.Denied, "an explicit deny names its statement")
			}
			forced := c.RunDialect(localauthz.DialectHuawei)
			assert.True(t, forced.Pass, "%v", forced.Problems)
			wrong := c.RunDialect(localauthz.DialectAlibaba)
			if len(c.Policies) > 0 {
				assert.False(t, wrong.Pass, "Huawei policies are not Alibaba policies")
			}
		})
	}
	for _, c := range loadCases(t, "testdata/conformance/ram-kms.json") {
		assert.Equal(t, localauthz.DialectAlibaba, c.Dialect(), c.Name)
	}
}

func TestHuaweiCaseDetails(t *testing.T) {
	cases := loadCases(t, "testdata/conformance/huawei-kms.json")
	byName := map[string]localauthz.Case{}
	for _, c := range cases {
		byName[c.Name] = c
	}
	res := byName["scp_deny_overrides_identity_allow"].Run()
	require.Len(t, res.Denied, 1)
	assert.Equal(t, localauthz.CaseDenied{Action: "kms:cmk:decryptData", Resource: hwKey, Policy: "policies[2]", Statement: 0}, res.Denied[0])

	res = byName["api_alias_create_needs_alias_resource"].Run()
	assert.Equal(t, []localauthz.Missing{{Action: "kms:alias:create", Resource: hwAlias, Where: localauthz.WhereIdentity}}, res.Missing)

	res = byName["alias_expansion_surprise_get_prefix_grants_quota"].Run()
	assert.True(t, res.Assumptions.Has(localauthz.AssumeActionAlias))
	res = byName["cond_aws_operator_name_unknown"].Run()
	assert.True(t, res.Assumptions.Has(localauthz.AssumeOperatorNeverMatches))
	res = byName["mixed_models_v5_deny_beats_1_1_allow"].Run()
	assert.True(t, res.Assumptions.Has(localauthz.AssumeMixedPolicyVersions))

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
	var back localauthz.CaseRequest
	require.NoError(t, json.Unmarshal(line, &back))
	assert.Equal(t, []string{hwKey, hwAlias}, back.Resources)
	assert.Equal(t, hwKey, back.Resource)

	_, err = localauthz.ParseCases([]byte(`[{"name":"x","request":{"resource":[1]}}]`))
	assert.Error(t, err)
	_, err = localauthz.ParseCases([]byte(`[{"name":"x","request":{"resource":{}}}]`))
	assert.Error(t, err)
}

func parseHW(t *testing.T, kind localauthz.PolicyKind, doc string) *localauthz.Policy {
	t.Helper()
	p, err := localauthz.ParseHuaweiPolicy([]byte(doc), kind)
	require.NoError(t, err, doc)
	return p
}

func TestParseHuaweiPolicyErrors(t *testing.T) {
	const allow = `"Effect":"Allow","Action":["kms:cmk:get"]`
	stmt := func(s string) string { return `{"Version":"5.0","Statement":[` + s + `]}` }
	tests := []struct {
		name  string
		kind  localauthz.PolicyKind
		doc   string
		path  string
		kind2 error
		text  string
	}{
		{"not json", localauthz.HuaweiIdentityPolicy, `{"Version":`, "Version", localauthz.ErrSyntax, "end of input"},
		{"array", localauthz.HuaweiIdentityPolicy, `[]`, "", localauthz.ErrInvalidPolicy, "array"},
		{"ram version", localauthz.HuaweiIdentityPolicy, `{"Version":"1","Statement":[{` + allow + `}]}`, "Version", localauthz.ErrInvalidPolicy, `"5.0"`},
		{"legacy scp", localauthz.HuaweiSCP, `{"Version":"1.1","Statement":[{` + allow + `}]}`, "Version", localauthz.ErrInvalidPolicy, "legacy"},
		{"no version", localauthz.HuaweiIdentityPolicy, `{"Statement":[{` + allow + `}]}`, "Version", localauthz.ErrInvalidPolicy, "missing"},
		{"no statement", localauthz.HuaweiIdentityPolicy, `{"Version":"5.0"}`, "Statement", localauthz.ErrInvalidPolicy, "missing"},
		{"empty statements", localauthz.HuaweiIdentityPolicy, `{"Version":"5.0","Statement":[]}`, "Statement", localauthz.ErrInvalidPolicy, "empty"},
		{"unknown top", localauthz.HuaweiIdentityPolicy, `{"Version":"5.0","Statment":[]}`, "Statment", localauthz.ErrInvalidPolicy, "did you mean Statement"},
		{"id", localauthz.HuaweiIdentityPolicy, `{"Version":"5.0","Id":"x","Statement":[{` + allow + `}]}`, "Id", localauthz.ErrUnsupported, ""},
		{"effect", localauthz.HuaweiIdentityPolicy, stmt(`{"Effect":"allow","Action":"kms:cmk:get"}`), "Statement[0].Effect", localauthz.ErrInvalidPolicy, `"Allow" or "Deny"`},
		{"no effect", localauthz.HuaweiIdentityPolicy, stmt(`{"Action":"kms:cmk:get"}`), "Statement[0].Effect", localauthz.ErrInvalidPolicy, "missing"},
		{"no action", localauthz.HuaweiIdentityPolicy, stmt(`{"Effect":"Allow"}`), "Statement[0].Action", localauthz.ErrInvalidPolicy, "missing"},
		{"both actions", localauthz.HuaweiIdentityPolicy, stmt(`{` + allow + `,"NotAction":"kms:cmk:get"}`), "Statement[0].NotAction", localauthz.ErrInvalidPolicy, "both"},
		{"bad action", localauthz.HuaweiIdentityPolicy, stmt(`{"Effect":"Allow","Action":["kms:cmk:get","kms:Decrypt"]}`), "Statement[0].Action[1]", localauthz.ErrInvalidPolicy, "<service>:<type>:<operation>"},
		{"four segments", localauthz.HuaweiIdentityPolicy, stmt(`{"Effect":"Allow","Action":"kms:cmk:get:x"}`), "Statement[0].Action", localauthz.ErrInvalidPolicy, ""},
		{"empty action list", localauthz.HuaweiIdentityPolicy, stmt(`{"Effect":"Allow","Action":[]}`), "Statement[0].Action", localauthz.ErrInvalidPolicy, "empty"},
		{"bad resource", localauthz.HuaweiIdentityPolicy, stmt(`{` + allow + `,"Resource":["kms:cn-north-4:KeyId"]}`), "Statement[0].Resource[0]", localauthz.ErrInvalidPolicy, "URN"},
		{"both resources", localauthz.HuaweiIdentityPolicy, stmt(`{` + allow + `,"Resource":"*","NotResource":"*"}`), "Statement[0].NotResource", localauthz.ErrInvalidPolicy, "both"},
		{"scp notresource", localauthz.HuaweiSCP, stmt(`{` + allow + `,"NotResource":"*"}`), "Statement[0].NotResource", localauthz.ErrUnsupported, ""},
		{"scp principal", localauthz.HuaweiSCP, stmt(`{` + allow + `,"Principal":{"IAM":["1"]}}`), "Statement[0].Principal", localauthz.ErrInvalidPolicy, "not allowed"},
		{"identity principal", localauthz.HuaweiIdentityPolicy, stmt(`{` + allow + `,"Principal":{"IAM":["1"]}}`), "Statement[0].Principal", localauthz.ErrInvalidPolicy, "not allowed"},
		{"resource no principal", localauthz.HuaweiResourcePolicy, stmt(`{` + allow + `}`), "Statement[0].Principal", localauthz.ErrInvalidPolicy, "missing"},
		{"resource principal type", localauthz.HuaweiResourcePolicy, stmt(`{` + allow + `,"Principal":{"RAM":["1"]}}`), `Statement[0].Principal.RAM`, localauthz.ErrUnsupported, ""},
		{"resource principal case", localauthz.HuaweiResourcePolicy, stmt(`{` + allow + `,"Principal":{"iam":["1"]}}`), `Statement[0].Principal.iam`, localauthz.ErrInvalidPolicy, "case-sensitive"},
		{"resource bad principal", localauthz.HuaweiResourcePolicy, stmt(`{` + allow + `,"Principal":{"IAM":["iam::1:role:x"]}}`), `Statement[0].Principal.IAM[0]`, localauthz.ErrInvalidPolicy, "account ID"},
		{"notprincipal", localauthz.HuaweiResourcePolicy, stmt(`{` + allow + `,"NotPrincipal":{"IAM":["1"]}}`), "Statement[0].NotPrincipal", localauthz.ErrUnsupported, ""},
		{"element case", localauthz.HuaweiIdentityPolicy, stmt(`{` + allow + `,"resource":"*"}`), "Statement[0].resource", localauthz.ErrInvalidPolicy, "case-sensitive"},
		{"legacy notaction", localauthz.HuaweiIdentityPolicy, `{"Version":"1.1","Statement":[{"Effect":"Allow","NotAction":"kms:cmk:get"}]}`, "Statement[0].NotAction", localauthz.ErrUnsupported, ""},
		{"legacy notresource", localauthz.HuaweiIdentityPolicy, `{"Version":"1.1","Statement":[{` + allow + `,"NotResource":"*"}]}`, "Statement[0].NotResource", localauthz.ErrUnsupported, ""},
		{"condition type", localauthz.HuaweiIdentityPolicy, stmt(`{` + allow + `,"Condition":[]}`), "Statement[0].Condition", localauthz.ErrInvalidPolicy, ""},
		{"empty condition", localauthz.HuaweiIdentityPolicy, stmt(`{` + allow + `,"Condition":{}}`), "Statement[0].Condition", localauthz.ErrInvalidPolicy, "empty"},
		{"operator chars", localauthz.HuaweiIdentityPolicy, stmt(`{` + allow + `,"Condition":{"String Equals":{"a":"b"}}}`), `Statement[0].Condition["String Equals"]`, localauthz.ErrInvalidPolicy, "operator"},
		{"operator block", localauthz.HuaweiIdentityPolicy, stmt(`{` + allow + `,"Condition":{"StringEquals":"x"}}`), "Statement[0].Condition.StringEquals", localauthz.ErrInvalidPolicy, ""},
		{"bad number", localauthz.HuaweiIdentityPolicy, stmt(`{` + allow + `,"Condition":{"NumberLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":["seven"]}}}`), `Statement[0].Condition.NumberLessThan["kms:ScheduleKeyDeletionPendingWindowInDays"][0]`, localauthz.ErrInvalidPolicy, "number"},
		{"bad date", localauthz.HuaweiIdentityPolicy, stmt(`{` + allow + `,"Condition":{"ForAnyValue:DateLessThanIfExists":{"g:CurrentTime":"soon"}}}`), `Statement[0].Condition["ForAnyValue:DateLessThanIfExists"]["g:CurrentTime"]`, localauthz.ErrInvalidPolicy, "ISO 8601"},
		{"null value", localauthz.HuaweiIdentityPolicy, stmt(`{` + allow + `,"Condition":{"StringEquals":{"a":[null]}}}`), `Statement[0].Condition.StringEquals.a[0]`, localauthz.ErrInvalidPolicy, ""},
		{"too large", localauthz.HuaweiIdentityPolicy, stmt(`{` + allow + `,"Sid":"` + strings.Repeat("x", 7000) + `"}`), "", localauthz.ErrTooLarge, "6144"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := localauthz.ParseHuaweiPolicy([]byte(tt.doc), tt.kind)
			require.Error(t, err)
			var pe *localauthz.PolicyError
			require.True(t, errors.As(err, &pe), "%T", err)
			assert.ErrorIs(t, err, tt.kind2)
			assert.Equal(t, tt.path, pe.Path, err.Error())
			assert.Contains(t, err.Error(), tt.text)
		})
	}
	_, err := localauthz.ParseHuaweiPolicy([]byte(`{}`), localauthz.RAMPolicy)
	assert.ErrorIs(t, err, localauthz.ErrInvalidPolicy)
	_, err = localauthz.ParseHuaweiPolicy([]byte(stmt(`{`+allow+`}`)), localauthz.HuaweiIdentityPolicy, localauthz.WithMaxSize(10))
	assert.ErrorIs(t, err, localauthz.ErrTooLarge)

	// ParsePolicy dispatches on the kind
	p, err := localauthz.ParsePolicy([]byte(stmt(`{`+allow+`}`)), localauthz.HuaweiSCP)
	require.NoError(t, err)
	assert.Equal(t, localauthz.DialectHuawei, p.Dialect())
	assert.Equal(t, "5.0", p.Version())
}

func TestParseHuaweiPolicyAccepts(t *testing.T) {
	docs := []struct {
		kind localauthz.PolicyKind
		doc  string
	}{
		{localauthz.HuaweiIdentityPolicy, `{"Version":"5.0","Statement":{"Effect":"Allow","Action":"kms:*"}}`},
		{localauthz.HuaweiIdentityPolicy, `{"Version":"5.0","Statement":[{"Sid":"any text, spaces too","Effect":"Deny","NotAction":["kms:cmk:get*","*"],"NotResource":["kms:*:*:KeyId:*"]}]}`},
		{localauthz.HuaweiIdentityPolicy, `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms::getQuota","*:*:*","kms:cmk:?ecryptData"],"Resource":"*",
		  "Condition":{"ForAnyValue:StringNotEqualsIfExists":{"g:EnterpriseProjectId":["0"]},"NumericLessThan":{"x":[1, true, "z"]},"Null":{"k":"true"},
		  "StringStartWith":{"g:PrincipalUrn":"iam::"},"Bool":{"g:MFAPresent":true},"IpAddress":{"g:SourceIp":"10.0.0.0/8"}}}]}`},
		{localauthz.HuaweiIdentityPolicy, `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["kms:cmk:crypto"],"Resource":["KMS:*:*:KeyId:*"]}]}`},
		{localauthz.HuaweiSCP, `{"Version":"5.0","Statement":[{"Sid":"FullAccess","Effect":"Allow","Action":["*:*:*"]}]}`},
		{localauthz.HuaweiResourcePolicy, `{"Version":"5.0","Statement":[{"Effect":"Allow","Principal":{"IAM":["` + hwOther + `","iam::` + hwOther + `:user:bob","iam::` + hwOther + `:agency:ops"]},"Action":"kms:cmk:decryptData","Resource":"*"}]}`},
	}
	for _, d := range docs {
		p := parseHW(t, d.kind, d.doc)
		once, err := json.Marshal(p)
		require.NoError(t, err)
		p2, err := localauthz.ParseHuaweiPolicy(once, d.kind)
		require.NoError(t, err, string(once))
		twice, _ := json.Marshal(p2)
		assert.Equal(t, string(once), string(twice))
	}
	p := parseHW(t, localauthz.HuaweiIdentityPolicy, `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":"kms:cmk:get"}]}`)
	js, _ := json.Marshal(p)
	assert.Equal(t, `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:cmk:get"]}]}`, string(js), "an omitted Resource stays omitted")
	p = parseHW(t, localauthz.HuaweiResourcePolicy, `{"Version":"5.0","Statement":[{"Effect":"Allow","Principal":{"IAM":"1"},"Action":"kms:cmk:get","Resource":"*"}]}`)
	assert.JSONEq(t, `{"Effect":"Allow","Action":["kms:cmk:get"],"Principal":{"IAM":["1"]},"Resource":["*"]}`, string(p.StatementJSON(0)))
}

// hwSet builds a set from (kind, target, document) triples.
func hwSet(t *testing.T, specs ...string) *localauthz.PolicySet {
	t.Helper()
	var set localauthz.PolicySet
	for i := 0; i+2 < len(specs); i += 3 {
		p := parseHW(t, localauthz.PolicyKind(specs[i]), specs[i+2])
		require.NoError(t, set.Add(p, specs[i+1]))
	}
	return &set
}

func allowDoc(actions, resources, cond string) string {
	s := `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":` + actions
	if resources != "" {
		s += `,"Resource":` + resources
	}
	if cond != "" {
		s += `,"Condition":` + cond
	}
	return s + `}]}`
}

func TestHuaweiConditions(t *testing.T) {
	eval := func(cond string, ctx localauthz.Context) localauthz.Decision {
		set := hwSet(t, "identity", "", allowDoc(`"kms:cmk:encryptData"`, `"`+hwKey+`"`, cond))
		return set.Evaluate(localauthz.Request{Principal: hwAlice, Action: "kms:cmk:encryptData", Resource: hwKey, Context: ctx})
	}
	tests := []struct {
		name string
		cond string
		ctx  localauthz.Context
		want localauthz.Effect
	}{
		{"start with", `{"StringStartWith":{"g:PrincipalUrn":["iam::"]}}`, localauthz.Context{"g:PrincipalUrn": {hwAlice}}, localauthz.Allow},
		{"start with no", `{"StringStartWith":{"g:PrincipalUrn":["sts::"]}}`, localauthz.Context{"g:PrincipalUrn": {hwAlice}}, localauthz.ImplicitDeny},
		{"end with", `{"StringEndWith":{"g:PrincipalUrn":[":alice"]}}`, localauthz.Context{"g:PrincipalUrn": {hwAlice}}, localauthz.Allow},
		{"not end with", `{"StringNotEndWith":{"g:PrincipalUrn":[":alice"]}}`, localauthz.Context{"g:PrincipalUrn": {hwAlice}}, localauthz.ImplicitDeny},
		{"stringmatch case-sensitive", `{"StringMatch":{"g:PrincipalUrn":["IAM::*"]}}`, localauthz.Context{"g:PrincipalUrn": {hwAlice}}, localauthz.ImplicitDeny},
		{"stringlike literal star", `{"StringLike":{"g:PrincipalUrn":["iam::*"]}}`, localauthz.Context{"g:PrincipalUrn": {hwAlice}}, localauthz.ImplicitDeny},
		{"stringnotlike", `{"StringNotLike":{"g:PrincipalUrn":["bob"]}}`, localauthz.Context{"g:PrincipalUrn": {hwAlice}}, localauthz.Allow},
		{"ignore case", `{"StringEqualsIgnoreCase":{"kms:KeySpec":["aes_256"]}}`, localauthz.Context{"kms:KeySpec": {"AES_256"}}, localauthz.Allow},
		{"ifexists empty value", `{"StringEqualsIfExists":{"kms:KeySpec":["AES_256"]}}`, localauthz.Context{"kms:KeySpec": {""}}, localauthz.Allow},
		{"empty value without ifexists", `{"StringEquals":{"kms:KeySpec":["AES_256"]}}`, localauthz.Context{"kms:KeySpec": {""}}, localauthz.ImplicitDeny},
		{"number from string", `{"NumberGreaterThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":["30"]}}`, localauthz.Context{"kms:ScheduleKeyDeletionPendingWindowInDays": {"30"}}, localauthz.Allow},
		{"number too small", `{"NumberGreaterThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":[30]}}`, localauthz.Context{"kms:ScheduleKeyDeletionPendingWindowInDays": {"7"}}, localauthz.ImplicitDeny},
		{"string op on numeric key", `{"StringEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":["30"]}}`, localauthz.Context{"kms:ScheduleKeyDeletionPendingWindowInDays": {"30"}}, localauthz.ImplicitDeny},
		{"negated wrong type never matches", `{"StringNotEquals":{"g:CurrentTime":["x"]}}`, localauthz.Context{}, localauthz.ImplicitDeny},
		{"number op on string key", `{"NumberEquals":{"kms:KeySpec":["1"]}}`, localauthz.Context{"kms:KeySpec": {"1"}}, localauthz.ImplicitDeny},
		{"unknown key any type", `{"NumberEquals":{"x:custom":["1"]}}`, localauthz.Context{"x:custom": {"1.0"}}, localauthz.Allow},
		{"unknown operator ifexists", `{"NumericLessThanIfExists":{"x":["1"]}}`, localauthz.Context{}, localauthz.ImplicitDeny},
		{"Null is unknown", `{"Null":{"x":["true"]}}`, localauthz.Context{}, localauthz.ImplicitDeny},
		{"foranyvalue notequals ifexists absent", `{"ForAnyValue:StringNotEqualsIfExists":{"g:EnterpriseProjectId":["0"]}}`, localauthz.Context{}, localauthz.Allow},
		{"foranyvalue notequals present", `{"ForAnyValue:StringNotEqualsIfExists":{"g:EnterpriseProjectId":["0"]}}`, localauthz.Context{"g:EnterpriseProjectId": {"0"}}, localauthz.ImplicitDeny},
		{"foranyvalue absent", `{"ForAnyValue:StringEquals":{"kms:GrantOperations":["encrypt-data"]}}`, localauthz.Context{}, localauthz.ImplicitDeny},
		{"date offset", `{"DateGreaterThanEquals":{"g:CurrentTime":["2026-01-01T00:00:00+08:00"]}}`, localauthz.Context{"g:CurrentTime": {"2025-12-31T16:00:00Z"}}, localauthz.Allow},
		{"bool", `{"Bool":{"g:MFAPresent":["true"]}}`, localauthz.Context{"g:MFAPresent": {"TRUE"}}, localauthz.Allow},
		{"ip", `{"IpAddress":{"g:SourceIp":["10.0.0.0/8"]}}`, localauthz.Context{"g:SourceIp": {"10.1.2.3"}}, localauthz.Allow},
		{"not ip", `{"NotIpAddress":{"g:SourceIp":["10.0.0.0/8"]}}`, localauthz.Context{"g:SourceIp": {"10.1.2.3"}}, localauthz.ImplicitDeny},
		{"values ORed", `{"StringEquals":{"kms:KeySpec":["AES_256","SM4"]}}`, localauthz.Context{"kms:KeySpec": {"SM4"}}, localauthz.Allow},
		{"negated NOR", `{"StringNotEquals":{"kms:KeySpec":["AES_256","SM4"]}}`, localauthz.Context{"kms:KeySpec": {"SM4"}}, localauthz.ImplicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, eval(tt.cond, tt.ctx).Effect)
		})
	}
	d := eval(`{"StringEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":["30"]}}`, localauthz.Context{"kms:ScheduleKeyDeletionPendingWindowInDays": {"30"}})
	assert.True(t, d.Assumptions.Has(localauthz.AssumeOperatorNeverMatches))
	assert.Equal(t, []string{"StringEquals kms:ScheduleKeyDeletionPendingWindowInDays"}, d.UnmetConditions)
	d = eval(`{"StringEquals":{"kms:KeySpec":["AES_256"]}}`, nil)
	assert.Equal(t, []string{"kms:KeySpec"}, d.MissingConditionKeys)
	assert.True(t, d.Assumptions.Has(localauthz.AssumeAbsentKeyFails))
}

func TestHuaweiActionsAndResources(t *testing.T) {
	eval := func(doc, action, resource string) localauthz.Decision {
		set := hwSet(t, "identity", "user:alice", doc)
		return set.Evaluate(localauthz.Request{Principal: hwAlice, Action: action, Resource: resource})
	}
	// no resource-level permission: the unit is "*" whatever is named
	d := eval(allowDoc(`"kms::getQuota"`, `"kms:*:*:KeyId:*"`, ""), "kms::getQuota", hwKey)
	assert.Equal(t, localauthz.ImplicitDeny, d.Effect)
	assert.Equal(t, []localauthz.Missing{{Action: "kms::getQuota", Resource: "*", Where: localauthz.WhereIdentity}}, d.Missing)
	assert.True(t, d.Assumptions.Has(localauthz.AssumeNoResource))
	assert.Equal(t, localauthz.Allow, eval(allowDoc(`"kms::getQuota"`, "", ""), "kms::getQuota", "*").Effect)
	assert.Equal(t, localauthz.ImplicitDeny, eval(allowDoc(`"kms::getQuota"`, `"*:*:*:*:*"`, ""), "kms::getQuota", "*").Effect, `only the pattern "*" matches "*"`)

	// NotResource
	doc := `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":"kms:cmk:*","NotResource":["kms:*:*:KeyId:secret-*"]}]}`
	assert.Equal(t, localauthz.Allow, eval(doc, "kms:cmk:get", hwKey).Effect)
	assert.Equal(t, localauthz.ImplicitDeny, eval(doc, "kms:cmk:get", "kms:cn-north-4:"+hwAcct+":KeyId:secret-1").Effect)

	// NotAction and aliases: excluding the legacy name excludes the action
	doc = `{"Version":"5.0","Statement":[{"Effect":"Allow","NotAction":["kms:cmk:update"],"Resource":"*"}]}`
	assert.Equal(t, localauthz.ImplicitDeny, eval(doc, "kms:cmk:updateKeyDescription", hwKey).Effect)
	assert.Equal(t, localauthz.Allow, eval(doc, "kms:cmk:get", hwKey).Effect)

	// 1.1: matches only through legacy names; actions without aliases by name
	legacy := `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["kms:cmk:decryptData","kms:cmk:get"]}]}`
	assert.Equal(t, localauthz.ImplicitDeny, eval(legacy, "kms:cmk:decryptData", hwKey).Effect)
	assert.Equal(t, localauthz.Allow, eval(legacy, "kms:cmk:get", hwKey).Effect)
	legacy = `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["kms:cmk:*"],"Resource":["kms:*:*:KEYID:*"]}]}`
	d = eval(legacy, "kms:cmk:get", hwKey)
	assert.Equal(t, localauthz.ImplicitDeny, d.Effect, "only the service segment folds case")

	// resources compare case-sensitively; the decision says so
	d = eval(allowDoc(`"kms:cmk:get"`, `"kms:cn-north-4:`+hwAcct+`:keyid:*"`, ""), "kms:cmk:get", hwKey)
	assert.True(t, d.Assumptions.Has(localauthz.AssumeCaseSensitiveResource))

	// action names fold case in the request too
	assert.Equal(t, localauthz.Allow, eval(allowDoc(`"kms:dek:create"`, `"*"`, ""), "KMS:CMK:CREATEDATAKEY", hwKey).Effect)
}

func TestHuaweiPrincipals(t *testing.T) {
	resDoc := func(principals string) string {
		return `{"Version":"5.0","Statement":[{"Effect":"Allow","Principal":{"IAM":[` + principals + `]},"Action":"kms:cmk:decryptData","Resource":"*"}]}`
	}
	idDoc := allowDoc(`"kms:cmk:decryptData"`, `"*"`, "")
	check := func(principals, caller string, want localauthz.Effect) {
		t.Helper()
		set := hwSet(t, "identity", "", idDoc, "resource", hwKey, resDoc(principals))
		d := set.Evaluate(localauthz.Request{Principal: caller, Action: "kms:cmk:decryptData", Resource: hwKey})
		assert.Equal(t, want, d.Effect, "%s as %s: %+v", principals, caller, d)
	}
	check(`"`+hwOther+`"`, "iam::"+hwOther+":user:bob", localauthz.Allow)
	check(`"`+hwOther+`"`, "sts::"+hwOther+":assumed-agency:ops/s1", localauthz.Allow)
	check(`"`+hwOther+`"`, "sts::"+hwOther+":external-user:idp/s1", localauthz.Allow)
	check(`"iam::`+hwOther+`:user:bob"`, "iam::"+hwOther+":user:bob", localauthz.Allow)
	check(`"iam::`+hwOther+`:user:bob"`, "iam::"+hwOther+":user:carol", localauthz.ImplicitDeny)
	check(`"iam::`+hwOther+`:agency:ops"`, "sts::"+hwOther+":assumed-agency:ops/s1", localauthz.Allow)
	check(`"iam::`+hwOther+`:agency:ops"`, "sts::"+hwOther+"::assumed-agency:ops/s1", localauthz.Allow) // SDK comment typo
	check(`"iam::`+hwOther+`:agency:ops"`, "sts::"+hwOther+":external-user:ops/s1", localauthz.ImplicitDeny)
	check(`"33333333333333333333333333333333"`, "iam::"+hwOther+":user:bob", localauthz.ImplicitDeny)

	var set localauthz.PolicySet
	for _, bad := range []string{"alice", "iam::" + hwAcct + ":user:", "iam::*:user:a", "sts::" + hwAcct + ":assumed-agency:ops", "iam::" + hwAcct + ":root", "acs:ram::1:user/a"} {
		d := set.Evaluate(localauthz.Request{Principal: bad, Action: "kms:cmk:get", Resource: hwKey})
		if strings.HasPrefix(bad, "acs:") || bad == "alice" {
			continue // an empty set with a non-Huawei principal takes the Alibaba path
		}
		assert.Error(t, d.Err, bad)
		assert.Equal(t, localauthz.ImplicitDeny, d.Effect)
	}
	s := hwSet(t, "identity", "", idDoc)
	assert.Error(t, s.Evaluate(localauthz.Request{Principal: "acs:ram::1:user/a", Action: "kms:cmk:get", Resource: hwKey}).Err, "a Huawei set takes Huawei principals")
	assert.Error(t, s.Evaluate(localauthz.Request{Principal: hwAlice, Action: "", Resource: hwKey}).Err)

	// an identity policy attached to a full URN applies to that identity only
	s = hwSet(t, "identity", "iam::"+hwAcct+":user:bob", idDoc)
	assert.Equal(t, localauthz.ImplicitDeny, s.Evaluate(localauthz.Request{Principal: hwAlice, Action: "kms:cmk:decryptData", Resource: hwKey}).Effect)
	s = hwSet(t, "identity", "iam::"+hwAcct+":agency:ops", idDoc)
	assert.Equal(t, localauthz.Allow, s.Evaluate(localauthz.Request{Principal: "sts::" + hwAcct + ":assumed-agency:ops/x", Action: "kms:cmk:decryptData", Resource: hwKey}).Effect)
}

func TestHuaweiSCPs(t *testing.T) {
	id := allowDoc(`"kms:cmk:*"`, `"*"`, "")
	full := `{"Version":"5.0","Statement":[{"Sid":"FullAccess","Effect":"Allow","Action":["*:*:*"]}]}`
	onlyGet := allowDoc(`"kms:cmk:get"`, "", "")
	req := localauthz.Request{Principal: hwAlice, Action: "kms:cmk:decryptData", Resource: hwKey}

	// without an organization path: root and account SCPs apply, and so do
	// OU ones, which cannot be placed: the library errs toward denial and
	// names the missing fact
	set := hwSet(t, "identity", "", id, "scp", "root", full, "scp", "ou:ou-1", onlyGet)
	d := set.Evaluate(req)
	assert.Equal(t, localauthz.ImplicitDeny, d.Effect)
	assert.True(t, d.Assumptions.Has(localauthz.AssumeSCPPathUnknown))
	assert.Equal(t, []localauthz.Missing{{Action: req.Action, Resource: hwKey, Where: localauthz.WhereSCP}}, d.Missing)
	require.Len(t, d.MissingFacts, 1)
	assert.Contains(t, d.MissingFacts[0], "organization path")
	get := req
	get.Action = "kms:cmk:get"
	d = set.Evaluate(get)
	assert.Equal(t, localauthz.Allow, d.Effect, "allowed wherever the caller is")
	assert.Empty(t, d.MissingFacts)

	r := req
	r.Org = &localauthz.Org{Path: []string{"root", "ou:ou-1", "account:" + hwAcct}}
	d = set.Evaluate(r)
	assert.Equal(t, localauthz.ImplicitDeny, d.Effect)
	assert.Equal(t, []localauthz.Missing{{Action: req.Action, Resource: hwKey, Where: localauthz.WhereSCP}}, d.Missing)
	assert.True(t, d.Assumptions.Has(localauthz.AssumeSCPUnlistedLevel))

	// an SCP without attachment bounds the caller's account; several SCPs of a level are ORed
	set = hwSet(t, "identity", "", id, "scp", "", onlyGet, "scp", "account:"+hwAcct, allowDoc(`"kms:cmk:decryptData"`, "", ""))
	assert.Equal(t, localauthz.Allow, set.Evaluate(req).Effect)
	set = hwSet(t, "identity", "", id, "scp", "", onlyGet)
	d = set.Evaluate(req)
	assert.Equal(t, localauthz.ImplicitDeny, d.Effect)
	assert.Equal(t, localauthz.WhereSCP, d.Missing[0].Where)

	// SCPs grant nothing: both the boundary and the identity side are missing
	set = hwSet(t, "scp", "", full)
	d = set.Evaluate(req)
	assert.ElementsMatch(t, []localauthz.Missing{{Action: req.Action, Resource: hwKey, Where: localauthz.WhereIdentity}}, d.Missing)
	set = hwSet(t, "scp", "", onlyGet)
	d = set.Evaluate(req)
	assert.ElementsMatch(t, []localauthz.Missing{{Action: req.Action, Resource: hwKey, Where: localauthz.WhereIdentity}, {Action: req.Action, Resource: hwKey, Where: localauthz.WhereSCP}}, d.Missing)

	// with a path, an SCP applies only when its attachment is on it
	set = hwSet(t, "identity", "", id, "scp", "root", onlyGet, "scp", "", full)
	r2 := req
	r2.Org = &localauthz.Org{Path: []string{"ou:ou-1", "account:" + hwAcct}}
	assert.Equal(t, localauthz.Allow, set.Evaluate(r2).Effect, "root is not on this (partial) path")
	r2.Org.Path = append([]string{"root"}, r2.Org.Path...)
	assert.Equal(t, localauthz.ImplicitDeny, set.Evaluate(r2).Effect)

	// an SCP of another account or an OU off the path does not apply
	set = hwSet(t, "identity", "", id, "scp", "account:"+hwOther, onlyGet, "scp", "ou:elsewhere", onlyGet)
	assert.Equal(t, localauthz.Allow, set.Evaluate(r).Effect)

	// management account: no SCP applies, not even a Deny
	deny := `{"Version":"5.0","Statement":[{"Effect":"Deny","Action":"kms:*:*"}]}`
	set = hwSet(t, "identity", "", id, "scp", "root", deny)
	r.Org = &localauthz.Org{IsManagementAccount: true}
	assert.Equal(t, localauthz.Allow, set.Evaluate(r).Effect)
	r.Org = nil
	d = set.Evaluate(r)
	assert.Equal(t, localauthz.ExplicitDeny, d.Effect)
	assert.Equal(t, localauthz.HuaweiSCP, d.Denied[0].Kind)

	var s localauthz.PolicySet
	p := parseHW(t, localauthz.HuaweiSCP, full)
	for _, bad := range []string{"ou:", "account:", "OU:x", "tree"} {
		assert.Error(t, s.Add(p, bad), bad)
	}
	rp := parseHW(t, localauthz.HuaweiResourcePolicy, `{"Version":"5.0","Statement":[{"Effect":"Allow","Principal":{"IAM":"1"},"Action":"kms:cmk:get"}]}`)
	assert.Error(t, s.Add(rp, "kms:*:1:KeyId:*"))
	assert.Error(t, s.Add(rp, "key-1"))
	require.NoError(t, s.Add(rp, hwKey))
	assert.Equal(t, localauthz.DialectHuawei, s.Dialect())
	ram := localauthz.MustParsePolicy(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`, localauthz.RAMPolicy)
	assert.ErrorContains(t, s.Add(ram, ""), "cannot join")
}

func TestHuaweiCheckAndGrants(t *testing.T) {
	set := hwSet(t, "identity", "", allowDoc(`"kms:alias:create"`, `["kms:cn-north-4:`+hwAcct+`:KeyId:*"]`, ""))
	rep := set.CheckHuawei(hwAlice, localauthz.HuaweiCall{Method: "POST", Path: "/v1.0/p/kms/aliases", Region: "cn-north-4", Account: hwAcct, KeyID: "0d0466b0-e727-4d9c-b35d-f84bb474a37f", Alias: "app-prod"})
	require.NoError(t, rep.Err)
	assert.Equal(t, localauthz.ImplicitDeny, rep.Decision.Effect)
	require.Len(t, rep.Checks, 2)
	assert.Equal(t, localauthz.Allow, rep.Checks[0].Decision.Effect)
	assert.Equal(t, []localauthz.Missing{{Action: "kms:alias:create", Resource: hwAlias, Where: localauthz.WhereIdentity}}, rep.Decision.Missing)
	grants := rep.Grants()
	require.Len(t, grants, 1)
	assert.Equal(t, localauthz.WhereIdentity, grants[0].Where)
	assert.JSONEq(t, `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:alias:create"],"Resource":["`+hwAlias+`"]}]}`, string(grants[0].Policy))
	// the suggested policy parses and grants what was missing
	p := parseHW(t, localauthz.HuaweiIdentityPolicy, string(grants[0].Policy))
	require.NoError(t, set.Add(p, ""))
	rep = set.CheckHuawei(hwAlice, localauthz.HuaweiCall{Method: "POST", Path: "/v1.0/p/kms/aliases", Region: "cn-north-4", Account: hwAcct, KeyID: "0d0466b0-e727-4d9c-b35d-f84bb474a37f", Alias: "app-prod"})
	assert.Equal(t, localauthz.Allow, rep.Decision.Effect)
	assert.Contains(t, rep.Text(), "POST /v1.0/p/kms/aliases")

	reps := set.PreflightHuawei(hwAlice, localauthz.HuaweiCall{Method: "GET", Path: "/v1.0/p/nope/x/y"})
	assert.ErrorIs(t, reps[0].Err, localauthz.ErrUnknownAPI)

	missing := []localauthz.Missing{
		{Action: "kms:cmk:decryptData", Resource: hwKey, Where: localauthz.WhereResource},
		{Action: "kms:cmk:decryptData", Resource: hwKey, Where: localauthz.WhereSCP},
		{Action: "kms:cmk:get", Resource: hwAlias, Where: localauthz.WhereResource},
	}
	grants = localauthz.SuggestGrants("sts::"+hwOther+":assumed-agency:ops/s", missing)
	require.Len(t, grants, 2)
	assert.Equal(t, localauthz.WhereSCP, grants[0].Where)
	assert.JSONEq(t, `{"Effect":"Allow","Action":["kms:cmk:decryptData"],"Resource":["*"]}`, string(grants[0].Policy))
	assert.Equal(t, localauthz.WhereResource, grants[1].Where)
	assert.JSONEq(t, `{"Effect":"Allow","Principal":{"IAM":["`+hwOther+`"]},"Action":["kms:cmk:decryptData"],"Resource":["*"]}`, string(grants[1].Policy))
	assert.Equal(t, "iam::"+hwOther+":agency:ops", localauthz.PolicyHolder("sts::"+hwOther+":assumed-agency:ops/s"))
}

func TestDetectPolicy(t *testing.T) {
	tests := []struct {
		doc     string
		dialect localauthz.Dialect
		kind    localauthz.PolicyKind
	}{
		{`{"Version":"5.0","Statement":[]}`, localauthz.DialectHuawei, localauthz.HuaweiIdentityPolicy},
		{`{"Version":"1.1","Statement":[]}`, localauthz.DialectHuawei, localauthz.HuaweiIdentityPolicy},
		{`{"Version":"5.0","Statement":[{"Principal":{"IAM":["1"]}}]}`, localauthz.DialectHuawei, localauthz.HuaweiResourcePolicy},
		{`{"Statement":{"Action":"kms:cmk:get"}}`, localauthz.DialectHuawei, localauthz.HuaweiIdentityPolicy},
		{`{"Statement":[{"Principal":{"IAM":"1"}}]}`, localauthz.DialectHuawei, localauthz.HuaweiResourcePolicy},
		{`{"Version":"1","Statement":[{"Action":"kms:cmk:get"}]}`, localauthz.DialectAlibaba, localauthz.RAMPolicy},
		{`{"Version":"1","Statement":[{"Principal":{"RAM":"x"}}]}`, localauthz.DialectAlibaba, localauthz.KeyPolicy},
		{`{"Statement":[{"Action":["acs:x:y"]}]}`, localauthz.DialectAlibaba, localauthz.RAMPolicy},
		{`not json`, localauthz.DialectAlibaba, localauthz.RAMPolicy},
	}
	for _, tt := range tests {
		d, k := localauthz.DetectPolicy([]byte(tt.doc))
		assert.Equal(t, tt.dialect, d, tt.doc)
		assert.Equal(t, tt.kind, k, tt.doc)
	}
	for _, s := range []string{"huawei", "HuaweiCloud", "alibaba", "ram", "aliyun"} {
		_, ok := localauthz.ParseDialect(s)
		assert.True(t, ok, s)
	}
	_, ok := localauthz.ParseDialect("aws")
	assert.False(t, ok)
	assert.Len(t, localauthz.Dialect("").Values(), 2)
	assert.Equal(t, localauthz.Dialect(""), localauthz.PolicyKind("x").Dialect())
}

func TestHuaweiLint(t *testing.T) {
	codes := func(kind localauthz.PolicyKind, doc string) map[string]localauthz.Finding {
		t.Helper()
		out := map[string]localauthz.Finding{}
		for _, f := range localauthz.LintDocument([]byte(doc), kind) {
			out[f.Code] = f
		}
		return out
	}
	data, err := os.ReadFile("testdata/huawei-policies/lint-problems.json")
	require.NoError(t, err)
	fs := codes(localauthz.HuaweiIdentityPolicy, string(data))
	for code, path := range map[string]string{
		localauthz.CodeFullAccess:          "Statement[0].Action",
		localauthz.CodeResourceCase:        "Statement[1].Resource[0]",
		localauthz.CodeUnknownOperator:     "Statement[1].Condition.NumericGreaterThanEquals",
		localauthz.CodeStringLikeSubstring: "Statement[2].Condition.StringLike",
		localauthz.CodeActionAlias:         "Statement[3].Action[0]",
		localauthz.CodeNeedsStarResource:   "Statement[3].Action[1]",
		localauthz.CodeAliasNeedsKeyAlias:  "Statement[3].Action[2]",
		localauthz.CodeOperatorType:        `Statement[4].Condition.StringEquals["kms:ScheduleKeyDeletionPendingWindowInDays"]`,
		localauthz.CodeUnknownConditionKey: `Statement[4].Condition.StringEquals["kms:EncryptionAlgorithms"]`,
		localauthz.CodeForAllValuesAbsent:  `Statement[4].Condition["ForAllValues:StringEquals"]["kms:GrantOperations"]`,
		localauthz.CodeNegatedAbsent:       `Statement[5].Condition.StringNotEquals["kms:EncryptionAlgorithm"]`,
		localauthz.CodeUnknownAction:       "Statement[5].Action[1]",
		localauthz.CodeActionCase:          "Statement[5].Action[0]",
		localauthz.CodeDuplicateSid:        "Statement[5].Sid",
		localauthz.CodeKMSResourceShape:    "Statement[5].Resource[0]",
	} {
		f, ok := fs[code]
		if assert.True(t, ok, "missing %s in %v", code, fs) {
			assert.Equal(t, path, f.Path, code)
		}
	}
	assert.Contains(t, fs[localauthz.CodeUnknownOperator].Message, "did you mean NumberGreaterThanEquals?")
	assert.Contains(t, fs[localauthz.CodeStringLikeSubstring].Message, "StringMatch")
	assert.Contains(t, fs[localauthz.CodeActionAlias].Message, "kms::getQuota (via kms:cmk:getQuota)")
	assert.Contains(t, fs[localauthz.CodeUnknownAction].Message, "did you mean kms:cmk:decryptData?")
	assert.Equal(t, localauthz.SeverityError, fs[localauthz.CodeUnknownOperator].Severity)

	scp := `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:cmk:*Key","kms:*:get*"],"Resource":["kms:*:*:KeyId:*"],"Condition":{"Bool":{"g:MFAPresent":["true"]}}},
	  {"Effect":"Deny","Action":"kms:cmk:decrypt?ata","Condition":{"StringNotEqualsIfExists":{"kms:EncryptionAlgorithm":"SM2_ENCRYPT"}}}]}`
	var scpFindings []localauthz.Finding
	for _, f := range localauthz.LintDocument([]byte(scp), localauthz.HuaweiSCP) {
		if f.Code == localauthz.CodeSCPSyntax {
			scpFindings = append(scpFindings, f)
		}
	}
	var paths []string
	for _, f := range scpFindings {
		paths = append(paths, f.Path)
	}
	assert.ElementsMatch(t, []string{"Statement[0].Resource[0]", "Statement[0].Condition", "Statement[0].Action[0]", "Statement[1].Action"}, paths)

	legacy := codes(localauthz.HuaweiIdentityPolicy, `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["kms:cmk:decryptData","kms:cmk:crypto","kms:cmk:get*"]}]}`)
	assert.Contains(t, legacy, localauthz.CodeLegacyUnmatched)
	assert.NotContains(t, legacy, localauthz.CodeActionAlias, "in 1.1 aliases are the names")

	v5legacyName := codes(localauthz.HuaweiIdentityPolicy, `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:dek:create"]}]}`)
	assert.Contains(t, v5legacyName[localauthz.CodeActionAlias].Message, "kms:cmk:createDataKeyWithoutPlaintext")

	// Table 1 declares KeyId for kms:cmk:create: the URN covering every key
	// of the account grants it; one naming a single key cannot
	create := localauthz.LintDocument([]byte(`{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:cmk:create"],"Resource":["kms:*:`+hwAcct+`:KeyId:*"]}]}`), localauthz.HuaweiIdentityPolicy)
	assert.Empty(t, create)
	create = localauthz.LintDocument([]byte(`{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:cmk:create"],"Resource":["`+hwKey+`"]}]}`), localauthz.HuaweiIdentityPolicy)
	require.Len(t, create, 1)
	assert.Equal(t, localauthz.CodeNeedsStarResource, create[0].Code)
	assert.Equal(t, localauthz.SeverityInfo, create[0].Severity)

	clean := localauthz.LintDocument([]byte(`{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:cmk:decryptData"],"Resource":["`+hwKey+`"]}]}`), localauthz.HuaweiIdentityPolicy)
	assert.Empty(t, clean)
	parseErr := localauthz.LintDocument([]byte(`{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:cmk:get"],"NotPrincipal":{}}]}`), localauthz.HuaweiIdentityPolicy)
	require.Len(t, parseErr, 1)
	assert.Equal(t, localauthz.CodeUnsupported, parseErr[0].Code)
}
