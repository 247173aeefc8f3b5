package huawei_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
	"github.com/kmsenvelope/kmsenvelope/localauthz/huawei"
)

const (
	hwAcct  = "11111111111111111111111111111111"
	hwOther = "22222222222222222222222222222222"
	hwKey   = "kms:cn-north-4:" + hwAcct + ":KeyId:0d0466b0-e727-4d9c-b35d-f84bb474a37f"
	hwAlias = "kms:cn-north-4:" + hwAcct + ":alias:app-prod"
	hwAlice = "iam::" + hwAcct + ":user:alice"
)

func parseHW(t *testing.T, kind huawei.PolicyKind, doc string) *huawei.Policy {
	t.Helper()
	p, err := huawei.ParsePolicy([]byte(doc), kind)
	require.NoError(t, err, doc)
	return p
}

func TestParseHuaweiPolicyErrors(t *testing.T) {
	const allow = `"Effect":"Allow","Action":["kms:cmk:get"]`
	stmt := func(s string) string { return `{"Version":"5.0","Statement":[` + s + `]}` }
	tests := []struct {
		name  string
		kind  huawei.PolicyKind
		doc   string
		path  string
		kind2 error
		text  string
	}{
		{"not json", huawei.IdentityPolicy, `{"Version":`, "Version", huawei.ErrSyntax, "end of input"},
		{"array", huawei.IdentityPolicy, `[]`, "", huawei.ErrInvalidPolicy, "array"},
		{"ram version", huawei.IdentityPolicy, `{"Version":"1","Statement":[{` + allow + `}]}`, "Version", huawei.ErrInvalidPolicy, `"5.0"`},
		{"legacy scp", huawei.SCP, `{"Version":"1.1","Statement":[{` + allow + `}]}`, "Version", huawei.ErrInvalidPolicy, "legacy"},
		{"no version", huawei.IdentityPolicy, `{"Statement":[{` + allow + `}]}`, "Version", huawei.ErrInvalidPolicy, "missing"},
		{"no statement", huawei.IdentityPolicy, `{"Version":"5.0"}`, "Statement", huawei.ErrInvalidPolicy, "missing"},
		{"empty statements", huawei.IdentityPolicy, `{"Version":"5.0","Statement":[]}`, "Statement", huawei.ErrInvalidPolicy, "empty"},
		{"unknown top", huawei.IdentityPolicy, `{"Version":"5.0","Statment":[]}`, "Statment", huawei.ErrInvalidPolicy, "did you mean Statement"},
		{"id", huawei.IdentityPolicy, `{"Version":"5.0","Id":"x","Statement":[{` + allow + `}]}`, "Id", huawei.ErrUnsupported, ""},
		{"effect", huawei.IdentityPolicy, stmt(`{"Effect":"allow","Action":"kms:cmk:get"}`), "Statement[0].Effect", huawei.ErrInvalidPolicy, `"Allow" or "Deny"`},
		{"no effect", huawei.IdentityPolicy, stmt(`{"Action":"kms:cmk:get"}`), "Statement[0].Effect", huawei.ErrInvalidPolicy, "missing"},
		{"no action", huawei.IdentityPolicy, stmt(`{"Effect":"Allow"}`), "Statement[0].Action", huawei.ErrInvalidPolicy, "missing"},
		{"both actions", huawei.IdentityPolicy, stmt(`{` + allow + `,"NotAction":"kms:cmk:get"}`), "Statement[0].NotAction", huawei.ErrInvalidPolicy, "both"},
		{"bad action", huawei.IdentityPolicy, stmt(`{"Effect":"Allow","Action":["kms:cmk:get","kms:Decrypt"]}`), "Statement[0].Action[1]", huawei.ErrInvalidPolicy, "<service>:<type>:<operation>"},
		{"four segments", huawei.IdentityPolicy, stmt(`{"Effect":"Allow","Action":"kms:cmk:get:x"}`), "Statement[0].Action", huawei.ErrInvalidPolicy, ""},
		{"empty action list", huawei.IdentityPolicy, stmt(`{"Effect":"Allow","Action":[]}`), "Statement[0].Action", huawei.ErrInvalidPolicy, "empty"},
		{"bad resource", huawei.IdentityPolicy, stmt(`{` + allow + `,"Resource":["kms:cn-north-4:KeyId"]}`), "Statement[0].Resource[0]", huawei.ErrInvalidPolicy, "URN"},
		{"both resources", huawei.IdentityPolicy, stmt(`{` + allow + `,"Resource":"*","NotResource":"*"}`), "Statement[0].NotResource", huawei.ErrInvalidPolicy, "both"},
		{"scp notresource", huawei.SCP, stmt(`{` + allow + `,"NotResource":"*"}`), "Statement[0].NotResource", huawei.ErrUnsupported, ""},
		{"scp principal", huawei.SCP, stmt(`{` + allow + `,"Principal":{"IAM":["1"]}}`), "Statement[0].Principal", huawei.ErrInvalidPolicy, "not allowed"},
		{"identity principal", huawei.IdentityPolicy, stmt(`{` + allow + `,"Principal":{"IAM":["1"]}}`), "Statement[0].Principal", huawei.ErrInvalidPolicy, "not allowed"},
		{"resource no principal", huawei.ResourcePolicy, stmt(`{` + allow + `}`), "Statement[0].Principal", huawei.ErrInvalidPolicy, "missing"},
		{"resource principal type", huawei.ResourcePolicy, stmt(`{` + allow + `,"Principal":{"RAM":["1"]}}`), `Statement[0].Principal.RAM`, huawei.ErrUnsupported, ""},
		{"resource principal case", huawei.ResourcePolicy, stmt(`{` + allow + `,"Principal":{"iam":["1"]}}`), `Statement[0].Principal.iam`, huawei.ErrInvalidPolicy, "case-sensitive"},
		{"resource bad principal", huawei.ResourcePolicy, stmt(`{` + allow + `,"Principal":{"IAM":["iam::1:role:x"]}}`), `Statement[0].Principal.IAM[0]`, huawei.ErrInvalidPolicy, "account ID"},
		{"notprincipal", huawei.ResourcePolicy, stmt(`{` + allow + `,"NotPrincipal":{"IAM":["1"]}}`), "Statement[0].NotPrincipal", huawei.ErrUnsupported, ""},
		{"element case", huawei.IdentityPolicy, stmt(`{` + allow + `,"resource":"*"}`), "Statement[0].resource", huawei.ErrInvalidPolicy, "case-sensitive"},
		{"legacy notaction", huawei.IdentityPolicy, `{"Version":"1.1","Statement":[{"Effect":"Allow","NotAction":"kms:cmk:get"}]}`, "Statement[0].NotAction", huawei.ErrUnsupported, ""},
		{"legacy notresource", huawei.IdentityPolicy, `{"Version":"1.1","Statement":[{` + allow + `,"NotResource":"*"}]}`, "Statement[0].NotResource", huawei.ErrUnsupported, ""},
		{"condition type", huawei.IdentityPolicy, stmt(`{` + allow + `,"Condition":[]}`), "Statement[0].Condition", huawei.ErrInvalidPolicy, ""},
		{"empty condition", huawei.IdentityPolicy, stmt(`{` + allow + `,"Condition":{}}`), "Statement[0].Condition", huawei.ErrInvalidPolicy, "empty"},
		{"operator chars", huawei.IdentityPolicy, stmt(`{` + allow + `,"Condition":{"String Equals":{"a":"b"}}}`), `Statement[0].Condition["String Equals"]`, huawei.ErrInvalidPolicy, "operator"},
		{"operator block", huawei.IdentityPolicy, stmt(`{` + allow + `,"Condition":{"StringEquals":"x"}}`), "Statement[0].Condition.StringEquals", huawei.ErrInvalidPolicy, ""},
		{"bad number", huawei.IdentityPolicy, stmt(`{` + allow + `,"Condition":{"NumberLessThan":{"kms:ScheduleKeyDeletionPendingWindowInDays":["seven"]}}}`), `Statement[0].Condition.NumberLessThan["kms:ScheduleKeyDeletionPendingWindowInDays"][0]`, huawei.ErrInvalidPolicy, "number"},
		{"bad date", huawei.IdentityPolicy, stmt(`{` + allow + `,"Condition":{"ForAnyValue:DateLessThanIfExists":{"g:CurrentTime":"soon"}}}`), `Statement[0].Condition["ForAnyValue:DateLessThanIfExists"]["g:CurrentTime"]`, huawei.ErrInvalidPolicy, "ISO 8601"},
		{"null value", huawei.IdentityPolicy, stmt(`{` + allow + `,"Condition":{"StringEquals":{"a":[null]}}}`), `Statement[0].Condition.StringEquals.a[0]`, huawei.ErrInvalidPolicy, ""},
		{"too large", huawei.IdentityPolicy, stmt(`{` + allow + `,"Sid":"` + strings.Repeat("x", 7000) + `"}`), "", huawei.ErrTooLarge, "6144"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := huawei.ParsePolicy([]byte(tt.doc), tt.kind)
			require.Error(t, err)
			var pe *huawei.PolicyError
			require.True(t, errors.As(err, &pe), "%T", err)
			assert.ErrorIs(t, err, tt.kind2)
			assert.Equal(t, tt.path, pe.Path, err.Error())
			assert.Contains(t, err.Error(), tt.text)
		})
	}
	_, err := huawei.ParsePolicy([]byte(`{}`), localauthz.RAMPolicy)
	assert.ErrorIs(t, err, huawei.ErrInvalidPolicy)
	_, err = huawei.ParsePolicy([]byte(stmt(`{`+allow+`}`)), huawei.IdentityPolicy, huawei.WithMaxSize(10))
	assert.ErrorIs(t, err, huawei.ErrTooLarge)

	p, err := huawei.ParsePolicy([]byte(stmt(`{`+allow+`}`)), huawei.SCP)
	require.NoError(t, err)
	assert.Equal(t, huawei.SCP, p.Kind())
	assert.Equal(t, "5.0", p.Version())
}

