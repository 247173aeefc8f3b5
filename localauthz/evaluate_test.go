package localauthz_test

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

const (
	acct      = "1111111111111111"
	other     = "2222222222222222"
	alice     = "acs:ram::" + acct + ":user/alice"
	bob       = "acs:ram::" + other + ":user/bob"
	appRole   = "acs:ram::" + acct + ":role/app-role"
	session   = "acs:sts::" + acct + ":assumed-role/App-Role/sess-1"
	rootOwner = "acs:ram::" + acct + ":root"
	rootOther = "acs:ram::" + other + ":root"
	key2ARN   = "acs:kms:cn-hangzhou:" + acct + ":key/key-hzz0002"
	secretARN = "acs:kms:cn-hangzhou:" + acct + ":secret/db"
	aliasARN  = "acs:kms:cn-hangzhou:" + acct + ":alias/app"
)

type attach struct {
	kind   localauthz.PolicyKind
	target string
	doc    string
}

func newSet(t testing.TB, policies ...attach) *localauthz.PolicySet {
	t.Helper()
	var set localauthz.PolicySet
	for i, a := range policies {
		p, err := localauthz.ParsePolicy([]byte(a.doc), a.kind)
		require.NoError(t, err, "policy %d", i)
		require.NoError(t, set.Add(p, a.target), "policy %d", i)
	}
	return &set
}

func ram(target, statements string) attach {
	return attach{localauthz.RAMPolicy, target, stmt(statements)}
}

func keyPolicy(key, statements string) attach {
	return attach{localauthz.KeyPolicy, key, stmt(statements)}
}

