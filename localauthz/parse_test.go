package localauthz_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

const keyARN = "acs:kms:cn-hangzhou:1111111111111111:key/key-hzz0001"

// stmt wraps statement JSON into a policy document.
func stmt(s string) string { return `{"Version":"1","Statement":[` + s + `]}` }

func TestParsePolicyErrors(t *testing.T) {
	const allow = `"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"`
	const keyStmt = `"Effect":"Allow","Principal":{"RAM":["acs:ram::1111111111111111:*"]},"Action":"kms:Decrypt","Resource":"*"`
	tests := []struct {
		name string
		kind localauthz.PolicyKind
		doc  string
		path string
		want error
		// substring of the message
		msg string
	}{
		{"not json", localauthz.RAMPolicy, `{"Version":"1",`, "", localauthz.ErrSyntax, "end of input"},
		{"bad token", localauthz.RAMPolicy, `{"Version":"1" "Statement":[]}`, "", localauthz.ErrSyntax, "invalid character"},
		{"trailing data", localauthz.RAMPolicy, stmt(`{`+allow+`}`) + ` {}`, "", localauthz.ErrSyntax, "after the policy"},
		{"array document", localauthz.RAMPolicy, `[]`, "", localauthz.ErrInvalidPolicy, "JSON array"},
		{"missing version", localauthz.RAMPolicy, `{"Statement":[{` + allow + `}]}`, "Version", localauthz.ErrInvalidPolicy, "missing"},
		{"aws version", localauthz.RAMPolicy, `{"Version":"2012-10-17","Statement":[{` + allow + `}]}`, "Version", localauthz.ErrInvalidPolicy, `"1"`},
		{"numeric version", localauthz.RAMPolicy, `{"Version":1,"Statement":[{` + allow + `}]}`, "Version", localauthz.ErrInvalidPolicy, "number"},
		{"missing statement", localauthz.RAMPolicy, `{"Version":"1"}`, "Statement", localauthz.ErrInvalidPolicy, "missing"},
		{"empty statement list", localauthz.RAMPolicy, `{"Version":"1","Statement":[]}`, "Statement", localauthz.ErrInvalidPolicy, "empty"},
		{"statement string", localauthz.RAMPolicy, `{"Version":"1","Statement":"x"}`, "Statement", localauthz.ErrInvalidPolicy, "string"},
		{"id element", localauthz.RAMPolicy, `{"Version":"1","Id":"x","Statement":[{` + allow + `}]}`, "Id", localauthz.ErrUnsupported, "Id"},
		{"duplicate element", localauthz.RAMPolicy, `{"Version":"1","Version":"1","Statement":[{` + allow + `}]}`, "Version", localauthz.ErrInvalidPolicy, "duplicate"},
		{"lower-case effect key", localauthz.RAMPolicy, stmt(`{"effect":"Allow","Action":"kms:Decrypt","Resource":"*"}`), "Statement[0].effect", localauthz.ErrInvalidPolicy, "case-sensitive"},
		{"typo element", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condtion":{}}`), "Statement[0].Condtion", localauthz.ErrInvalidPolicy, "did you mean Condition"},
		{"missing effect", localauthz.RAMPolicy, stmt(`{"Action":"kms:Decrypt","Resource":"*"}`), "Statement[0].Effect", localauthz.ErrInvalidPolicy, "missing"},
		{"bad effect", localauthz.RAMPolicy, stmt(`{"Effect":"allow","Action":"kms:Decrypt","Resource":"*"}`), "Statement[0].Effect", localauthz.ErrInvalidPolicy, `"Allow" or "Deny"`},
		{"missing action", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Resource":"*"}`), "Statement[0].Action", localauthz.ErrInvalidPolicy, "Action or NotAction"},
		{"action and notaction", localauthz.RAMPolicy, stmt(`{` + allow + `,"NotAction":"kms:Encrypt"}`), "Statement[0].NotAction", localauthz.ErrInvalidPolicy, "both"},
		{"empty action list", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":[],"Resource":"*"}`), "Statement[0].Action", localauthz.ErrInvalidPolicy, "empty"},
		{"action not string", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":["kms:Decrypt",7],"Resource":"*"}`), "Statement[0].Action[1]", localauthz.ErrInvalidPolicy, "number"},
		{"action without service", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":"Decrypt","Resource":"*"}`), "Statement[0].Action", localauthz.ErrInvalidPolicy, "<service>:<Action>"},
		{"missing resource", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":"kms:Decrypt"}`), "Statement[0].Resource", localauthz.ErrInvalidPolicy, "missing"},
		{"resource not arn", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":"kms:Decrypt","Resource":["*","key/abc"]}`), "Statement[0].Resource[1]", localauthz.ErrInvalidPolicy, "acs:<service>"},
		{"not resource", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":"kms:Decrypt","NotResource":"*"}`), "Statement[0].NotResource", localauthz.ErrUnsupported, "NotResource"},
		{"principal in ram", localauthz.RAMPolicy, stmt(`{` + allow + `,"Principal":{"RAM":["acs:ram::1:*"]}}`), "Statement[0].Principal", localauthz.ErrInvalidPolicy, "not allowed"},
		{"sid too long", localauthz.RAMPolicy, stmt(`{"Sid":"` + strings.Repeat("s", 129) + `",` + allow + `}`), "Statement[0].Sid", localauthz.ErrInvalidPolicy, "128"},
		{"sid number", localauthz.RAMPolicy, stmt(`{"Sid":1,` + allow + `}`), "Statement[0].Sid", localauthz.ErrInvalidPolicy, "string"},
		{"condition not object", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condition":[]}`), "Statement[0].Condition", localauthz.ErrInvalidPolicy, "array"},
		{"empty condition", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condition":{}}`), "Statement[0].Condition", localauthz.ErrInvalidPolicy, "empty"},
		{"unknown operator", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condition":{"StringEqual":{"k":"v"}}}`), "Statement[0].Condition.StringEqual", localauthz.ErrInvalidPolicy, "did you mean StringEquals"},
		{"operator case", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condition":{"stringequals":{"k":"v"}}}`), "Statement[0].Condition.stringequals", localauthz.ErrInvalidPolicy, "case-sensitive"},
		{"huawei operator", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condition":{"NumberEquals":{"k":"1"}}}`), "Statement[0].Condition.NumberEquals", localauthz.ErrInvalidPolicy, "NumericEquals"},
		{"if exists", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condition":{"StringEqualsIfExists":{"k":"v"}}}`), "Statement[0].Condition.StringEqualsIfExists", localauthz.ErrUnsupported, "IfExists"},
		{"for any value", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condition":{"ForAnyValue:StringEquals":{"k":"v"}}}`), `Statement[0].Condition["ForAnyValue:StringEquals"]`, localauthz.ErrUnsupported, "ForAnyValue:"},
		{"null operator", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condition":{"Null":{"k":"true"}}}`), "Statement[0].Condition.Null", localauthz.ErrUnsupported, "Null"},
		{"operator block string", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condition":{"StringEquals":"v"}}`), "Statement[0].Condition.StringEquals", localauthz.ErrInvalidPolicy, "string"},
		{"condition value object", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condition":{"StringEquals":{"kms:tag/Project":{"a":1}}}}`), `Statement[0].Condition.StringEquals["kms:tag/Project"]`, localauthz.ErrInvalidPolicy, "object"},
		{"condition empty values", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condition":{"StringEquals":{"k":[]}}}`), "Statement[0].Condition.StringEquals.k", localauthz.ErrInvalidPolicy, "empty"},
		{"bad ip", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condition":{"IpAddress":{"acs:SourceIp":["10.0.0.0/8","10.0.0.999"]}}}`), `Statement[0].Condition.IpAddress["acs:SourceIp"][1]`, localauthz.ErrInvalidPolicy, "IPv4 or IPv6"},
		{"bad date", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condition":{"DateLessThan":{"acs:CurrentTime":"tomorrow"}}}`), `Statement[0].Condition.DateLessThan["acs:CurrentTime"]`, localauthz.ErrInvalidPolicy, "ISO 8601"},
		{"bad number", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condition":{"NumericLessThan":{"k":"ten"}}}`), "Statement[0].Condition.NumericLessThan.k", localauthz.ErrInvalidPolicy, "number"},
		{"bad bool", localauthz.RAMPolicy, stmt(`{` + allow + `,"Condition":{"Bool":{"acs:SecureTransport":"yes"}}}`), `Statement[0].Condition.Bool["acs:SecureTransport"]`, localauthz.ErrInvalidPolicy, `"true" or "false"`},
		{"second statement", localauthz.RAMPolicy, stmt(`{` + allow + `},{` + allow + `},{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"k":null}}}`), "Statement[2].Condition.StringEquals.k", localauthz.ErrInvalidPolicy, "null"},
		{"key policy no principal", localauthz.KeyPolicy, stmt(`{` + allow + `}`), "Statement[0].Principal", localauthz.ErrInvalidPolicy, "missing"},
		{"key policy resource arn", localauthz.KeyPolicy, stmt(`{"Effect":"Allow","Principal":{"RAM":["acs:ram::1:*"]},"Action":"kms:Decrypt","Resource":"` + keyARN + `"}`), "Statement[0].Resource", localauthz.ErrInvalidPolicy, `"*"`},
		{"key policy non-kms action", localauthz.KeyPolicy, stmt(`{"Effect":"Allow","Principal":{"RAM":["acs:ram::1:*"]},"Action":["kms:Decrypt","ecs:*"],"Resource":"*"}`), "Statement[0].Action[1]", localauthz.ErrInvalidPolicy, "kms:"},
		{"key policy star action", localauthz.KeyPolicy, stmt(`{"Effect":"Allow","Principal":{"RAM":["acs:ram::1:*"]},"Action":"*","Resource":"*"}`), "Statement[0].Action", localauthz.ErrInvalidPolicy, "kms:"},
		{"principal string", localauthz.KeyPolicy, stmt(`{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"*"}`), "Statement[0].Principal", localauthz.ErrInvalidPolicy, `{"RAM"`},
		{"principal service", localauthz.KeyPolicy, stmt(`{"Effect":"Allow","Principal":{"Service":["ecs.aliyuncs.com"]},"Action":"kms:Decrypt","Resource":"*"}`), "Statement[0].Principal.Service", localauthz.ErrUnsupported, "Service"},
		{"principal bare uid", localauthz.KeyPolicy, stmt(`{"Effect":"Allow","Principal":{"RAM":["1111111111111111"]},"Action":"kms:Decrypt","Resource":"*"}`), "Statement[0].Principal.RAM[0]", localauthz.ErrInvalidPolicy, "bare account ID"},
		{"principal wildcard", localauthz.KeyPolicy, stmt(`{"Effect":"Allow","Principal":{"RAM":"*"},"Action":"kms:Decrypt","Resource":"*"}`), "Statement[0].Principal.RAM", localauthz.ErrInvalidPolicy, "acs:ram::<uid>:*"},
		{"principal session", localauthz.KeyPolicy, stmt(`{"Effect":"Allow","Principal":{"RAM":["acs:sts::1:assumed-role/r/s"]},"Action":"kms:Decrypt","Resource":"*"}`), "Statement[0].Principal.RAM[0]", localauthz.ErrInvalidPolicy, "role/<name>"},
		{"not principal", localauthz.KeyPolicy, stmt(`{` + keyStmt + `,"NotPrincipal":{"RAM":["acs:ram::1:*"]}}`), "Statement[0].NotPrincipal", localauthz.ErrUnsupported, "NotPrincipal"},
		{"deep nesting", localauthz.RAMPolicy, strings.Repeat("[", 100) + strings.Repeat("]", 100), strings.Repeat("[0]", 32), localauthz.ErrInvalidPolicy, "nesting"},
		{"unknown kind", localauthz.PolicyKind("bogus"), stmt(`{` + allow + `}`), "", localauthz.ErrInvalidPolicy, "kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := localauthz.ParsePolicy([]byte(tt.doc), tt.kind)
			require.Error(t, err)
			assert.Nil(t, p)
			var pe *localauthz.PolicyError
			require.True(t, errors.As(err, &pe), "%T", err)
			assert.Equal(t, tt.path, pe.Path)
			assert.ErrorIs(t, err, tt.want)
			assert.Contains(t, err.Error(), tt.msg)
			assert.True(t, strings.HasPrefix(err.Error(), "localauthz: "))
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestPolicyErrorPosition(t *testing.T) {
	doc := "{\n  \"Version\": \"1\",\n  \"Statement\": [\n    {\"Effect\": \"Permit\", \"Action\": \"kms:Decrypt\", \"Resource\": \"*\"}\n  ]\n}"
	_, err := localauthz.ParsePolicy([]byte(doc), localauthz.RAMPolicy)
	var pe *localauthz.PolicyError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "Statement[0].Effect", pe.Path)
	assert.Equal(t, 4, pe.Line)
	assert.Equal(t, 16, pe.Column)
	assert.Equal(t, `"Allow" or "Deny"`, pe.Expected)

	_, err = localauthz.ParsePolicy([]byte("{\n\"Version\": \"1\",\n\"Statement\": [}\n"), localauthz.RAMPolicy)
	require.ErrorAs(t, err, &pe)
	assert.ErrorIs(t, err, localauthz.ErrSyntax)
	assert.Equal(t, 3, pe.Line)
	var se *json.SyntaxError
	assert.ErrorAs(t, err, &se, "the cause is kept")
}

func TestParsePolicySizeLimits(t *testing.T) {
	big := stmt(`{"Sid":"` + strings.Repeat("x", 100) + `","Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}`)
	for len(big) <= localauthz.DefaultMaxRAMPolicySize {
		big = strings.Replace(big, `"Resource":"*"`, `"Resource":["*","acs:kms:cn-hangzhou:1111111111111111:key/`+strings.Repeat("k", 60)+`"]`, 1)
		big = strings.Replace(big, `"Resource":["*",`, `"Resource":["*","acs:kms:cn-hangzhou:1111111111111111:key/`+strings.Repeat("k", 60)+`",`, 1)
	}
	_, err := localauthz.ParsePolicy([]byte(big), localauthz.RAMPolicy)
	assert.ErrorIs(t, err, localauthz.ErrTooLarge)
	assert.Contains(t, err.Error(), "6144")

	_, err = localauthz.ParsePolicy([]byte(big), localauthz.RAMPolicy, localauthz.WithMaxSize(0))
	assert.NoError(t, err, "no limit")
	_, err = localauthz.ParsePolicy([]byte(big), localauthz.KeyPolicy)
	assert.NotErrorIs(t, err, localauthz.ErrTooLarge, "key policies allow 32768 bytes")
	_, err = localauthz.ParsePolicy([]byte(stmt(`{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}`)), localauthz.RAMPolicy, localauthz.WithMaxSize(10))
	assert.ErrorIs(t, err, localauthz.ErrTooLarge)
}

func TestParsePolicyForms(t *testing.T) {
	single := `{"Version":"1","Statement":{"Sid":"one","Effect":"Allow","Action":"kms:Decrypt","Resource":"` + keyARN + `",
	  "Condition":{"Bool":{"acs:SecureTransport":true},"NumericLessThan":{"x:n":5}}}}`
	p, err := localauthz.ParsePolicy([]byte(single), localauthz.RAMPolicy, localauthz.WithName("single"))
	require.NoError(t, err)
	assert.Equal(t, "single", p.Name())
	assert.Equal(t, localauthz.RAMPolicy, p.Kind())
	out, err := json.Marshal(p)
	require.NoError(t, err)
	assert.JSONEq(t, `{"Version":"1","Statement":[{"Sid":"one","Effect":"Allow","Action":["kms:Decrypt"],"Resource":["`+keyARN+`"],
	  "Condition":{"Bool":{"acs:SecureTransport":["true"]},"NumericLessThan":{"x:n":["5"]}}}]}`, string(out))
	assert.Nil(t, p.StatementJSON(1))
	assert.JSONEq(t, `{"Sid":"one","Effect":"Allow","Action":["kms:Decrypt"],"Resource":["`+keyARN+`"],"Condition":{"Bool":{"acs:SecureTransport":["true"]},"NumericLessThan":{"x:n":["5"]}}}`, string(p.StatementJSON(0)))
	assert.Panics(t, func() { localauthz.MustParsePolicy("{}", localauthz.RAMPolicy) })
}

// Every seed policy parses, and marshalling is a stable round trip.
func TestSeedPoliciesRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/policies/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		kind := localauthz.RAMPolicy
		if strings.HasSuffix(f, ".key.json") {
			kind = localauthz.KeyPolicy
		}
		p, err := localauthz.ParsePolicy(data, kind)
		require.NoError(t, err, f)
		once, err := json.Marshal(p)
		require.NoError(t, err)
		p2, err := localauthz.ParsePolicy(once, kind)
		require.NoError(t, err, f)
		twice, err := json.Marshal(p2)
		require.NoError(t, err)
		assert.Equal(t, string(once), string(twice), f)
	}
}

func TestSeed004MaskedAccountRejected(t *testing.T) {
	// the documentation masks account IDs; a principal with '*' in the
	// account is not a wildcard, so it is rejected with a clear message
	doc := stmt(`{"Effect":"Allow","Principal":{"RAM":["acs:ram::119285303511****:*"]},"Action":"kms:*","Resource":"*"}`)
	_, err := localauthz.ParsePolicy([]byte(doc), localauthz.KeyPolicy)
	var pe *localauthz.PolicyError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "Statement[0].Principal.RAM[0]", pe.Path)
}