func TestParseHuaweiPolicyAccepts(t *testing.T) {
	docs := []struct {
		kind huawei.PolicyKind
		doc  string
	}{
		{huawei.IdentityPolicy, `{"Version":"5.0","Statement":{"Effect":"Allow","Action":"kms:*"}}`},
		{huawei.IdentityPolicy, `{"Version":"5.0","Statement":[{"Sid":"any text, spaces too","Effect":"Deny","NotAction":["kms:cmk:get*","*"],"NotResource":["kms:*:*:KeyId:*"]}]}`},
		{huawei.IdentityPolicy, `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms::getQuota","*:*:*","kms:cmk:?ecryptData"],"Resource":"*",
		  "Condition":{"ForAnyValue:StringNotEqualsIfExists":{"g:EnterpriseProjectId":["0"]},"NumericLessThan":{"x":[1, true, "z"]},"Null":{"k":"true"},
		  "StringStartWith":{"g:PrincipalUrn":"iam::"},"Bool":{"g:MFAPresent":true},"IpAddress":{"g:SourceIp":"10.0.0.0/8"}}}]}`},
		{huawei.IdentityPolicy, `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["kms:cmk:crypto"],"Resource":["KMS:*:*:KeyId:*"]}]}`},
		{huawei.SCP, `{"Version":"5.0","Statement":[{"Sid":"FullAccess","Effect":"Allow","Action":["*:*:*"]}]}`},
		{huawei.ResourcePolicy, `{"Version":"5.0","Statement":[{"Effect":"Allow","Principal":{"IAM":["` + hwOther + `","iam::` + hwOther + `:user:bob","iam::` + hwOther + `:agency:ops"]},"Action":"kms:cmk:decryptData","Resource":"*"}]}`},
	}
	for _, d := range docs {
		p := parseHW(t, d.kind, d.doc)
		once, err := json.Marshal(p)
		require.NoError(t, err)
		p2, err := huawei.ParsePolicy(once, d.kind)
		require.NoError(t, err, string(once))
		twice, _ := json.Marshal(p2)
		assert.Equal(t, string(once), string(twice))
	}
	p := parseHW(t, huawei.IdentityPolicy, `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":"kms:cmk:get"}]}`)
	js, _ := json.Marshal(p)
	assert.Equal(t, `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:cmk:get"]}]}`, string(js), "an omitted Resource stays omitted")
	p = parseHW(t, huawei.ResourcePolicy, `{"Version":"5.0","Statement":[{"Effect":"Allow","Principal":{"IAM":"1"},"Action":"kms:cmk:get","Resource":"*"}]}`)
	assert.JSONEq(t, `{"Effect":"Allow","Action":["kms:cmk:get"],"Principal":{"IAM":["1"]},"Resource":["*"]}`, string(p.StatementJSON(0)))
}