func TestEvaluateRAMSemantics(t *testing.T) {
	tests := []struct {
		name    string
		policy  string
		action  string
		res     string
		ctx     localauthz.Context
		want    localauthz.Effect
		decider int // statement index, -1 for none
	}{
		{"exact", `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"` + keyARN + `"}`, "kms:Decrypt", keyARN, nil, localauthz.Allow, 0},
		{"question mark", `{"Effect":"Allow","Action":"kms:?ecrypt","Resource":"acs:kms:cn-hangzhou:` + acct + `:key/key-hzz000?"}`, "kms:Decrypt", keyARN, nil, localauthz.Allow, 0},
		{"region wildcard", `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"acs:kms:*:` + acct + `:key/*"}`, "kms:Decrypt", keyARN, nil, localauthz.Allow, 0},
		{"other account pattern", `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"acs:kms:*:` + other + `:key/*"}`, "kms:Decrypt", keyARN, nil, localauthz.ImplicitDeny, -1},
		{"star on all", `{"Effect":"Allow","Action":"*","Resource":"*"}`, "kms:Decrypt", keyARN, nil, localauthz.Allow, 0},
		{"other service", `{"Effect":"Allow","Action":"ecs:*","Resource":"*"}`, "kms:Decrypt", keyARN, nil, localauthz.ImplicitDeny, -1},
		{"notaction excludes", `{"Effect":"Allow","NotAction":"kms:Decrypt","Resource":"*"}`, "kms:Decrypt", keyARN, nil, localauthz.ImplicitDeny, -1},
		{"notaction other service", `{"Effect":"Allow","NotAction":"ram:*","Resource":"*"}`, "kms:Decrypt", keyARN, nil, localauthz.Allow, 0},
		{"deny notaction", `{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","NotAction":["kms:Describe*","kms:List*"],"Resource":"*"}`, "kms:Decrypt", keyARN, nil, localauthz.ExplicitDeny, 1},
		{"deny notaction spares", `{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","NotAction":["kms:Describe*","kms:List*"],"Resource":"*"}`, "kms:ListKeys", "acs:kms:cn-hangzhou:" + acct + ":key", nil, localauthz.Allow, 0},
		{"deny before allow order", `{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"},{"Effect":"Allow","Action":"kms:*","Resource":"*"}`, "kms:Decrypt", keyARN, nil, localauthz.ExplicitDeny, 0},
		{"keys ANDed", `{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"},"Bool":{"acs:SecureTransport":"true"}}}`, "kms:Decrypt", keyARN,
			localauthz.Context{"acs:SourceIp": {"10.1.1.1"}, "acs:SecureTransport": {"false"}}, localauthz.ImplicitDeny, -1},
		{"keys ANDed ok", `{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"},"Bool":{"acs:SecureTransport":"true"}}}`, "kms:Decrypt", keyARN,
			localauthz.Context{"acs:SourceIp": {"10.1.1.1"}, "acs:SecureTransport": {"true"}}, localauthz.Allow, 0},
		{"two keys in one operator ANDed", `{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringEquals":{"kms:tag/a":"1","kms:tag/b":"2"}}}`, "kms:Decrypt", keyARN,
			localauthz.Context{"kms:tag/a": {"1"}}, localauthz.ImplicitDeny, -1},
		{"ipv6 source", `{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"2001:db8::/32"}}}`, "kms:Decrypt", keyARN,
			localauthz.Context{"acs:SourceIp": {"2001:db8::1"}}, localauthz.Allow, 0},
		{"time window", `{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"DateGreaterThanEquals":{"acs:CurrentTime":"2019-07-01T00:00:00+08:00"},"DateLessThan":{"acs:CurrentTime":"2019-08-12T17:00:00+08:00"}}}`, "kms:Decrypt", keyARN,
			localauthz.Context{"acs:CurrentTime": {"2019-08-12T08:59:59Z"}}, localauthz.Allow, 0},
		{"string like vpc", `{"Effect":"Allow","Action":"kms:*","Resource":"*","Condition":{"StringLike":{"acs:SourceVpc":"vpc-bp1*"}}}`, "kms:Decrypt", keyARN,
			localauthz.Context{"acs:SourceVpc": {"vpc-bp1aaaa"}}, localauthz.Allow, 0},
		{"negated absent deny", `{"Effect":"Allow","Action":"kms:*","Resource":"*"},{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"acs:SourceVpc":"vpc-a"}}}`, "kms:Decrypt", keyARN,
			nil, localauthz.ExplicitDeny, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := newSet(t, ram("", tt.policy))
			d := set.Evaluate(localauthz.Request{Principal: alice, Action: tt.action, Resource: tt.res, Context: tt.ctx})
			require.NoError(t, d.Err)
			assert.Equal(t, tt.want, d.Effect)
			if tt.decider < 0 {
				assert.Nil(t, d.Decider)
			} else if assert.NotNil(t, d.Decider) {
				assert.Equal(t, tt.decider, d.Decider.Statement)
				assert.Equal(t, localauthz.RAMPolicy, d.Decider.Kind)
			}
			switch tt.want {
			case localauthz.ImplicitDeny:
				assert.Equal(t, []localauthz.Missing{{Action: tt.action, Resource: tt.res, Where: localauthz.WhereRAM}}, d.Missing)
				assert.Empty(t, d.Denied)
			case localauthz.ExplicitDeny:
				assert.Empty(t, d.Missing)
				require.Len(t, d.Denied, 1)
				assert.Equal(t, *d.Decider, d.Denied[0].StatementRef)
			default:
				assert.Empty(t, d.Missing)
				assert.Empty(t, d.Denied)
			}
		})
	}
}

