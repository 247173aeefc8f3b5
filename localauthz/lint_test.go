package localauthz_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

func TestLint(t *testing.T) {
	const keyArns = `"acs:kms:cn-hangzhou:` + acct + `:key/*"`
	type want struct {
		sev  localauthz.Severity
		code string
		path string
	}
	tests := []struct {
		name string
		kind localauthz.PolicyKind
		doc  string
		want []want // exactly these findings, in order
	}{
		{"clean", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt"],"Resource":[` + keyArns + `,"acs:kms:cn-hangzhou:` + acct + `:alias/*"]}`), nil},
		{"full access", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":["kms:*"],"Resource":["*"]}`),
			[]want{{localauthz.SeverityWarning, localauthz.CodeFullAccess, "Statement[0].Action"}}},
		{"unscoped decrypt and get secret", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":["kms:Get*","kms:Decrypt"],"Resource":"*"}`),
			[]want{{localauthz.SeverityWarning, localauthz.CodeUnscopedSensitive, "Statement[0].Resource"}, {localauthz.SeverityWarning, localauthz.CodeUnscopedSensitive, "Statement[0].Resource"}}},
		{"unscoped deny is fine", localauthz.RAMPolicy, stmt(`{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}`), nil},
		{"tag access with tag editing", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":"kms:Decrypt","Resource":` + keyArns + `,"Condition":{"StringEqualsIgnoreCase":{"kms:tag/Project":"Apollo"}}},
		    {"Effect":"Allow","Action":["kms:TagResource","kms:UntagResource"],"Resource":` + keyArns + `}`),
			[]want{{localauthz.SeverityWarning, localauthz.CodeTagAccessWithTagEdit, "Statement[1]"}}},
		{"ip only", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":["kms:Encrypt"],"Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":["192.168.0.0/16"]}}}`),
			[]want{{localauthz.SeverityWarning, localauthz.CodeIPOnly, "Statement[0].Condition"}}},
		{"ip with scoped resource", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":["kms:Decrypt"],"Resource":` + keyArns + `,"Condition":{"IpAddress":{"acs:SourceIp":["192.168.0.0/16"]}}}`), nil},
		{"unknown action", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":["kms:Decrypt","kms:GenrateDataKey"],"Resource":` + keyArns + `}`),
			[]want{{localauthz.SeverityError, localauthz.CodeUnknownAction, "Statement[0].Action[1]"}}},
		{"action case", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":"kms:GenerateDatakey","Resource":[` + keyArns + `,"acs:kms:*:` + acct + `:alias/*"]}`),
			[]want{{localauthz.SeverityWarning, localauthz.CodeActionCase, "Statement[0].Action"}}},
		{"service case", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":"KMS:Decrypt","Resource":` + keyArns + `}`),
			[]want{{localauthz.SeverityWarning, localauthz.CodeActionCase, "Statement[0].Action"}}},
		{"reencrypt is not an action", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":"kms:ReEncrypt","Resource":` + keyArns + `}`),
			[]want{{localauthz.SeverityError, localauthz.CodeUnknownAction, "Statement[0].Action"}}},
		{"wildcard matching nothing", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":"kms:Frob*","Resource":` + keyArns + `}`),
			[]want{{localauthz.SeverityWarning, localauthz.CodeActionMatchesNothing, "Statement[0].Action"}}},
		{"other services unchecked", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":"ecs:Frobnicate","Resource":"acs:ecs:*:*:instance/*"}`), nil},
		{"key policy out of scope", localauthz.KeyPolicy, stmt(`{"Effect":"Allow","Principal":{"RAM":["acs:ram::` + acct + `:user/alice"]},"Action":["kms:Decrypt","kms:AsymmetricSign"],"Resource":"*"}`),
			[]want{{localauthz.SeverityWarning, localauthz.CodeOutOfScope, "Statement[0].Action[1]"}}},
		{"key policy default is in scope", localauthz.KeyPolicy, stmt(`{"Effect":"Allow","Principal":{"RAM":["acs:ram::` + acct + `:*"]},"Action":["kms:*"],"Resource":["*"]}`), nil},
		{"key policy root", localauthz.KeyPolicy, stmt(`{"Effect":"Allow","Principal":{"RAM":["acs:ram::` + acct + `:root"]},"Action":["kms:Decrypt"],"Resource":["*"]}`),
			[]want{{localauthz.SeverityInfo, localauthz.CodeRootPrincipal, "Statement[0].Principal"}}},
		{"source vpc with other service", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":["kms:Decrypt","ecs:DescribeInstances"],"Resource":` + keyArns + `,"Condition":{"StringEquals":{"acs:SourceVpc":"vpc-1"}}}`),
			[]want{{localauthz.SeverityError, localauthz.CodeSourceVpcNonKMS, "Statement[0].Action[1]"}}},
		{"source vpc with star", localauthz.RAMPolicy, stmt(`{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"acs:SourceVpc":"vpc-1"}}}`),
			[]want{{localauthz.SeverityError, localauthz.CodeSourceVpcNonKMS, "Statement[0].Action"}}},
		{"create secret on children only", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":"kms:CreateSecret","Resource":"acs:kms:*:` + acct + `:secret/*"}`),
			[]want{{localauthz.SeverityWarning, localauthz.CodeCreateSecretChild, "Statement[0].Resource"}}},
		{"create secret on container", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":"kms:CreateSecret","Resource":["acs:kms:*:` + acct + `:secret","acs:kms:*:` + acct + `:secret/*"]}`), nil},
		{"no alias resource", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":["kms:Encrypt","kms:GenerateDataKey"],"Resource":` + keyArns + `}`),
			[]want{{localauthz.SeverityInfo, localauthz.CodeNoAliasResource, "Statement[0].Resource"}}},
		{"tag key on list keys", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":"kms:ListKeys","Resource":"acs:kms:*:` + acct + `:key","Condition":{"StringEquals":{"kms:tag/Project":["Apollo"]}}}`),
			[]want{{localauthz.SeverityWarning, localauthz.CodeKeyNotSupplied, `Statement[0].Condition.StringEquals["kms:tag/Project"]`}}},
		{"tag key on some actions", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":["kms:Decrypt","kms:ListKeys"],"Resource":"acs:kms:*:` + acct + `:key*","Condition":{"StringEquals":{"kms:tag/Project":["Apollo"]}}}`),
			[]want{{localauthz.SeverityInfo, localauthz.CodeKeyNotSupplied, `Statement[0].Condition.StringEquals["kms:tag/Project"]`}}},
		{"encryption algorithm on sign", localauthz.RAMPolicy, stmt(`{"Effect":"Deny","Action":"kms:AsymmetricSign","Resource":"*","Condition":{"StringNotEquals":{"kms:EncryptionAlgorithm":"RSAES_OAEP_SHA_256"}}}`),
			[]want{{localauthz.SeverityWarning, localauthz.CodeKeyNotSupplied, `Statement[0].Condition.StringNotEquals["kms:EncryptionAlgorithm"]`}}},
		{"unknown kms condition key", localauthz.RAMPolicy, stmt(`{"Effect":"Allow","Action":"kms:Decrypt","Resource":` + keyArns + `,"Condition":{"StringEquals":{"kms:KeySpec":"Aliyun_AES_256"}}}`),
			[]want{{localauthz.SeverityWarning, localauthz.CodeUnknownConditionKey, `Statement[0].Condition.StringEquals["kms:KeySpec"]`}}},
		{"duplicate sid", localauthz.RAMPolicy, stmt(`{"Sid":"a","Effect":"Deny","Action":"kms:Decrypt","Resource":"*"},{"Sid":"a","Effect":"Deny","Action":"kms:Encrypt","Resource":"*"}`),
			[]want{{localauthz.SeverityWarning, localauthz.CodeDuplicateSid, "Statement[1].Sid"}}},
		{"sid charset", localauthz.RAMPolicy, stmt(`{"Sid":"kms default key policy","Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}`),
			[]want{{localauthz.SeverityInfo, localauthz.CodeSidCharset, "Statement[0].Sid"}}},
		{"kms resource shape", localauthz.RAMPolicy, stmt(`{"Effect":"Deny","Action":"kms:Decrypt","Resource":"acs:kms:cn-hangzhou:` + acct + `:keys/*"}`),
			[]want{{localauthz.SeverityWarning, localauthz.CodeKMSResourceShape, "Statement[0].Resource"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := localauthz.ParsePolicy([]byte(tt.doc), tt.kind)
			require.NoError(t, err)
			var got []want
			for _, f := range localauthz.Lint(p) {
				got = append(got, want{f.Severity, f.Code, f.Path})
				assert.NotEmpty(t, f.Message)
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestLintSuggestion(t *testing.T) {
	fs := localauthz.LintDocument([]byte(stmt(`{"Effect":"Allow","Action":"kms:GenrateDataKey","Resource":"*"}`)), localauthz.RAMPolicy)
	require.NotEmpty(t, fs)
	assert.Contains(t, fs[0].Message, "did you mean kms:GenerateDataKey?")
	assert.True(t, localauthz.HasErrors(fs))
	assert.True(t, strings.HasPrefix(fs[0].String(), "error unknown-action Statement[0].Action: "))
}

func TestLintDocumentParseErrors(t *testing.T) {
	fs := localauthz.LintDocument([]byte(stmt(`{"Effect":"Allow","Action":"kms:Decrypt","NotResource":"*"}`)), localauthz.RAMPolicy)
	require.Len(t, fs, 1)
	assert.Equal(t, localauthz.Finding{Severity: localauthz.SeverityError, Code: localauthz.CodeUnsupported, Path: "Statement[0].NotResource",
		Message: fs[0].Message}, fs[0])
	fs = localauthz.LintDocument([]byte(`{`), localauthz.RAMPolicy)
	assert.Equal(t, localauthz.CodeParse, fs[0].Code)
	fs = localauthz.LintDocument([]byte(stmt(`{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}`)), localauthz.RAMPolicy, localauthz.WithMaxSize(8))
	assert.Equal(t, localauthz.CodeTooLarge, fs[0].Code)
	assert.Len(t, localauthz.Severity("").Values(), 3)
}

// The seed examples lint as their documents warn.
func TestLintSeedPolicies(t *testing.T) {
	codes := func(file string, kind localauthz.PolicyKind) []string {
		data, err := os.ReadFile("testdata/policies/" + file)
		require.NoError(t, err)
		var out []string
		for _, f := range localauthz.LintDocument(data, kind) {
			out = append(out, f.Code)
		}
		return out
	}
	assert.Equal(t, []string{localauthz.CodeFullAccess}, codes("seed001-full-access.ram.json", localauthz.RAMPolicy))
	assert.Equal(t, []string{localauthz.CodeFullAccess, localauthz.CodeIPOnly}, codes("seed001-ip.ram.json", localauthz.RAMPolicy))
	assert.Empty(t, codes("seed001-crypto.ram.json", localauthz.RAMPolicy))
	assert.Equal(t, []string{localauthz.CodeNoAliasResource}, codes("seed001-tag.ram.json", localauthz.RAMPolicy), "no tag editing; but no alias ARNs either")
	assert.Equal(t, []string{localauthz.CodeSidCharset}, codes("seed004-default.key.json", localauthz.KeyPolicy))
	assert.Empty(t, codes("seed001-manage-keys.ram.json", localauthz.RAMPolicy), "kms:TagResources and friends are known actions")
	assert.Empty(t, codes("seed001-instance-region.ram.json", localauthz.RAMPolicy), "bss: actions and unprefixed condition keys are not KMS's to check")
}

// TestLintConditionKeysKMSListsNot: in a statement of kms: actions only, a
// condition key that KMS's condition-key page does not list (a misspelt
// universal key, another service's key) is a warning.
func TestLintConditionKeysKMSListsNot(t *testing.T) {
	tests := []struct {
		name, cond, actions string
		warn                bool
	}{
		{"listed universal key", `{"IpAddress":{"acs:SourceIp":"203.0.113.0/24"}}`, `"kms:Decrypt"`, false},
		{"listed keys in any case", `{"StringEquals":{"ACS:SOURCEVPC":"vpc-1"},"Bool":{"acs:SecureTransport":"true","acs:MFAPresent":"true"},"DateLessThan":{"acs:CurrentTime":"2030-01-01"},"StringLike":{"acs:AccessId":"LTAI*"}}`, `"kms:Decrypt"`, false},
		{"misspelt universal key", `{"IpAddress":{"acs:SourceIP4":"203.0.113.0/24"}}`, `"kms:Decrypt"`, true},
		{"another service's key", `{"StringEquals":{"oss:Prefix":"x"}}`, `["kms:Decrypt","kms:Encrypt"]`, true},
		{"other services in the statement", `{"StringEquals":{"oss:Prefix":"x"}}`, `["kms:Decrypt","oss:GetObject"]`, false},
		{"every service", `{"StringEquals":{"acs:PrincipalRAMUserId":"x"}}`, `"*"`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := localauthz.LintDocument([]byte(stmt(`{"Effect":"Deny","Action":`+tt.actions+`,"Resource":"*","Condition":`+tt.cond+`}`)), localauthz.RAMPolicy)
			var got []localauthz.Finding
			for _, f := range fs {
				if f.Code == localauthz.CodeUnknownConditionKey {
					got = append(got, f)
				}
			}
			if !tt.warn {
				assert.Empty(t, got)
				return
			}
			require.Len(t, got, 1, "%v", fs)
			assert.Equal(t, localauthz.SeverityWarning, got[0].Severity)
			assert.Contains(t, got[0].Message, "acs:SourceIp, acs:SourceVpc")
		})
	}
	assert.Contains(t, localauthz.UniversalConditionKeys(), "acs:SourceIp")
}