// hwSet builds a set from (kind, target, document) triples.
func hwSet(t *testing.T, specs ...string) *huawei.PolicySet {
	t.Helper()
	var set huawei.PolicySet
	for i := 0; i+2 < len(specs); i += 3 {
		p := parseHW(t, huawei.PolicyKind(specs[i]), specs[i+2])
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
	eval := func(cond string, ctx huawei.Context) huawei.Decision {
		set := hwSet(t, "identity", "", allowDoc(`"kms:cmk:encryptData"`, `"`+hwKey+`"`, cond))
		return set.Evaluate(huawei.Request{Principal: hwAlice, Action: "kms:cmk:encryptData", Resource: hwKey, Context: ctx})
	}
	tests := []struct {
		name string
		cond string
		ctx  huawei.Context
		want huawei.Effect
	}{
		{"start with", `{"StringStartWith":{"g:PrincipalUrn":["iam::"]}}`, huawei.Context{"g:PrincipalUrn": {hwAlice}}, huawei.Allow},
		{"start with no", `{"StringStartWith":{"g:PrincipalUrn":["sts::"]}}`, huawei.Context{"g:PrincipalUrn": {hwAlice}}, huawei.ImplicitDeny},
		{"end with", `{"StringEndWith":{"g:PrincipalUrn":[":alice"]}}`, huawei.Context{"g:PrincipalUrn": {hwAlice}}, huawei.Allow},
		{"not end with", `{"StringNotEndWith":{"g:PrincipalUrn":[":alice"]}}`, huawei.Context{"g:PrincipalUrn": {hwAlice}}, huawei.ImplicitDeny},
		{"stringmatch case-sensitive", `{"StringMatch":{"g:PrincipalUrn":["IAM::*"]}}`, huawei.Context{"g:PrincipalUrn": {hwAlice}}, huawei.ImplicitDeny},
		{"stringlike literal star", `{"StringLike":{"g:PrincipalUrn":["iam::*"]}}`, huawei.Context{"g:PrincipalUrn": {hwAlice}}, huawei.ImplicitDeny},
		{"stringnotlike", `{"StringNotLike":{"g:PrincipalUrn":["bob"]}}`, huawei.Context{"g:PrincipalUrn": {hwAlice}}, huawei.Allow},
		{"ignore case", `{"StringEqualsIgnoreCase":{"kms:KeySpec":["aes_256"]}}`, huawei.Context{"kms:KeySpec": {"AES_256"}}, huawei.Allow},
		{"ifexists empty value", `{"StringEqualsIfExists":{"kms:KeySpec":["AES_256"]}}`, huawei.Context{"kms:KeySpec": {""}}, huawei.Allow},
		{"empty value without ifexists", `{"StringEquals":{"kms:KeySpec":["AES_256"]}}`, huawei.Context{"kms:KeySpec": {""}}, huawei.ImplicitDeny},
		{"number from string", `{"NumberGreaterThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":["30"]}}`, huawei.Context{"kms:ScheduleKeyDeletionPendingWindowInDays": {"30"}}, huawei.Allow},
		{"number too small", `{"NumberGreaterThanEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":[30]}}`, huawei.Context{"kms:ScheduleKeyDeletionPendingWindowInDays": {"7"}}, huawei.ImplicitDeny},
		{"string op on numeric key", `{"StringEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":["30"]}}`, huawei.Context{"kms:ScheduleKeyDeletionPendingWindowInDays": {"30"}}, huawei.ImplicitDeny},
		{"negated wrong type never matches", `{"StringNotEquals":{"g:CurrentTime":["x"]}}`, huawei.Context{}, huawei.ImplicitDeny},
		{"number op on string key", `{"NumberEquals":{"kms:KeySpec":["1"]}}`, huawei.Context{"kms:KeySpec": {"1"}}, huawei.ImplicitDeny},
		{"unknown key any type", `{"NumberEquals":{"x:custom":["1"]}}`, huawei.Context{"x:custom": {"1.0"}}, huawei.Allow},
		{"unknown operator ifexists", `{"NumericLessThanIfExists":{"x":["1"]}}`, huawei.Context{}, huawei.ImplicitDeny},
		{"Null is unknown", `{"Null":{"x":["true"]}}`, huawei.Context{}, huawei.ImplicitDeny},
		{"foranyvalue notequals ifexists absent", `{"ForAnyValue:StringNotEqualsIfExists":{"g:EnterpriseProjectId":["0"]}}`, huawei.Context{}, huawei.Allow},
		{"foranyvalue notequals present", `{"ForAnyValue:StringNotEqualsIfExists":{"g:EnterpriseProjectId":["0"]}}`, huawei.Context{"g:EnterpriseProjectId": {"0"}}, huawei.ImplicitDeny},
		{"foranyvalue absent", `{"ForAnyValue:StringEquals":{"kms:GrantOperations":["encrypt-data"]}}`, huawei.Context{}, huawei.ImplicitDeny},
		{"date offset", `{"DateGreaterThanEquals":{"g:CurrentTime":["2026-01-01T00:00:00+08:00"]}}`, huawei.Context{"g:CurrentTime": {"2025-12-31T16:00:00Z"}}, huawei.Allow},
		{"bool", `{"Bool":{"g:MFAPresent":["true"]}}`, huawei.Context{"g:MFAPresent": {"TRUE"}}, huawei.Allow},
		{"ip", `{"IpAddress":{"g:SourceIp":["10.0.0.0/8"]}}`, huawei.Context{"g:SourceIp": {"10.1.2.3"}}, huawei.Allow},
		{"not ip", `{"NotIpAddress":{"g:SourceIp":["10.0.0.0/8"]}}`, huawei.Context{"g:SourceIp": {"10.1.2.3"}}, huawei.ImplicitDeny},
		{"values ORed", `{"StringEquals":{"kms:KeySpec":["AES_256","SM4"]}}`, huawei.Context{"kms:KeySpec": {"SM4"}}, huawei.Allow},
		{"negated NOR", `{"StringNotEquals":{"kms:KeySpec":["AES_256","SM4"]}}`, huawei.Context{"kms:KeySpec": {"SM4"}}, huawei.ImplicitDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, eval(tt.cond, tt.ctx).Effect)
		})
	}
	d := eval(`{"StringEquals":{"kms:ScheduleKeyDeletionPendingWindowInDays":["30"]}}`, huawei.Context{"kms:ScheduleKeyDeletionPendingWindowInDays": {"30"}})
	assert.True(t, d.Assumptions.Has(huawei.AssumeOperatorNeverMatches))
	assert.Equal(t, []string{"StringEquals kms:ScheduleKeyDeletionPendingWindowInDays"}, d.UnmetConditions)
	d = eval(`{"StringEquals":{"kms:KeySpec":["AES_256"]}}`, nil)
	assert.Equal(t, []string{"kms:KeySpec"}, d.MissingConditionKeys)
	assert.True(t, d.Assumptions.Has(huawei.AssumeAbsentKeyFails))
}