func TestDecisionDetails(t *testing.T) {
	set := newSet(t, ram("", `
	  {"Sid":"TagUse","Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"StringEquals":{"kms:tag/Project":"Apollo"}}},
	  {"Sid":"Corp","Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}`))
	d := set.Evaluate(localauthz.Request{Principal: alice, Action: "kms:Decrypt", Resource: keyARN,
		Context: localauthz.Context{"acs:SourceIp": {"203.0.113.9"}}})
	assert.Equal(t, localauthz.ImplicitDeny, d.Effect)
	assert.Equal(t, []string{"kms:tag/Project"}, d.MissingConditionKeys)
	assert.Equal(t, []string{"IpAddress acs:SourceIp"}, d.UnmetConditions)
	assert.True(t, d.Assumptions.Has(localauthz.AssumeAbsentKeyFails))

	d = set.Evaluate(localauthz.Request{Principal: alice, Action: "kms:Decrypt", Resource: keyARN,
		Context: localauthz.Context{"acs:SourceIp": {"10.9.9.9"}}})
	assert.Equal(t, localauthz.Allow, d.Effect)
	require.NotNil(t, d.Decider)
	assert.Equal(t, localauthz.StatementRef{Policy: "ram[0]", Kind: localauthz.RAMPolicy, Statement: 1, Sid: "Corp"}, *d.Decider)
	assert.Equal(t, `ram[0] Statement[1] (Sid "Corp")`, d.Decider.String())
	assert.Nil(t, d.MissingConditionKeys, "details are collected for denials only")

	d = set.Evaluate(localauthz.Request{Principal: "alice", Action: "kms:Decrypt", Resource: keyARN})
	assert.Equal(t, localauthz.ImplicitDeny, d.Effect)
	assert.ErrorContains(t, d.Err, "invalid principal")
	d = set.Evaluate(localauthz.Request{Principal: alice, Action: "kms:Decrypt"})
	assert.Error(t, d.Err)
}

func TestCaseSensitiveResourceHint(t *testing.T) {
	set := newSet(t, ram("", `{"Effect":"Allow","Action":"kms:GetSecretValue","Resource":"acs:kms:cn-hangzhou:`+acct+`:secret/Prod-DB"}`))
	d := set.Evaluate(localauthz.Request{Principal: alice, Action: "kms:GetSecretValue", Resource: "acs:kms:cn-hangzhou:" + acct + ":secret/prod-db"})
	assert.Equal(t, localauthz.ImplicitDeny, d.Effect)
	assert.True(t, d.Assumptions.Has(localauthz.AssumeCaseSensitiveResource))
}

func TestIdentityAttachment(t *testing.T) {
	set := newSet(t,
		ram(alice, `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}`),
		ram(appRole, `{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}`),
	)
	cases := []struct {
		principal, action string
		want              localauthz.Effect
	}{
		{alice, "kms:Decrypt", localauthz.Allow},
		{alice, "kms:Encrypt", localauthz.ImplicitDeny},
		{"acs:ram::" + acct + ":user/Alice", "kms:Decrypt", localauthz.ImplicitDeny}, // user names are exact
		{"acs:ram::" + other + ":user/alice", "kms:Decrypt", localauthz.ImplicitDeny},
		{session, "kms:Encrypt", localauthz.Allow}, // role names fold case
		{appRole, "kms:Encrypt", localauthz.Allow},
		{session, "kms:Decrypt", localauthz.ImplicitDeny},
	}
	for _, c := range cases {
		d := set.Evaluate(localauthz.Request{Principal: c.principal, Action: c.action, Resource: keyARN})
		assert.Equal(t, c.want, d.Effect, "%s %s", c.principal, c.action)
	}
	d := set.Evaluate(localauthz.Request{Principal: session, Action: "kms:Encrypt", Resource: keyARN})
	assert.True(t, d.Assumptions.Has(localauthz.AssumeSessionAsRole))

	var s localauthz.PolicySet
	p := localauthz.MustParsePolicy(stmt(`{"Effect":"Allow","Action":"kms:*","Resource":"*"}`), localauthz.RAMPolicy)
	assert.Error(t, s.Add(p, rootOwner), "RAM policies do not attach to the root")
	assert.Error(t, s.Add(p, session), "attach to the role, not a session")
	assert.Error(t, s.Add(p, keyARN))
	assert.Error(t, s.Add(nil, ""))
	kp := localauthz.MustParsePolicy(stmt(`{"Effect":"Allow","Principal":{"RAM":"acs:ram::1:*"},"Action":"kms:*","Resource":"*"}`), localauthz.KeyPolicy)
	assert.Error(t, s.Add(kp, secretARN))
	assert.Error(t, s.Add(kp, "acs:kms:*:"+acct+":key/k1"))
	assert.NoError(t, s.Add(kp, keyARN))
}

