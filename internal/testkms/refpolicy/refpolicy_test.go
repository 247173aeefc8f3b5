package refpolicy

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	a     = "1111111111111111"
	b     = "2222222222222222"
	key   = "acs:kms:cn-hangzhou:" + a + ":key/k1"
	alice = "acs:ram::" + a + ":user/alice"
	bob   = "acs:ram::" + b + ":user/bob"
	rootA = "acs:ram::" + a + ":root"
	rootB = "acs:ram::" + b + ":root"
	sessA = "acs:ram::" + a + ":assumed-role/app/s1" // as STS GetCallerIdentity spells it
	stsA  = "acs:sts::" + a + ":assumed-role/app/s1" // the older spelling
)

func mustParse(t *testing.T, doc string, k Kind) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc), k)
	require.NoError(t, err, doc)
	return p
}

func ram(stmts string) string { return `{"Version":"1","Statement":[` + stmts + `]}` }

func TestParseErrorsNamePaths(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		kind      Kind
		path      string
		msg       string
		unsup     bool
	}{
		{"not JSON", `{`, RAM, "", "invalid JSON", false},
		{"not an object", `[]`, RAM, "", "must be a JSON object", false},
		{"trailing data", `{"Version":"1","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}} x`, RAM, "", "trailing", false},
		{"version", `{"Version":1,"Statement":[]}`, RAM, "Version", `"1"`, false},
		{"unknown top element", `{"Version":"1","Id":"x","Statement":[]}`, RAM, "Id", "unknown element", false},
		{"duplicate key", `{"Version":"1","Version":"1"}`, RAM, "Version", "duplicate", false},
		{"no statement", `{"Version":"1"}`, RAM, "Statement", "required", false},
		{"empty statement", `{"Version":"1","Statement":[]}`, RAM, "Statement", "empty", false},
		{"effect", ram(`{"Effect":"allow","Action":"kms:*","Resource":"*"}`), RAM, "Statement[0].Effect", "Allow", false},
		{"both actions", ram(`{"Effect":"Allow","Action":"kms:*","NotAction":"kms:*","Resource":"*"}`), RAM, "Statement[0]", "both Action and NotAction", false},
		{"no action", ram(`{"Effect":"Allow","Resource":"*"}`), RAM, "Statement[0].Action", "required", false},
		{"no resource", ram(`{"Effect":"Allow","Action":"kms:*"}`), RAM, "Statement[0].Resource", "required", false},
		{"empty action list", ram(`{"Effect":"Allow","Action":[],"Resource":"*"}`), RAM, "Statement[0].Action", "empty", false},
		{"non-string action", ram(`{"Effect":"Allow","Action":[1],"Resource":"*"}`), RAM, "Statement[0].Action[0]", "string", false},
		{"NotResource", ram(`{"Effect":"Allow","Action":"kms:*","NotResource":"*"}`), RAM, "Statement[0].NotResource", "no NotResource", true},
		{"element case", ram(`{"effect":"Allow","Action":"kms:*","Resource":"*"}`), RAM, "Statement[0].effect", "unknown element", false},
		{"principal in RAM", ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Principal":{"RAM":["acs:ram::1:*"]}}`), RAM, "Statement[0].Principal", "no Principal", false},
		{"long sid", ram(`{"Sid":"` + strings.Repeat("s", 129) + `","Effect":"Allow","Action":"kms:*","Resource":"*"}`), RAM, "Statement[0].Sid", "128", false},
		{"unknown operator", ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEqual":{"k":"v"}}}`), RAM, "Statement[0].Condition.StringEqual", "unknown condition operator", false},
		{"IfExists", ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEqualsIfExists":{"k":"v"}}}`), RAM, "Statement[0].Condition.StringEqualsIfExists", "not supported", true},
		{"ForAnyValue", ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"k":"v"}}}`), RAM, "Statement[0].Condition.ForAnyValue:StringEquals", "not supported", true},
		{"bad number", ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"NumericLessThan":{"k":["1","x"]}}}`), RAM, "Statement[0].Condition.NumericLessThan.k[1]", "not a number", false},
		{"bad date", ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"tomorrow"}}}`), RAM, "Statement[0].Condition.DateLessThan.acs:CurrentTime", "ISO 8601", false},
		{"bad bool", ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":"yes"}}}`), RAM, "Statement[0].Condition.Bool.acs:SecureTransport", "true", false},
		{"bad ip", ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/33"}}}`), RAM, "Statement[0].Condition.IpAddress.acs:SourceIp", "CIDR", false},
		{"empty values", ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"k":[]}}}`), RAM, "Statement[0].Condition.StringEquals.k", "at least one", false},
		{"key policy without principal", ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*"}`), Key, "Statement[0].Principal", "required", false},
		{"key policy resource", ram(`{"Effect":"Allow","Action":"kms:*","Resource":"` + key + `","Principal":{"RAM":"acs:ram::1:*"}}`), Key, "Statement[0].Resource[0]", `must be "*"`, false},
		{"key policy action", ram(`{"Effect":"Allow","Action":"ecs:*","Resource":"*","Principal":{"RAM":"acs:ram::1:*"}}`), Key, "Statement[0].Action[0]", "kms:", false},
		{"principal type", ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Principal":{"Service":"x"}}`), Key, "Statement[0].Principal.Service", "unknown principal", false},
		{"principal form", ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Principal":{"RAM":["acs:ram::1:user/*"]}}`), Secret, "Statement[0].Principal.RAM[0]", "expected", false},
		{"principal account wildcard", ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Principal":{"RAM":["acs:ram::*:root"]}}`), Key, "Statement[0].Principal.RAM[0]", "expected", false},
		{"too large", `{"Version":"1","Statement":[` + strings.Repeat(" ", MaxRAMPolicyBytes) + `]}`, RAM, "", "more than", false},
		{"too deep", strings.Repeat("[", 100), RAM, strings.Repeat("[0]", maxDepth+1), "deeper", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.doc), tc.kind)
			var pe *Error
			require.True(t, errors.As(err, &pe), "got %v", err)
			assert.Equal(t, tc.path, pe.Path)
			assert.Contains(t, pe.Error(), tc.msg)
			assert.Equal(t, tc.unsup, pe.Unsupported)
			assert.Equal(t, tc.kind, pe.Kind)
		})
	}
}

func TestParseAccepts(t *testing.T) {
	// Seed 004's sample key policy, verbatim but for the masked account
	// IDs.
	sample := `{"Statement":[{"Action":["kms:*"],"Effect":"Allow","Principal":{"RAM":["acs:ram::1192853035110000:*"]},"Resource":["*"],"Sid":"kms default key policy"},
	 {"Action":["kms:List*","kms:Describe*"],"Effect":"Allow","Principal":{"RAM":["acs:ram::1192853035110000:user/key_ramuser1"]},"Resource":["*"]},
	 {"Action":["kms:Encrypt","kms:Decrypt"],"Effect":"Allow","Principal":{"RAM":["acs:ram::1192853035110000:user/key_ramuser2","acs:ram::1903253031260000:user/key_ramuser3"]},"Resource":["*"]}],"Version":"1"}`
	p := mustParse(t, sample, Key)
	require.Len(t, p.Statements, 3)
	assert.Equal(t, []Principal{{Account: "1192853035110000", Kind: "account"}}, p.Statements[0].Principals)
	assert.Equal(t, "kms default key policy", p.Statements[0].Sid)
	// Seed 001's IP policy: a single statement object works too.
	p = mustParse(t, `{"Version":"1","Statement":{"Effect":"Allow","Action":["kms:*"],"Resource":["*"],"Condition":{"IpAddress":{"acs:SourceIp":["192.168.0.0/16","172.16.215.218"]}}}}`, RAM)
	require.Len(t, p.Statements[0].Conditions, 1)
	// Numbers and booleans as JSON literals.
	mustParse(t, ram(`{"Effect":"Deny","NotAction":"kms:Get*","Resource":"*","Condition":{"NumericLessThan":{"kms:tag/n":5},"Bool":{"acs:SecureTransport":false}}}`), RAM)
}

func allowRAM(action, resource string) Named {
	return Named{Name: "p", Policy: &Policy{Kind: RAM, Statements: []Statement{{Actions: []string{action}, Resources: []string{resource}}}}}
}

func TestEvaluate(t *testing.T) {
	defaultKey := func(account string) *Named {
		return &Named{Name: "default", Policy: &Policy{Kind: Key, Statements: []Statement{{
			Actions: []string{"kms:*"}, Resources: []string{"*"}, Principals: []Principal{{Account: account, Kind: "account"}},
		}}}}
	}
	keyPolicy := func(deny bool, action string, principals ...Principal) *Named {
		return &Named{Name: "kp", Policy: &Policy{Kind: Key, Statements: []Statement{{
			Deny: deny, Actions: []string{action}, Resources: []string{"*"}, Principals: principals,
		}}}}
	}
	keyB := "acs:kms:cn-hangzhou:" + b + ":key/kb"
	for _, tc := range []struct {
		name string
		req  Request
		want Effect
	}{
		{"nothing allows", Request{Principal: alice, Action: "kms:Decrypt", Resource: key}, ImplicitDeny},
		{"RAM allow", Request{Principal: alice, Action: "kms:Decrypt", Resource: key, Identity: []Named{allowRAM("kms:Decrypt", key)}}, Allow},
		{"action case-insensitive", Request{Principal: alice, Action: "kms:Decrypt", Resource: key, Identity: []Named{allowRAM("KMS:decrypt", key)}}, Allow},
		{"resource case-sensitive", Request{Principal: alice, Action: "kms:Decrypt", Resource: key, Identity: []Named{allowRAM("kms:Decrypt", strings.ToUpper(key))}}, ImplicitDeny},
		{"? wildcard", Request{Principal: alice, Action: "kms:Decrypt", Resource: key, Identity: []Named{allowRAM("kms:D?crypt", "acs:kms:*:"+a+":key/k?")}}, Allow},
		{"* spans separators", Request{Principal: alice, Action: "kms:Decrypt", Resource: key, Identity: []Named{allowRAM("kms:*", "acs:*")}}, Allow},
		{"root needs no policy (seed 002)", Request{Principal: rootA, Action: "kms:Decrypt", Resource: key}, Allow},
		{"session governed by its role's policies", Request{Principal: sessA, Action: "kms:Decrypt", Resource: key, Identity: []Named{allowRAM("kms:Decrypt", key)}}, Allow},
		{"unknown principal", Request{Principal: "alice", Action: "kms:Decrypt", Resource: key, Identity: []Named{allowRAM("kms:*", "*")}}, ImplicitDeny},
		// Seed 004, item 3: acs:ram::<uid>:* names the account, not alice.
		{"default key policy does not grant a RAM user", Request{Principal: alice, Action: "kms:Decrypt", Resource: key, InKMSInstance: true, ResourcePolicy: defaultKey(a)}, ImplicitDeny},
		{"default key policy plus RAM", Request{Principal: alice, Action: "kms:Decrypt", Resource: key, InKMSInstance: true, ResourcePolicy: defaultKey(a), Identity: []Named{allowRAM("kms:Decrypt", key)}}, Allow},
		{"key policy naming the user suffices in its account", Request{Principal: alice, Action: "kms:Decrypt", Resource: key, InKMSInstance: true, ResourcePolicy: keyPolicy(false, "kms:Decrypt", Principal{Account: a, Kind: "user", Name: "alice"})}, Allow},
		{"session in the older acs:sts form", Request{Principal: stsA, Action: "kms:Decrypt", Resource: key, Identity: []Named{allowRAM("kms:Decrypt", key)}}, Allow},
		{"role principal names its sessions (acs:sts form)", Request{Principal: stsA, Action: "kms:Decrypt", Resource: key, InKMSInstance: true, ResourcePolicy: keyPolicy(false, "kms:Decrypt", Principal{Account: a, Kind: "role", Name: "app"})}, Allow},
		{"acs:sts names sessions only", Request{Principal: "acs:sts::" + a + ":user/alice", Action: "kms:Decrypt", Resource: key, Identity: []Named{allowRAM("kms:*", "*")}}, ImplicitDeny},
		{"session without a session name", Request{Principal: "acs:ram::" + a + ":assumed-role/app", Action: "kms:Decrypt", Resource: key, Identity: []Named{allowRAM("kms:*", "*")}}, ImplicitDeny},
		{"role principal names its sessions", Request{Principal: sessA, Action: "kms:Decrypt", Resource: key, InKMSInstance: true, ResourcePolicy: keyPolicy(false, "kms:Decrypt", Principal{Account: a, Kind: "role", Name: "app"})}, Allow},
		{"key policy ignored outside an instance", Request{Principal: alice, Action: "kms:Decrypt", Resource: key, ResourcePolicy: keyPolicy(false, "kms:Decrypt", Principal{Account: a, Kind: "user", Name: "alice"})}, ImplicitDeny},
		{"key policy Deny ignored outside an instance", Request{Principal: alice, Action: "kms:Decrypt", Resource: key, ResourcePolicy: keyPolicy(true, "kms:Decrypt", Principal{Account: a, Kind: "user", Name: "alice"}), Identity: []Named{allowRAM("kms:Decrypt", key)}}, Allow},
		{"key policy Deny wins over RAM", Request{Principal: alice, Action: "kms:Decrypt", Resource: key, InKMSInstance: true, ResourcePolicy: keyPolicy(true, "kms:Decrypt", Principal{Account: a, Kind: "user", Name: "alice"}), Identity: []Named{allowRAM("kms:Decrypt", key)}}, ExplicitDeny},
		{"account principal in a Deny names RAM users too", Request{Principal: alice, Action: "kms:Decrypt", Resource: key, InKMSInstance: true, ResourcePolicy: keyPolicy(true, "kms:*", Principal{Account: a, Kind: "account"}), Identity: []Named{allowRAM("kms:*", "*")}}, ExplicitDeny},
		{"root principal in a Deny names only the root", Request{Principal: alice, Action: "kms:Decrypt", Resource: key, InKMSInstance: true, ResourcePolicy: keyPolicy(true, "kms:*", Principal{Account: a, Kind: "root"}), Identity: []Named{allowRAM("kms:*", "*")}}, Allow},
		{"key policy Deny binds the root", Request{Principal: rootA, Action: "kms:Decrypt", Resource: key, InKMSInstance: true, ResourcePolicy: keyPolicy(true, "kms:*", Principal{Account: a, Kind: "account"})}, ExplicitDeny},
		{"out of scope Allow ignored (seed 004)", Request{Principal: alice, Action: "kms:ReEncryptFrom", Resource: key, InKMSInstance: true, ResourcePolicy: keyPolicy(false, "kms:*", Principal{Account: a, Kind: "user", Name: "alice"})}, ImplicitDeny},
		{"out of scope Deny still denies", Request{Principal: alice, Action: "kms:ReEncryptFrom", Resource: key, InKMSInstance: true, ResourcePolicy: keyPolicy(true, "kms:*", Principal{Account: a, Kind: "user", Name: "alice"}), Identity: []Named{allowRAM("kms:*", "*")}}, ExplicitDeny},
		{"cross account: RAM alone is not enough", Request{Principal: bob, Action: "kms:Decrypt", Resource: key, InKMSInstance: true, ResourcePolicy: defaultKey(a), Identity: []Named{allowRAM("kms:Decrypt", key)}}, ImplicitDeny},
		{"cross account: key policy alone is not enough", Request{Principal: bob, Action: "kms:Decrypt", Resource: key, InKMSInstance: true, ResourcePolicy: keyPolicy(false, "kms:Decrypt", Principal{Account: b, Kind: "user", Name: "bob"})}, ImplicitDeny},
		{"cross account: both allow", Request{Principal: bob, Action: "kms:Decrypt", Resource: key, InKMSInstance: true, ResourcePolicy: keyPolicy(false, "kms:Decrypt", Principal{Account: b, Kind: "user", Name: "bob"}), Identity: []Named{allowRAM("kms:Decrypt", key)}}, Allow},
		{"cross account: only key-user actions", Request{Principal: bob, Action: "kms:GetKeyPolicy", Resource: key, InKMSInstance: true, ResourcePolicy: keyPolicy(false, "kms:*", Principal{Account: b, Kind: "user", Name: "bob"}), Identity: []Named{allowRAM("kms:*", "*")}}, ImplicitDeny},
		{"cross account: non-instance key cannot be shared", Request{Principal: bob, Action: "kms:Decrypt", Resource: key, ResourcePolicy: keyPolicy(false, "kms:Decrypt", Principal{Account: b, Kind: "user", Name: "bob"}), Identity: []Named{allowRAM("kms:Decrypt", key)}}, ImplicitDeny},
		{"cross account root needs the key policy", Request{Principal: rootB, Action: "kms:Decrypt", Resource: key, InKMSInstance: true, ResourcePolicy: defaultKey(a)}, ImplicitDeny},
		{"cross account root with the key policy", Request{Principal: rootB, Action: "kms:Decrypt", Resource: key, InKMSInstance: true, ResourcePolicy: keyPolicy(false, "kms:Decrypt", Principal{Account: b, Kind: "account"})}, Allow},
		{"own root on another account's key is cross", Request{Principal: rootA, Action: "kms:Decrypt", Resource: keyB}, ImplicitDeny},
		{"RAM Deny wins", Request{Principal: alice, Action: "kms:Decrypt", Resource: key, Identity: []Named{allowRAM("kms:*", "*"), {Name: "d", Policy: &Policy{Statements: []Statement{{Deny: true, Actions: []string{"kms:Dec*"}, Resources: []string{"*"}}}}}}}, ExplicitDeny},
		{"NotAction Allow", Request{Principal: alice, Action: "kms:Decrypt", Resource: key, Identity: []Named{{Name: "n", Policy: &Policy{Statements: []Statement{{NotAction: true, Actions: []string{"kms:Encrypt"}, Resources: []string{"*"}}}}}}}, Allow},
		{"NotAction excludes", Request{Principal: alice, Action: "kms:Encrypt", Resource: key, Identity: []Named{{Name: "n", Policy: &Policy{Statements: []Statement{{NotAction: true, Actions: []string{"kms:Encrypt"}, Resources: []string{"*"}}}}}}}, ImplicitDeny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Evaluate(tc.req)
			assert.Equal(t, tc.want, d.Effect, d.Reason)
			assert.NotEmpty(t, d.Reason)
		})
	}
}

func TestConditions(t *testing.T) {
	ctx := map[string]string{
		"acs:SourceIp": "127.0.0.1", "acs:CurrentTime": "2026-12-04T10:00:00Z", "acs:SecureTransport": "false",
		"kms:tag/env": "prod", "kms:tag/tier": "5", "acs:SourceVpc": "vpc-app",
	}
	for _, tc := range []struct {
		op, key, vals string // vals as JSON
		want          bool
	}{
		{"StringEquals", "kms:tag/env", `"prod"`, true},
		{"StringEquals", "KMS:TAG/ENV", `"prod"`, true}, // key names compare case-insensitively
		{"StringEquals", "kms:tag/env", `"PROD"`, false},
		{"StringEquals", "kms:tag/env", `["dev","prod"]`, true}, // values are ORed
		{"StringEquals", "kms:tag/team", `"prod"`, false},       // absent
		{"StringNotEquals", "kms:tag/env", `["dev","prod"]`, false},
		{"StringNotEquals", "kms:tag/env", `["dev"]`, true},
		{"StringNotEquals", "kms:tag/team", `"x"`, true}, // absent: negated holds
		{"StringEqualsIgnoreCase", "kms:tag/env", `"PROD"`, true},
		{"StringNotEqualsIgnoreCase", "kms:tag/env", `"PROD"`, false},
		{"StringLike", "kms:tag/env", `"p?o*"`, true},
		{"StringLike", "kms:tag/env", `"P*"`, false},
		{"StringNotLike", "kms:tag/env", `"d*"`, true},
		{"StringNotLike", "kms:tag/team", `"d*"`, true},
		{"NumericEquals", "kms:tag/tier", `"5"`, true},
		{"NumericEquals", "kms:tag/tier", `5.0`, true},
		{"NumericNotEquals", "kms:tag/tier", `"5"`, false},
		{"NumericLessThan", "kms:tag/tier", `"7.5"`, true},
		{"NumericLessThan", "kms:tag/tier", `"5"`, false},
		{"NumericLessThanEquals", "kms:tag/tier", `"5"`, true},
		{"NumericGreaterThan", "kms:tag/tier", `"3"`, true},
		{"NumericGreaterThanEquals", "kms:tag/tier", `"7"`, false},
		{"NumericLessThan", "kms:tag/env", `"7"`, false},  // not a number: matches nothing
		{"NumericNotEquals", "kms:tag/env", `"7"`, true},  // ... so the negation holds
		{"NumericLessThan", "kms:tag/size", `"7"`, false}, // absent
		{"NumericNotEquals", "kms:tag/size", `"7"`, true}, // absent, negated
		{"DateLessThan", "acs:CurrentTime", `"2099-01-01T00:00:00Z"`, true},
		{"DateGreaterThan", "acs:CurrentTime", `"2099-01-01T00:00:00Z"`, false},
		{"DateEquals", "acs:CurrentTime", `"2026-12-04T18:00:00+08:00"`, true}, // instants
		{"DateNotEquals", "acs:CurrentTime", `"2026-12-04T18:00:00+08:00"`, false},
		{"DateLessThanEquals", "acs:CurrentTime", `"2026-12-04T10:00:00Z"`, true},
		{"DateGreaterThanEquals", "acs:CurrentTime", `"2026-12-04"`, true},
		{"DateLessThan", "kms:tag/expiry", `"2099-01-01"`, false},
		{"DateNotEquals", "kms:tag/expiry", `"2099-01-01"`, true},
		{"Bool", "acs:SecureTransport", `"false"`, true},
		{"Bool", "acs:SecureTransport", `true`, false},
		{"Bool", "acs:MFAPresent", `"false"`, false}, // absent
		{"IpAddress", "acs:SourceIp", `["10.0.0.0/8","127.0.0.0/8"]`, true},
		{"IpAddress", "acs:SourceIp", `"127.0.0.1"`, true},
		{"IpAddress", "acs:SourceIp", `"::1/128"`, false},
		{"NotIpAddress", "acs:SourceIp", `"127.0.0.0/8"`, false},
		{"NotIpAddress", "acs:SourceIp", `"10.0.0.0/8"`, true},
		{"IpAddress", "acs:VpcSourceIp", `"10.0.0.0/8"`, false},
		{"NotIpAddress", "acs:VpcSourceIp", `"10.0.0.0/8"`, true},
		{"StringEquals", "acs:SourceVpc", `"vpc-app"`, true},
		{"StringEquals", "acs:SourceVpc", `"vpc-other"`, false},
		{"StringLike", "acs:SourceVpc", `"vpc-*"`, true},
		{"StringNotEquals", "acs:SourceVpc", `"vpc-app"`, false},
		{"IpAddress", "acs:SourceVpc", `"10.0.0.0/8"`, false}, // not an address: matches nothing
	} {
		t.Run(tc.op+" "+tc.key+" "+tc.vals, func(t *testing.T) {
			doc := ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"` + tc.op + `":{"` + tc.key + `":` + tc.vals + `}}}`)
			p := mustParse(t, doc, RAM)
			d := Evaluate(Request{Principal: alice, Action: "kms:Decrypt", Resource: key, Context: ctx, Identity: []Named{{Name: "c", Policy: p}}})
			assert.Equal(t, tc.want, d.Effect == Allow, d.Reason)
		})
	}
	// Operators and keys of one statement are ANDed (seed 000: "only when
	// all specified conditions are met").
	p := mustParse(t, ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:tag/env":"prod","kms:tag/tier":"6"}}}`), RAM)
	d := Evaluate(Request{Principal: alice, Action: "kms:Decrypt", Resource: key, Context: ctx, Identity: []Named{{Name: "c", Policy: p}}})
	assert.Equal(t, ImplicitDeny, d.Effect)
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		fold bool
		want bool
	}{
		{"*", "", false, true},
		{"", "", false, true},
		{"", "a", false, false},
		{"a*b*c", "aXXbYYc", false, true},
		{"a*b*c", "aXXbYY", false, false},
		{"a?c", "abc", false, true},
		{"a?c", "ac", false, false},
		{"*key/*", "acs:kms:r:1:key/k", false, true},
		{"KMS:Get*", "kms:getsecretvalue", true, true},
		{"KMS:Get*", "kms:getsecretvalue", false, false},
		{"**a", "a", false, true},
	} {
		assert.Equal(t, tc.want, Match(tc.p, tc.s, tc.fold), "%q ~ %q", tc.p, tc.s)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(ram(`{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}`)), 0)
	f.Add([]byte(ram(`{"Effect":"Deny","NotAction":["kms:Get*"],"Resource":"*","Principal":{"RAM":["acs:ram::1:*"]}}`)), 1)
	f.Add([]byte(`{"Version":"1","Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"DateLessThan":{"acs:CurrentTime":"2020-01-01"}}}}`), 2)
	f.Fuzz(func(t *testing.T, doc []byte, kind int) {
		k := Kind(kind % 3)
		if k < 0 {
			k = -k
		}
		p, err := Parse(doc, k)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error is not an *Error: %v", err)
			}
			return
		}
		// A parsed policy evaluates without panicking.
		_ = Evaluate(Request{Principal: alice, Action: "kms:Decrypt", Resource: key, Context: map[string]string{"acs:SourceIp": "127.0.0.1"},
			Identity: []Named{{Name: "f", Policy: p}}, ResourcePolicy: &Named{Name: "f", Policy: p}, InKMSInstance: true})
	})
}