func TestHuaweiActionsAndResources(t *testing.T) {
	eval := func(doc, action, resource string) huawei.Decision {
		set := hwSet(t, "identity", "user:alice", doc)
		return set.Evaluate(huawei.Request{Principal: hwAlice, Action: action, Resource: resource})
	}
	// no resource-level permission: the unit is "*" whatever is named
	d := eval(allowDoc(`"kms::getQuota"`, `"kms:*:*:KeyId:*"`, ""), "kms::getQuota", hwKey)
	assert.Equal(t, huawei.ImplicitDeny, d.Effect)
	assert.Equal(t, []huawei.Missing{{Action: "kms::getQuota", Resource: "*", Where: huawei.WhereIdentity}}, d.Missing)
	assert.True(t, d.Assumptions.Has(huawei.AssumeNoResource))
	assert.Equal(t, huawei.Allow, eval(allowDoc(`"kms::getQuota"`, "", ""), "kms::getQuota", "*").Effect)
	assert.Equal(t, huawei.ImplicitDeny, eval(allowDoc(`"kms::getQuota"`, `"*:*:*:*:*"`, ""), "kms::getQuota", "*").Effect, `only the pattern "*" matches "*"`)

	// NotResource
	doc := `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":"kms:cmk:*","NotResource":["kms:*:*:KeyId:secret-*"]}]}`
	assert.Equal(t, huawei.Allow, eval(doc, "kms:cmk:get", hwKey).Effect)
	assert.Equal(t, huawei.ImplicitDeny, eval(doc, "kms:cmk:get", "kms:cn-north-4:"+hwAcct+":KeyId:secret-1").Effect)

	// NotAction and aliases: excluding the legacy name excludes the action
	doc = `{"Version":"5.0","Statement":[{"Effect":"Allow","NotAction":["kms:cmk:update"],"Resource":"*"}]}`
	assert.Equal(t, huawei.ImplicitDeny, eval(doc, "kms:cmk:updateKeyDescription", hwKey).Effect)
	assert.Equal(t, huawei.Allow, eval(doc, "kms:cmk:get", hwKey).Effect)

	// 1.1: matches only through legacy names; actions without aliases by name
	legacy := `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["kms:cmk:decryptData","kms:cmk:get"]}]}`
	assert.Equal(t, huawei.ImplicitDeny, eval(legacy, "kms:cmk:decryptData", hwKey).Effect)
	assert.Equal(t, huawei.Allow, eval(legacy, "kms:cmk:get", hwKey).Effect)
	legacy = `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["kms:cmk:*"],"Resource":["kms:*:*:KEYID:*"]}]}`
	d = eval(legacy, "kms:cmk:get", hwKey)
	assert.Equal(t, huawei.ImplicitDeny, d.Effect, "only the service segment folds case")

	// resources compare case-sensitively; the decision says so
	d = eval(allowDoc(`"kms:cmk:get"`, `"kms:cn-north-4:`+hwAcct+`:keyid:*"`, ""), "kms:cmk:get", hwKey)
	assert.True(t, d.Assumptions.Has(huawei.AssumeCaseSensitiveResource))

	// action names fold case in the request too
	assert.Equal(t, huawei.Allow, eval(allowDoc(`"kms:dek:create"`, `"*"`, ""), "KMS:CMK:CREATEDATAKEY", hwKey).Effect)
}