func TestKeyPolicyPrincipals(t *testing.T) {
	set := newSet(t, keyPolicy(keyARN, `
	  {"Effect":"Allow","Principal":{"RAM":["acs:ram::`+acct+`:root"]},"Action":"kms:Encrypt","Resource":"*"},
	  {"Effect":"Allow","Principal":{"RAM":["acs:ram::`+acct+`:*"]},"Action":"kms:Decrypt","Resource":"*"},
	  {"Effect":"Allow","Principal":{"RAM":["acs:ram::`+acct+`:user/alice","acs:ram::`+acct+`:role/APP-ROLE"]},"Action":"kms:GenerateDataKey","Resource":"*"}`))
	cases := []struct {
		principal, action string
		want              localauthz.Effect
	}{
		// :* names the account, its root identity, not its users and roles
		// (seed 004: "Grant the current Alibaba Cloud account full
		// permissions to manage and use the key")
		{alice, "kms:Decrypt", localauthz.ImplicitDeny},
		{session, "kms:Decrypt", localauthz.ImplicitDeny},
		{alice, "kms:Encrypt", localauthz.ImplicitDeny},
		{alice, "kms:GenerateDataKey", localauthz.Allow},
		{session, "kms:GenerateDataKey", localauthz.Allow},
		{"acs:ram::" + acct + ":user/mallory", "kms:GenerateDataKey", localauthz.ImplicitDeny},
		{bob, "kms:Decrypt", localauthz.ImplicitDeny},
	}
	for _, c := range cases {
		d := set.Evaluate(localauthz.Request{Principal: c.principal, Action: c.action, Resource: keyARN, InKMSInstance: true})
		assert.Equal(t, c.want, d.Effect, "%s %s", c.principal, c.action)
		if d.Effect == localauthz.Allow {
			assert.Equal(t, localauthz.KeyPolicy, d.Decider.Kind)
		}
	}
	d := set.Evaluate(localauthz.Request{Principal: alice, Action: "kms:Encrypt", Resource: keyARN, InKMSInstance: true})
	assert.Equal(t, []localauthz.Missing{{Action: "kms:Encrypt", Resource: keyARN, Where: localauthz.WhereRAMOrKey}}, d.Missing)
	d = set.Evaluate(localauthz.Request{Principal: alice, Action: "kms:Decrypt", Resource: keyARN, InKMSInstance: true})
	assert.True(t, d.Assumptions.Has(localauthz.AssumeAccountPrincipal), "the denial rests on the reading of :*")
	assert.False(t, set.Evaluate(localauthz.Request{Principal: alice, Action: "kms:GenerateDataKey", Resource: keyARN, InKMSInstance: true}).Assumptions.Has(localauthz.AssumeAccountPrincipal))

	// a Deny naming the account still denies every identity of it
	deny := newSet(t, keyPolicy(keyARN, `
	  {"Effect":"Allow","Principal":{"RAM":["acs:ram::`+acct+`:user/alice"]},"Action":"kms:Decrypt","Resource":"*"},
	  {"Effect":"Deny","Principal":{"RAM":["acs:ram::`+acct+`:*"]},"Action":"kms:Decrypt","Resource":"*"}`))
	d = deny.Evaluate(localauthz.Request{Principal: alice, Action: "kms:Decrypt", Resource: keyARN, InKMSInstance: true})
	assert.Equal(t, localauthz.ExplicitDeny, d.Effect)
	assert.True(t, d.Assumptions.Has(localauthz.AssumeAccountPrincipal))
}

func TestCrossAccount(t *testing.T) {
	bobRAM := ram("", `{"Effect":"Allow","Action":["kms:Decrypt","kms:DescribeKey","kms:EnableKey"],"Resource":"acs:kms:*:`+acct+`:key/*"}`)
	owner := keyPolicy(keyARN, `
	  {"Effect":"Allow","Principal":{"RAM":["acs:ram::`+other+`:user/bob","acs:ram::`+other+`:root"]},"Action":["kms:Decrypt","kms:EnableKey"],"Resource":"*"}`)
	tests := []struct {
		name       string
		set        *localauthz.PolicySet
		principal  string
		action     string
		inInstance bool
		want       localauthz.Effect
		missing    []localauthz.Where
		assumption localauthz.Assumption
	}{
		{"both allow", newSet(t, bobRAM, owner), bob, "kms:Decrypt", true, localauthz.Allow, nil, 0},
		{"key policy silent", newSet(t, bobRAM, owner), bob, "kms:DescribeKey", true, localauthz.ImplicitDeny, []localauthz.Where{localauthz.WhereKey}, 0},
		{"management is not grantable across accounts", newSet(t, bobRAM, owner), bob, "kms:EnableKey", true, localauthz.ImplicitDeny, []localauthz.Where{localauthz.WhereKey}, localauthz.AssumeKeyPolicyScope},
		{"not in instance", newSet(t, bobRAM, owner), bob, "kms:Decrypt", false, localauthz.ImplicitDeny, []localauthz.Where{localauthz.WhereKey}, localauthz.AssumeCrossAccountNeedsResourcePolicy},
		{"neither", newSet(t), bob, "kms:Decrypt", true, localauthz.ImplicitDeny, []localauthz.Where{localauthz.WhereRAM, localauthz.WhereKey}, 0},
		{"other root needs no RAM policy", newSet(t, owner), rootOther, "kms:Decrypt", true, localauthz.Allow, nil, 0},
		{"other root still needs the key policy", newSet(t), rootOther, "kms:Decrypt", true, localauthz.ImplicitDeny, []localauthz.Where{localauthz.WhereKey}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.set.Evaluate(localauthz.Request{Principal: tt.principal, Action: tt.action, Resource: keyARN, InKMSInstance: tt.inInstance})
			assert.Equal(t, tt.want, d.Effect)
			var wheres []localauthz.Where
			for _, m := range d.Missing {
				wheres = append(wheres, m.Where)
				assert.Equal(t, keyARN, m.Resource)
			}
			assert.Equal(t, tt.missing, wheres)
			assert.True(t, d.Assumptions.Has(tt.assumption), d.Assumptions.String())
		})
	}
}

func TestAccountRoot(t *testing.T) {
	deny := keyPolicy(keyARN, `{"Effect":"Deny","Principal":{"RAM":["acs:ram::`+acct+`:*"]},"Action":"kms:ScheduleKeyDeletion","Resource":"*"}`)
	ramDeny := ram("", `{"Effect":"Deny","Action":"kms:*","Resource":"*"}`)
	set := newSet(t, deny, ramDeny)
	d := set.Evaluate(localauthz.Request{Principal: rootOwner, Action: "kms:Decrypt", Resource: keyARN, InKMSInstance: true})
	assert.Equal(t, localauthz.Allow, d.Effect, "RAM policies never apply to the root")
	assert.Nil(t, d.Decider)
	assert.True(t, d.Assumptions.Has(localauthz.AssumeAccountRoot))
	d = set.Evaluate(localauthz.Request{Principal: rootOwner, Action: "kms:ScheduleKeyDeletion", Resource: keyARN, InKMSInstance: true})
	assert.Equal(t, localauthz.ExplicitDeny, d.Effect, "a key policy Deny still applies")
	assert.Equal(t, localauthz.KeyPolicy, d.Decider.Kind)
}