func TestHuaweiPrincipals(t *testing.T) {
	resDoc := func(principals string) string {
		return `{"Version":"5.0","Statement":[{"Effect":"Allow","Principal":{"IAM":[` + principals + `]},"Action":"kms:cmk:decryptData","Resource":"*"}]}`
	}
	idDoc := allowDoc(`"kms:cmk:decryptData"`, `"*"`, "")
	check := func(principals, caller string, want huawei.Effect) {
		t.Helper()
		set := hwSet(t, "identity", "", idDoc, "resource", hwKey, resDoc(principals))
		d := set.Evaluate(huawei.Request{Principal: caller, Action: "kms:cmk:decryptData", Resource: hwKey})
		assert.Equal(t, want, d.Effect, "%s as %s: %+v", principals, caller, d)
	}
	check(`"`+hwOther+`"`, "iam::"+hwOther+":user:bob", huawei.Allow)
	check(`"`+hwOther+`"`, "sts::"+hwOther+":assumed-agency:ops/s1", huawei.Allow)
	check(`"`+hwOther+`"`, "sts::"+hwOther+":external-user:idp/s1", huawei.Allow)
	check(`"iam::`+hwOther+`:user:bob"`, "iam::"+hwOther+":user:bob", huawei.Allow)
	check(`"iam::`+hwOther+`:user:bob"`, "iam::"+hwOther+":user:carol", huawei.ImplicitDeny)
	check(`"iam::`+hwOther+`:agency:ops"`, "sts::"+hwOther+":assumed-agency:ops/s1", huawei.Allow)
	check(`"iam::`+hwOther+`:agency:ops"`, "sts::"+hwOther+"::assumed-agency:ops/s1", huawei.Allow) // SDK comment typo
	check(`"iam::`+hwOther+`:agency:ops"`, "sts::"+hwOther+":external-user:ops/s1", huawei.ImplicitDeny)
	check(`"33333333333333333333333333333333"`, "iam::"+hwOther+":user:bob", huawei.ImplicitDeny)

	var set huawei.PolicySet
	for _, bad := range []string{"alice", "iam::" + hwAcct + ":user:", "iam::*:user:a", "sts::" + hwAcct + ":assumed-agency:ops", "iam::" + hwAcct + ":root", "acs:ram::1:user/a"} {
		d := set.Evaluate(huawei.Request{Principal: bad, Action: "kms:cmk:get", Resource: hwKey})
		if strings.HasPrefix(bad, "acs:") || bad == "alice" {
			continue // an empty set with a non-Huawei principal takes the Alibaba path
		}
		assert.Error(t, d.Err, bad)
		assert.Equal(t, huawei.ImplicitDeny, d.Effect)
	}
	s := hwSet(t, "identity", "", idDoc)
	assert.Error(t, s.Evaluate(huawei.Request{Principal: "acs:ram::1:user/a", Action: "kms:cmk:get", Resource: hwKey}).Err, "a Huawei set takes Huawei principals")
	assert.Error(t, s.Evaluate(huawei.Request{Principal: hwAlice, Action: "", Resource: hwKey}).Err)

	// an identity policy attached to a full URN applies to that identity only
	s = hwSet(t, "identity", "iam::"+hwAcct+":user:bob", idDoc)
	assert.Equal(t, huawei.ImplicitDeny, s.Evaluate(huawei.Request{Principal: hwAlice, Action: "kms:cmk:decryptData", Resource: hwKey}).Effect)
	s = hwSet(t, "identity", "iam::"+hwAcct+":agency:ops", idDoc)
	assert.Equal(t, huawei.Allow, s.Evaluate(huawei.Request{Principal: "sts::" + hwAcct + ":assumed-agency:ops/x", Action: "kms:cmk:decryptData", Resource: hwKey}).Effect)
}