func TestKeyPolicyScopeAndDeny(t *testing.T) {
	set := newSet(t, keyPolicy(keyARN, `
	  {"Effect":"Allow","Principal":{"RAM":["acs:ram::`+acct+`:role/app-role"]},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Deny","Principal":{"RAM":["acs:ram::`+acct+`:user/alice"]},"Action":"kms:AsymmetricSign","Resource":"*"}`))
	d := set.Evaluate(localauthz.Request{Principal: appRole, Action: "kms:AsymmetricSign", Resource: keyARN, InKMSInstance: true})
	assert.Equal(t, localauthz.ImplicitDeny, d.Effect, "kms:* in a key policy does not reach out-of-scope actions")
	assert.Equal(t, localauthz.WhereRAM, d.Missing[0].Where)
	assert.True(t, d.Assumptions.Has(localauthz.AssumeKeyPolicyScope))
	d = set.Evaluate(localauthz.Request{Principal: alice, Action: "kms:AsymmetricSign", Resource: keyARN, InKMSInstance: true})
	assert.Equal(t, localauthz.ExplicitDeny, d.Effect, "an out-of-scope Deny still denies")
	d = set.Evaluate(localauthz.Request{Principal: appRole, Action: "kms:GetPublicKey", Resource: keyARN, InKMSInstance: true})
	assert.Equal(t, localauthz.Allow, d.Effect, "kms:Get* is in scope")
	d = set.Evaluate(localauthz.Request{Principal: appRole, Action: "kms:Decrypt", Resource: aliasARN, InKMSInstance: true})
	assert.Equal(t, localauthz.ImplicitDeny, d.Effect, "a key policy does not cover the alias")
	assert.Equal(t, localauthz.WhereRAM, d.Missing[0].Where)
}

func TestSecretPolicy(t *testing.T) {
	sp := attach{localauthz.SecretPolicy, secretARN, stmt(`{"Effect":"Allow","Principal":{"RAM":["acs:ram::` + other + `:user/bob"]},"Action":["kms:GetSecretValue","kms:Decrypt"],"Resource":"*"}`)}
	bobRAM := ram(bob, `{"Effect":"Allow","Action":"kms:GetSecretValue","Resource":"acs:kms:*:`+acct+`:secret/*"}`)
	set := newSet(t, sp, bobRAM)
	d := set.Evaluate(localauthz.Request{Principal: bob, Action: "kms:GetSecretValue", Resource: secretARN, InKMSInstance: true})
	assert.Equal(t, localauthz.Allow, d.Effect)
	d = set.Evaluate(localauthz.Request{Principal: alice, Action: "kms:GetSecretValue", Resource: secretARN, InKMSInstance: true})
	assert.Equal(t, []localauthz.Missing{{Action: "kms:GetSecretValue", Resource: secretARN, Where: localauthz.WhereRAMOrSecret}}, d.Missing)
	d = set.Evaluate(localauthz.Request{Principal: bob, Action: "kms:DescribeSecret", Resource: secretARN, InKMSInstance: true})
	assert.Equal(t, []localauthz.Missing{
		{Action: "kms:DescribeSecret", Resource: secretARN, Where: localauthz.WhereRAM},
		{Action: "kms:DescribeSecret", Resource: secretARN, Where: localauthz.WhereSecret},
	}, d.Missing)
}

func TestEvaluateAllowDoesNotAllocate(t *testing.T) {
	set := newSet(t,
		ram("", `{"Effect":"Allow","Action":["kms:Decrypt","kms:Encrypt"],"Resource":"acs:kms:*:`+acct+`:key/*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"},"DateLessThan":{"acs:CurrentTime":"2030-01-01T00:00:00+08:00"}}},
		  {"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":"false"}}}`),
		keyPolicy(keyARN, `{"Effect":"Allow","Principal":{"RAM":"acs:ram::`+acct+`:role/app-role"},"Action":"kms:Decrypt","Resource":"*"}`))
	req := localauthz.Request{Principal: alice, Action: "kms:Decrypt", Resource: keyARN, InKMSInstance: true,
		Context: localauthz.Context{"acs:SourceIp": {"10.0.0.1"}, "acs:CurrentTime": {"2026-01-01T00:00:00Z"}, "acs:SecureTransport": {"true"}}}
	require.Equal(t, localauthz.Allow, set.Evaluate(req).Effect)
	assert.Zero(t, testing.AllocsPerRun(100, func() { set.Evaluate(req) }))
	req.Principal = session
	require.Equal(t, localauthz.Allow, set.Evaluate(req).Effect)
	assert.Zero(t, testing.AllocsPerRun(100, func() { set.Evaluate(req) }))
}

func TestEvaluateConcurrent(t *testing.T) {
	set := newSet(t, ram("", `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}`))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				d := set.Evaluate(localauthz.Request{Principal: alice, Action: "kms:Decrypt", Resource: keyARN})
				if d.Effect != localauthz.Allow {
					t.Error("not allowed")
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestEnumsAndAssumptions(t *testing.T) {
	assert.Len(t, localauthz.Effect("").Values(), 4) // Allow, ImplicitDeny, ExplicitDeny, Conditional (issue 12)
	// the Alibaba Cloud kinds and places; the Huawei Cloud ones (3 and 3)
	// are the huawei package's
	assert.Len(t, localauthz.PolicyKinds(), 3)
	assert.Len(t, localauthz.Wheres(), 6)
	all := localauthz.Assumption(0).Values()
	var set localauthz.Assumption
	for _, a := range all {
		assert.NotEmpty(t, a.Code())
		assert.NotEmpty(t, a.Description())
		set |= a
	}
	assert.Equal(t, all, set.List())
	assert.Equal(t, "", (localauthz.AssumeAliasNeedsKey | localauthz.AssumeAccountRoot).Code())
	assert.Equal(t, "account-root,alias-needs-key", (localauthz.AssumeAliasNeedsKey | localauthz.AssumeAccountRoot).String())
	js, err := (localauthz.AssumeNoResource).MarshalJSON()
	require.NoError(t, err)
	assert.Equal(t, `["no-resource"]`, string(js))
	js, _ = localauthz.Assumption(0).MarshalJSON()
	assert.Equal(t, `[]`, string(js))
}

// TestResourcePolicyDenyOutsideInstance: a key policy registered for a key
// the request says is outside a KMS instance (such keys have none, so the
// fact is likely missing) still has its Deny applied; only its Allows are
// ignored.
func TestResourcePolicyDenyOutsideInstance(t *testing.T) {
	const (
		user = "acs:ram::1111111111111111:user/svc"
		key  = "acs:kms:cn-hangzhou:1111111111111111:key/key-1"
	)
	var set localauthz.PolicySet
	require.NoError(t, set.Add(localauthz.MustParsePolicy(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`, localauthz.RAMPolicy), user))
	require.NoError(t, set.Add(localauthz.MustParsePolicy(`{"Version":"1","Statement":[{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*","Principal":{"RAM":["acs:ram::1111111111111111:*"]}}]}`, localauthz.KeyPolicy), key))
	for _, inInstance := range []bool{true, false} {
		d := set.Evaluate(localauthz.Request{Principal: user, Action: "kms:Decrypt", Resource: key, InKMSInstance: inInstance})
		assert.Equal(t, localauthz.ExplicitDeny, d.Effect, "in instance: %v", inInstance)
	}
}

// TestUnknownActionIsATypedError: a request for a kms: action the
// catalogue does not know is refused with ErrUnknownAction naming the
// nearest action, even under kms:*.
func TestUnknownActionIsATypedError(t *testing.T) {
	const user = "acs:ram::1111111111111111:user/svc"
	var set localauthz.PolicySet
	require.NoError(t, set.Add(localauthz.MustParsePolicy(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`, localauthz.RAMPolicy), user))
	d := set.Evaluate(localauthz.Request{Principal: user, Action: "kms:Decrpyt", Resource: "acs:kms:cn-hangzhou:1111111111111111:key/key-1"})
	assert.Equal(t, localauthz.ImplicitDeny, d.Effect)
	require.ErrorIs(t, d.Err, localauthz.ErrUnknownAction)
	assert.Contains(t, d.Err.Error(), "did you mean kms:Decrypt")
	d = set.Evaluate(localauthz.Request{Principal: user, Action: "KMS:DECRYPT", Resource: "acs:kms:cn-hangzhou:1111111111111111:key/key-1"})
	assert.Equal(t, localauthz.Allow, d.Effect, "actions are case-insensitive")
	assert.NoError(t, d.Err)
}