func TestHuaweiSCPs(t *testing.T) {
	id := allowDoc(`"kms:cmk:*"`, `"*"`, "")
	full := `{"Version":"5.0","Statement":[{"Sid":"FullAccess","Effect":"Allow","Action":["*:*:*"]}]}`
	onlyGet := allowDoc(`"kms:cmk:get"`, "", "")
	req := huawei.Request{Principal: hwAlice, Action: "kms:cmk:decryptData", Resource: hwKey}

	// without an organization path: root and account SCPs apply, and so do
	// OU ones, which cannot be placed: the library errs toward denial and
	// names the missing fact
	set := hwSet(t, "identity", "", id, "scp", "root", full, "scp", "ou:ou-1", onlyGet)
	d := set.Evaluate(req)
	assert.Equal(t, huawei.ImplicitDeny, d.Effect)
	assert.True(t, d.Assumptions.Has(huawei.AssumeSCPPathUnknown))
	assert.Equal(t, []huawei.Missing{{Action: req.Action, Resource: hwKey, Where: huawei.WhereSCP}}, d.Missing)
	require.Len(t, d.MissingFacts, 1)
	assert.Contains(t, d.MissingFacts[0], "organization path")
	get := req
	get.Action = "kms:cmk:get"
	d = set.Evaluate(get)
	assert.Equal(t, huawei.Allow, d.Effect, "allowed wherever the caller is")
	assert.Empty(t, d.MissingFacts)

	r := req
	r.Org = &huawei.Org{Path: []string{"root", "ou:ou-1", "account:" + hwAcct}}
	d = set.Evaluate(r)
	assert.Equal(t, huawei.ImplicitDeny, d.Effect)
	assert.Equal(t, []huawei.Missing{{Action: req.Action, Resource: hwKey, Where: huawei.WhereSCP}}, d.Missing)
	assert.True(t, d.Assumptions.Has(huawei.AssumeSCPUnlistedLevel))

	// an SCP without attachment bounds the caller's account; several SCPs of a level are ORed
	set = hwSet(t, "identity", "", id, "scp", "", onlyGet, "scp", "account:"+hwAcct, allowDoc(`"kms:cmk:decryptData"`, "", ""))
	assert.Equal(t, huawei.Allow, set.Evaluate(req).Effect)
	set = hwSet(t, "identity", "", id, "scp", "", onlyGet)
	d = set.Evaluate(req)
	assert.Equal(t, huawei.ImplicitDeny, d.Effect)
	assert.Equal(t, huawei.WhereSCP, d.Missing[0].Where)

	// SCPs grant nothing: both the boundary and the identity side are missing
	set = hwSet(t, "scp", "", full)
	d = set.Evaluate(req)
	assert.ElementsMatch(t, []huawei.Missing{{Action: req.Action, Resource: hwKey, Where: huawei.WhereIdentity}}, d.Missing)
	set = hwSet(t, "scp", "", onlyGet)
	d = set.Evaluate(req)
	assert.ElementsMatch(t, []huawei.Missing{{Action: req.Action, Resource: hwKey, Where: huawei.WhereIdentity}, {Action: req.Action, Resource: hwKey, Where: huawei.WhereSCP}}, d.Missing)

	// with a path, an SCP applies only when its attachment is on it
	set = hwSet(t, "identity", "", id, "scp", "root", onlyGet, "scp", "", full)
	r2 := req
	r2.Org = &huawei.Org{Path: []string{"ou:ou-1", "account:" + hwAcct}}
	assert.Equal(t, huawei.Allow, set.Evaluate(r2).Effect, "root is not on this (partial) path")
	r2.Org.Path = append([]string{"root"}, r2.Org.Path...)
	assert.Equal(t, huawei.ImplicitDeny, set.Evaluate(r2).Effect)

	// an SCP of another account or an OU off the path does not apply
	set = hwSet(t, "identity", "", id, "scp", "account:"+hwOther, onlyGet, "scp", "ou:elsewhere", onlyGet)
	assert.Equal(t, huawei.Allow, set.Evaluate(r).Effect)

	// management account: no SCP applies, not even a Deny
	deny := `{"Version":"5.0","Statement":[{"Effect":"Deny","Action":"kms:*:*"}]}`
	set = hwSet(t, "identity", "", id, "scp", "root", deny)
	r.Org = &huawei.Org{IsManagementAccount: true}
	assert.Equal(t, huawei.Allow, set.Evaluate(r).Effect)
	r.Org = nil
	d = set.Evaluate(r)
	assert.Equal(t, huawei.ExplicitDeny, d.Effect)
	assert.Equal(t, huawei.SCP, d.Denied[0].Kind)

	var s huawei.PolicySet
	p := parseHW(t, huawei.SCP, full)
	for _, bad := range []string{"ou:", "account:", "OU:x", "tree"} {
		assert.Error(t, s.Add(p, bad), bad)
	}
	rp := parseHW(t, huawei.ResourcePolicy, `{"Version":"5.0","Statement":[{"Effect":"Allow","Principal":{"IAM":"1"},"Action":"kms:cmk:get"}]}`)
	assert.Error(t, s.Add(rp, "kms:*:1:KeyId:*"))
	assert.Error(t, s.Add(rp, "key-1"))
	require.NoError(t, s.Add(rp, hwKey))
	ram := localauthz.MustParsePolicy(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`, localauthz.RAMPolicy)
	assert.ErrorContains(t, s.Add(ram, ""), "not a Huawei Cloud policy")
}

func TestHuaweiCheckAndGrants(t *testing.T) {
	set := hwSet(t, "identity", "", allowDoc(`"kms:alias:create"`, `["kms:cn-north-4:`+hwAcct+`:KeyId:*"]`, ""))
	rep := set.Check(hwAlice, huawei.Call{Method: "POST", Path: "/v1.0/p/kms/aliases", Region: "cn-north-4", Account: hwAcct, KeyID: "0d0466b0-e727-4d9c-b35d-f84bb474a37f", Alias: "app-prod"})
	require.NoError(t, rep.Err)
	assert.Equal(t, huawei.ImplicitDeny, rep.Decision.Effect)
	require.Len(t, rep.Checks, 2)
	assert.Equal(t, huawei.Allow, rep.Checks[0].Decision.Effect)
	assert.Equal(t, []huawei.Missing{{Action: "kms:alias:create", Resource: hwAlias, Where: huawei.WhereIdentity}}, rep.Decision.Missing)
	grants := rep.Grants()
	require.Len(t, grants, 1)
	assert.Equal(t, huawei.WhereIdentity, grants[0].Where)
	assert.JSONEq(t, `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:alias:create"],"Resource":["`+hwAlias+`"]}]}`, string(grants[0].Policy))
	// the suggested policy parses and grants what was missing
	p := parseHW(t, huawei.IdentityPolicy, string(grants[0].Policy))
	require.NoError(t, set.Add(p, ""))
	rep = set.Check(hwAlice, huawei.Call{Method: "POST", Path: "/v1.0/p/kms/aliases", Region: "cn-north-4", Account: hwAcct, KeyID: "0d0466b0-e727-4d9c-b35d-f84bb474a37f", Alias: "app-prod"})
	assert.Equal(t, huawei.Allow, rep.Decision.Effect)
	assert.Contains(t, rep.Text(), "POST /v1.0/p/kms/aliases")

	reps := set.Preflight(hwAlice, huawei.Call{Method: "GET", Path: "/v1.0/p/nope/x/y"})
	assert.ErrorIs(t, reps[0].Err, huawei.ErrUnknownAPI)

	missing := []huawei.Missing{
		{Action: "kms:cmk:decryptData", Resource: hwKey, Where: huawei.WhereResource},
		{Action: "kms:cmk:decryptData", Resource: hwKey, Where: huawei.WhereSCP},
		{Action: "kms:cmk:get", Resource: hwAlias, Where: huawei.WhereResource},
	}
	grants = huawei.SuggestGrants("sts::"+hwOther+":assumed-agency:ops/s", missing)
	require.Len(t, grants, 2)
	assert.Equal(t, huawei.WhereSCP, grants[0].Where)
	assert.JSONEq(t, `{"Effect":"Allow","Action":["kms:cmk:decryptData"],"Resource":["*"]}`, string(grants[0].Policy))
	assert.Equal(t, huawei.WhereResource, grants[1].Where)
	assert.JSONEq(t, `{"Effect":"Allow","Principal":{"IAM":["`+hwOther+`"]},"Action":["kms:cmk:decryptData"],"Resource":["*"]}`, string(grants[1].Policy))
	assert.Equal(t, "iam::"+hwOther+":agency:ops", huawei.PolicyHolder("sts::"+hwOther+":assumed-agency:ops/s"))
}

func TestHuaweiLint(t *testing.T) {
	codes := func(kind huawei.PolicyKind, doc string) map[string]huawei.Finding {
		t.Helper()
		out := map[string]huawei.Finding{}
		for _, f := range huawei.LintDocument([]byte(doc), kind) {
			out[f.Code] = f
		}
		return out
	}
	data, err := os.ReadFile("testdata/policies/lint-problems.json")
	require.NoError(t, err)
	fs := codes(huawei.IdentityPolicy, string(data))
	for code, path := range map[string]string{
		huawei.CodeFullAccess:          "Statement[0].Action",
		huawei.CodeResourceCase:        "Statement[1].Resource[0]",
		huawei.CodeUnknownOperator:     "Statement[1].Condition.NumericGreaterThanEquals",
		huawei.CodeStringLikeSubstring: "Statement[2].Condition.StringLike",
		huawei.CodeActionAlias:         "Statement[3].Action[0]",
		huawei.CodeNeedsStarResource:   "Statement[3].Action[1]",
		huawei.CodeAliasNeedsKeyAlias:  "Statement[3].Action[2]",
		huawei.CodeOperatorType:        `Statement[4].Condition.StringEquals["kms:ScheduleKeyDeletionPendingWindowInDays"]`,
		huawei.CodeUnknownConditionKey: `Statement[4].Condition.StringEquals["kms:EncryptionAlgorithms"]`,
		huawei.CodeForAllValuesAbsent:  `Statement[4].Condition["ForAllValues:StringEquals"]["kms:GrantOperations"]`,
		huawei.CodeNegatedAbsent:       `Statement[5].Condition.StringNotEquals["kms:EncryptionAlgorithm"]`,
		huawei.CodeUnknownAction:       "Statement[5].Action[1]",
		huawei.CodeActionCase:          "Statement[5].Action[0]",
		huawei.CodeDuplicateSid:        "Statement[5].Sid",
		huawei.CodeKMSResourceShape:    "Statement[5].Resource[0]",
	} {
		f, ok := fs[code]
		if assert.True(t, ok, "missing %s in %v", code, fs) {
			assert.Equal(t, path, f.Path, code)
		}
	}
	assert.Contains(t, fs[huawei.CodeUnknownOperator].Message, "did you mean NumberGreaterThanEquals?")
	assert.Contains(t, fs[huawei.CodeStringLikeSubstring].Message, "StringMatch")
	assert.Contains(t, fs[huawei.CodeActionAlias].Message, "kms::getQuota (via kms:cmk:getQuota)")
	assert.Contains(t, fs[huawei.CodeUnknownAction].Message, "did you mean kms:cmk:decryptData?")
	assert.Equal(t, huawei.SeverityError, fs[huawei.CodeUnknownOperator].Severity)

	scp := `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:cmk:*Key","kms:*:get*"],"Resource":["kms:*:*:KeyId:*"],"Condition":{"Bool":{"g:MFAPresent":["true"]}}},
	  {"Effect":"Deny","Action":"kms:cmk:decrypt?ata","Condition":{"StringNotEqualsIfExists":{"kms:EncryptionAlgorithm":"SM2_ENCRYPT"}}}]}`
	var scpFindings []huawei.Finding
	for _, f := range huawei.LintDocument([]byte(scp), huawei.SCP) {
		if f.Code == huawei.CodeSCPSyntax {
			scpFindings = append(scpFindings, f)
		}
	}
	var paths []string
	for _, f := range scpFindings {
		paths = append(paths, f.Path)
	}
	assert.ElementsMatch(t, []string{"Statement[0].Resource[0]", "Statement[0].Condition", "Statement[0].Action[0]", "Statement[1].Action"}, paths)

	legacy := codes(huawei.IdentityPolicy, `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["kms:cmk:decryptData","kms:cmk:crypto","kms:cmk:get*"]}]}`)
	assert.Contains(t, legacy, huawei.CodeLegacyUnmatched)
	assert.NotContains(t, legacy, huawei.CodeActionAlias, "in 1.1 aliases are the names")

	v5legacyName := codes(huawei.IdentityPolicy, `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:dek:create"]}]}`)
	assert.Contains(t, v5legacyName[huawei.CodeActionAlias].Message, "kms:cmk:createDataKeyWithoutPlaintext")

	// Table 1 declares KeyId for kms:cmk:create: the URN covering every key
	// of the account grants it; one naming a single key cannot
	create := huawei.LintDocument([]byte(`{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:cmk:create"],"Resource":["kms:*:`+hwAcct+`:KeyId:*"]}]}`), huawei.IdentityPolicy)
	assert.Empty(t, create)
	create = huawei.LintDocument([]byte(`{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:cmk:create"],"Resource":["`+hwKey+`"]}]}`), huawei.IdentityPolicy)
	require.Len(t, create, 1)
	assert.Equal(t, huawei.CodeNeedsStarResource, create[0].Code)
	assert.Equal(t, huawei.SeverityInfo, create[0].Severity)

	clean := huawei.LintDocument([]byte(`{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:cmk:decryptData"],"Resource":["`+hwKey+`"]}]}`), huawei.IdentityPolicy)
	assert.Empty(t, clean)
	parseErr := huawei.LintDocument([]byte(`{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["kms:cmk:get"],"NotPrincipal":{}}]}`), huawei.IdentityPolicy)
	require.Len(t, parseErr, 1)
	assert.Equal(t, huawei.CodeUnsupported, parseErr[0].Code)
}
