package localauthz_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// unknownCtx is a request context in which the client knows
// acs:SecureTransport and acs:CurrentTime but not the keys only KMS sees.
func unknownCtx(unknown ...string) localauthz.Context {
	ctx := localauthz.Context{"acs:SecureTransport": {"true"}, "acs:CurrentTime": {"2026-03-31T09:00:00Z"}}
	ctx.SetUnknown(unknown...)
	return ctx
}

// ramOperatorConds is one condition per RAM operator, each on a key the
// test marks unknown.
var ramOperatorConds = []struct{ op, key, value string }{
	{"StringEquals", "acs:SourceVpc", "vpc-1"},
	{"StringNotEquals", "acs:SourceVpc", "vpc-1"},
	{"StringEqualsIgnoreCase", "acs:SourceVpc", "VPC-1"},
	{"StringNotEqualsIgnoreCase", "acs:SourceVpc", "VPC-1"},
	{"StringLike", "acs:SourceVpc", "vpc-*"},
	{"StringNotLike", "acs:SourceVpc", "vpc-*"},
	{"NumericEquals", "acs:SourceIpPort", "1"},
	{"NumericNotEquals", "acs:SourceIpPort", "1"},
	{"NumericLessThan", "acs:SourceIpPort", "1"},
	{"NumericLessThanEquals", "acs:SourceIpPort", "1"},
	{"NumericGreaterThan", "acs:SourceIpPort", "1"},
	{"NumericGreaterThanEquals", "acs:SourceIpPort", "1"},
	{"DateEquals", "acs:TokenTime", "2026-01-01T00:00:00Z"},
	{"DateNotEquals", "acs:TokenTime", "2026-01-01T00:00:00Z"},
	{"DateLessThan", "acs:TokenTime", "2026-01-01T00:00:00Z"},
	{"DateLessThanEquals", "acs:TokenTime", "2026-01-01T00:00:00Z"},
	{"DateGreaterThan", "acs:TokenTime", "2026-01-01T00:00:00Z"},
	{"DateGreaterThanEquals", "acs:TokenTime", "2026-01-01T00:00:00Z"},
	{"Bool", "acs:MFAPresent", "true"},
	{"IpAddress", "acs:SourceIp", "203.0.113.0/24"},
	{"NotIpAddress", "acs:SourceIp", "203.0.113.0/24"},
}

func TestRAMOperatorsCoverUnknownKeyTable(t *testing.T) {
	var ops []string
	for _, c := range ramOperatorConds {
		ops = append(ops, c.op)
	}
	assert.ElementsMatch(t, localauthz.RAMOperators(), ops, "every RAM operator is tested with an unknown key")
}

// TestUnknownKeyEveryOperator: a condition on a key the client does not
// know is neither met nor failed, whatever the operator (negated ones
// included): an Allow under it makes the decision Conditional, a Deny
// under it makes an otherwise allowed request Conditional and leaves an
// otherwise denied one an implicit deny.
func TestUnknownKeyEveryOperator(t *testing.T) {
	for _, c := range ramOperatorConds {
		cond := `"Condition":{"` + c.op + `":{"` + c.key + `":"` + c.value + `"}}`
		req := localauthz.Request{Principal: alice, Action: "kms:Decrypt", Resource: keyARN, Context: unknownCtx(c.key)}
		t.Run(c.op+"/allow", func(t *testing.T) {
			set := newSet(t, ram("", `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*",`+cond+`}`))
			d := set.Evaluate(req)
			assert.Equal(t, localauthz.Conditional, d.Effect)
			assert.Equal(t, []string{c.key}, d.ConditionKeys)
			assert.Empty(t, d.Missing, "a conditional requirement gets no grant")
			require.NotNil(t, d.Decider)
			assert.Equal(t, 0, d.Decider.Statement)
			assert.True(t, d.Assumptions.Has(localauthz.AssumeUnknownKeyConditional), d.Assumptions.String())
		})
		t.Run(c.op+"/deny-over-allow", func(t *testing.T) {
			set := newSet(t, ram("", `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"},
			  {"Effect":"Deny","Action":"kms:*","Resource":"*",`+cond+`}`))
			d := set.Evaluate(req)
			assert.Equal(t, localauthz.Conditional, d.Effect)
			assert.Equal(t, []string{c.key}, d.ConditionKeys)
			require.NotNil(t, d.Decider)
			assert.Equal(t, 1, d.Decider.Statement, "the Deny that maybe applies decides")
		})
		t.Run(c.op+"/deny-alone", func(t *testing.T) {
			set := newSet(t, ram("", `{"Effect":"Deny","Action":"kms:*","Resource":"*",`+cond+`}`))
			d := set.Evaluate(req)
			assert.Equal(t, localauthz.ImplicitDeny, d.Effect, "a Deny that maybe applies cannot allow")
			assert.Empty(t, d.ConditionKeys)
			assert.Len(t, d.Missing, 1)
		})
		t.Run(c.op+"/known-absent-unchanged", func(t *testing.T) {
			// without the unknown mark the key is absent: exactly the old reading
			set := newSet(t, ram("", `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*",`+cond+`}`))
			d := set.Evaluate(localauthz.Request{Principal: alice, Action: "kms:Decrypt", Resource: keyARN, Context: unknownCtx()})
			negated := strings.Contains(c.op, "Not")
			if negated {
				assert.Equal(t, localauthz.Allow, d.Effect)
			} else {
				assert.Equal(t, localauthz.ImplicitDeny, d.Effect)
			}
		})
	}
}

func TestUnknownKeyPrecedence(t *testing.T) {
	ipAllow := `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"203.0.113.0/24"}}}`
	vpcDeny := `{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"StringNotEquals":{"acs:SourceVpc":"vpc-1"}}}`
	plainAllow := `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}`
	tlsDeny := `{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":"true"}}}`
	tests := []struct {
		name     string
		stmts    string
		unknown  []string
		want     localauthz.Effect
		keys     []string
		decider  int // -1: none
		nMissing int
	}{
		{"definite deny beats a maybe allow", ipAllow + "," + tlsDeny, []string{"acs:SourceIp"}, localauthz.ExplicitDeny, nil, 1, 0},
		{"definite deny beats a maybe deny", vpcDeny + "," + tlsDeny + "," + plainAllow, []string{"acs:SourceVpc"}, localauthz.ExplicitDeny, nil, 1, 0},
		{"definite allow beats a maybe allow", ipAllow + "," + plainAllow, []string{"acs:SourceIp"}, localauthz.Allow, nil, 1, 0},
		{"maybe deny over definite allow", plainAllow + "," + vpcDeny, []string{"acs:SourceVpc"}, localauthz.Conditional, []string{"acs:SourceVpc"}, 1, 0},
		{"maybe deny over maybe allow names both keys", ipAllow + "," + vpcDeny, []string{"acs:SourceVpc", "acs:SourceIp"}, localauthz.Conditional, []string{"acs:SourceIp", "acs:SourceVpc"}, 1, 0},
		{"maybe allow alone", ipAllow, []string{"acs:SourceIp"}, localauthz.Conditional, []string{"acs:SourceIp"}, 0, 0},
		{"maybe deny without any allow", vpcDeny, []string{"acs:SourceVpc"}, localauthz.ImplicitDeny, nil, -1, 1},
		{"no allow at all", `{"Effect":"Allow","Action":"kms:Encrypt","Resource":"*"}`, []string{"acs:SourceIp"}, localauthz.ImplicitDeny, nil, -1, 1},
		{"a known condition that fails wins over an unknown one",
			`{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"203.0.113.0/24"},"Bool":{"acs:SecureTransport":"false"}}}`,
			[]string{"acs:SourceIp"}, localauthz.ImplicitDeny, nil, -1, 1},
		{"unknown keys are matched case-insensitively", ipAllow, []string{"ACS:SOURCEIP"}, localauthz.Conditional, []string{"acs:SourceIp"}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := newSet(t, ram("", tt.stmts))
			d := set.Evaluate(localauthz.Request{Principal: alice, Action: "kms:Decrypt", Resource: keyARN, Context: unknownCtx(tt.unknown...)})
			assert.Equal(t, tt.want, d.Effect)
			assert.Equal(t, tt.keys, d.ConditionKeys)
			if tt.decider < 0 {
				assert.Nil(t, d.Decider)
			} else if assert.NotNil(t, d.Decider) {
				assert.Equal(t, tt.decider, d.Decider.Statement)
			}
			assert.Len(t, d.Missing, tt.nMissing)
		})
	}
}

// TestUnknownKeyCrossAccountAndKeyPolicies: across accounts both sides
// must allow (Allow and Conditional is Conditional; Conditional and
// ImplicitDeny is ImplicitDeny); in the owning account either suffices;
// a key policy's Allow counts only in a KMS instance and within scope.
func TestUnknownKeyCrossAccountAndKeyPolicies(t *testing.T) {
	ipCond := `"Condition":{"IpAddress":{"acs:SourceIp":"203.0.113.0/24"}}`
	vpcCond := `"Condition":{"StringEquals":{"acs:SourceVpc":"vpc-1"}}`
	bobRAM := ram("", `{"Effect":"Allow","Action":"kms:*","Resource":"*"}`)
	bobRAMMaybe := ram("", `{"Effect":"Allow","Action":"kms:*","Resource":"*",`+ipCond+`}`)
	keyForBob := keyPolicy(keyARN, `{"Effect":"Allow","Principal":{"RAM":["acs:ram::`+other+`:user/bob"]},"Action":["kms:Decrypt","kms:EnableKey"],"Resource":"*"}`)
	keyForBobMaybe := keyPolicy(keyARN, `{"Effect":"Allow","Principal":{"RAM":["acs:ram::`+other+`:user/bob"]},"Action":["kms:Decrypt","kms:EnableKey"],"Resource":"*",`+vpcCond+`}`)
	keyDenyMaybe := keyPolicy(keyARN, `{"Effect":"Allow","Principal":{"RAM":["acs:ram::`+other+`:user/bob","acs:ram::`+acct+`:user/alice"]},"Action":"kms:Decrypt","Resource":"*"},
	  {"Effect":"Deny","Principal":{"RAM":["acs:ram::`+other+`:*","acs:ram::`+acct+`:*"]},"Action":"kms:*","Resource":"*",`+vpcCond+`}`)
	keyForAliceMaybe := keyPolicy(keyARN, `{"Effect":"Allow","Principal":{"RAM":["acs:ram::`+acct+`:user/alice"]},"Action":["kms:Decrypt","kms:EnableKey"],"Resource":"*",`+vpcCond+`}`)
	all := []string{"acs:SourceIp", "acs:SourceVpc"}
	tests := []struct {
		name       string
		set        *localauthz.PolicySet
		principal  string
		action     string
		inInstance bool
		want       localauthz.Effect
		keys       []string
		missing    []localauthz.Where
	}{
		{"cross: allow and conditional", newSet(t, bobRAM, keyForBobMaybe), bob, "kms:Decrypt", true, localauthz.Conditional, []string{"acs:SourceVpc"}, nil},
		{"cross: conditional and allow", newSet(t, bobRAMMaybe, keyForBob), bob, "kms:Decrypt", true, localauthz.Conditional, []string{"acs:SourceIp"}, nil},
		{"cross: conditional on both sides", newSet(t, bobRAMMaybe, keyForBobMaybe), bob, "kms:Decrypt", true, localauthz.Conditional, all, nil},
		{"cross: conditional and implicit deny", newSet(t, bobRAMMaybe), bob, "kms:Decrypt", true, localauthz.ImplicitDeny, nil, []localauthz.Where{localauthz.WhereKey}},
		{"cross: implicit deny and conditional", newSet(t, keyForBobMaybe), bob, "kms:Decrypt", true, localauthz.ImplicitDeny, nil, []localauthz.Where{localauthz.WhereRAM}},
		{"cross: key policy outside an instance", newSet(t, bobRAM, keyForBobMaybe), bob, "kms:Decrypt", false, localauthz.ImplicitDeny, nil, []localauthz.Where{localauthz.WhereKey}},
		{"cross: out of the key policy's scope", newSet(t, bobRAM, keyForBobMaybe), bob, "kms:EnableKey", true, localauthz.ImplicitDeny, nil, []localauthz.Where{localauthz.WhereKey}},
		{"cross: key policy deny that maybe applies", newSet(t, bobRAM, keyDenyMaybe), bob, "kms:Decrypt", true, localauthz.Conditional, []string{"acs:SourceVpc"}, nil},
		{"same account: key policy alone, conditional", newSet(t, keyForAliceMaybe), alice, "kms:Decrypt", true, localauthz.Conditional, []string{"acs:SourceVpc"}, nil},
		{"same account: RAM allows, key policy conditional", newSet(t, ram("", `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}`), keyForAliceMaybe), alice, "kms:Decrypt", true, localauthz.Allow, nil, nil},
		{"same account: key policy deny that maybe applies", newSet(t, keyDenyMaybe), alice, "kms:Decrypt", true, localauthz.Conditional, []string{"acs:SourceVpc"}, nil},
		{"same account: outside an instance", newSet(t, keyForAliceMaybe), alice, "kms:Decrypt", false, localauthz.ImplicitDeny, nil, []localauthz.Where{localauthz.WhereRAM}},
		{"owner root with a key deny that maybe applies", newSet(t, keyDenyMaybe), rootOwner, "kms:Decrypt", true, localauthz.Conditional, []string{"acs:SourceVpc"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.set.Evaluate(localauthz.Request{Principal: tt.principal, Action: tt.action, Resource: keyARN, InKMSInstance: tt.inInstance, Context: unknownCtx(all...)})
			assert.Equal(t, tt.want, d.Effect)
			assert.Equal(t, tt.keys, d.ConditionKeys)
			var wheres []localauthz.Where
			for _, m := range d.Missing {
				wheres = append(wheres, m.Where)
			}
			assert.Equal(t, tt.missing, wheres)
		})
	}
}

// TestIssue12SourceIpPolicy is the finding of issue 12 item 1: a RAM
// policy with an acs:SourceIp condition was refused locally and Preflight
// advised granting the statement without its condition.
func TestIssue12SourceIpPolicy(t *testing.T) {
	set := newSet(t, ram("", `{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"`+keyARN+`","Condition":{"IpAddress":{"acs:SourceIp":"116.62.0.0/24"}}}`))
	call := localauthz.Call{Operation: "GenerateDataKey", Resource: keyARN, Context: localauthz.Context{"acs:SecureTransport": {"true"}}}

	t.Run("key absent: no grant drops the condition", func(t *testing.T) {
		rep := set.Check(alice, call)
		assert.Equal(t, localauthz.ImplicitDeny, rep.Decision.Effect)
		assert.Empty(t, rep.Grants(), "the statement grants it under acs:SourceIp; an unconditional grant would widen it")
		require.Len(t, rep.Decision.Unmet, 1)
		u := rep.Decision.Unmet[0]
		assert.Equal(t, "kms:GenerateDataKey", u.Action)
		assert.Equal(t, 0, u.Statement)
		assert.Equal(t, "acs:SourceIp is in 116.62.0.0/24 (IpAddress); the request has no acs:SourceIp", u.Condition)
		assert.JSONEq(t, `{"IpAddress":{"acs:SourceIp":["116.62.0.0/24"]}}`, string(u.Conditions))
		text := rep.Text()
		assert.Contains(t, text, "ram[0] Statement[0] allows it when acs:SourceIp is in 116.62.0.0/24 (IpAddress); the request has no acs:SourceIp")
		assert.NotContains(t, text, "grant in a RAM policy")
	})
	t.Run("key unknown: conditional, KMS decides", func(t *testing.T) {
		c := call
		c.Context = localauthz.Context{"acs:SecureTransport": {"true"}}
		c.Context.SetUnknown("acs:SourceIp")
		rep := set.Check(alice, c)
		assert.Equal(t, localauthz.Conditional, rep.Decision.Effect)
		assert.Equal(t, []string{"acs:SourceIp"}, rep.Decision.ConditionKeys)
		assert.Empty(t, rep.Grants())
		assert.Empty(t, rep.Decision.Missing)
		assert.Contains(t, rep.Text(), "GenerateDataKey "+keyARN+": Conditional\n")
		assert.Contains(t, rep.Text(), "conditional on acs:SourceIp (the client does not know it; KMS decides)")
		assert.Contains(t, rep.Text(), "assumption unknown-key-conditional")
		js, err := json.Marshal(rep)
		require.NoError(t, err)
		assert.Contains(t, string(js), `"effect":"Conditional"`)
		assert.Contains(t, string(js), `"conditionKeys":["acs:SourceIp"]`)
		assert.Contains(t, string(js), `"acs:SourceIp":null`)
	})
}

func TestUnmetConditionSuggestion(t *testing.T) {
	set := newSet(t, ram("", `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":"true"}}}`))
	rep := set.Check(alice, localauthz.Call{Operation: "Decrypt", Resource: keyARN, Context: localauthz.Context{"acs:SecureTransport": {"false"}}})
	assert.Equal(t, localauthz.ImplicitDeny, rep.Decision.Effect)
	assert.Equal(t, []localauthz.Missing{{Action: "kms:Decrypt", Resource: keyARN, Where: localauthz.WhereRAM}}, rep.Decision.Missing)
	require.Len(t, rep.Decision.Unmet, 1)
	assert.Equal(t, "ram[0] Statement[0] allows it when acs:SecureTransport is true (Bool); the request has false", rep.Decision.Unmet[0].String())
	assert.Empty(t, rep.Grants())
	assert.Empty(t, localauthz.SuggestGrants(alice, rep.Decision.Missing, rep.Decision.Unmet...))
	// without the Unmet list SuggestGrants cannot know (the old signature)
	assert.Len(t, localauthz.SuggestGrants(alice, rep.Decision.Missing), 1)

	// cross account: the RAM side is conditioned; the key-policy statement
	// suggested for the other side keeps its conditions
	cross := newSet(t, ram("", `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"Bool":{"acs:SecureTransport":"true"}}}`))
	d := cross.Evaluate(localauthz.Request{Principal: bob, Action: "kms:Decrypt", Resource: keyARN, InKMSInstance: true, Context: localauthz.Context{"acs:SecureTransport": {"false"}}})
	require.Equal(t, localauthz.ImplicitDeny, d.Effect)
	grants := localauthz.SuggestGrants(bob, d.Missing, d.Unmet...)
	require.Len(t, grants, 1)
	assert.Equal(t, localauthz.WhereKey, grants[0].Where)
	assert.JSONEq(t, `{"Effect":"Allow","Principal":{"RAM":["`+bob+`"]},"Action":["kms:Decrypt"],"Resource":["*"],"Condition":{"Bool":{"acs:SecureTransport":["true"]}}}`, string(grants[0].Policy))
}

// TestReportAggregatesConditional: ExplicitDeny if any requirement is
// denied, else ImplicitDeny if any is missing, else Conditional if any is
// conditional, else Allow.
func TestReportAggregatesConditional(t *testing.T) {
	const secret = "acs:kms:cn-hangzhou:" + acct + ":secret/db"
	ip := `"Condition":{"IpAddress":{"acs:SourceIp":"203.0.113.0/24"}}`
	ctx := unknownCtx("acs:SourceIp")
	facts := localauthz.Facts{EncryptionKey: keyARN}
	tests := []struct {
		name  string
		stmts string
		want  localauthz.Effect
		keys  []string
	}{
		{"allow and conditional", `{"Effect":"Allow","Action":"kms:GetSecretValue","Resource":"*"},{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*",` + ip + `}`, localauthz.Conditional, []string{"acs:SourceIp"}},
		{"conditional and missing", `{"Effect":"Allow","Action":"kms:GetSecretValue","Resource":"*",` + ip + `}`, localauthz.ImplicitDeny, nil},
		{"conditional and denied", `{"Effect":"Allow","Action":"kms:GetSecretValue","Resource":"*",` + ip + `},{"Effect":"Deny","Action":"kms:Decrypt","Resource":"*"}`, localauthz.ExplicitDeny, nil},
		{"both allowed", `{"Effect":"Allow","Action":["kms:GetSecretValue","kms:Decrypt"],"Resource":"*"}`, localauthz.Allow, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := newSet(t, ram("", tt.stmts))
			rep := set.Check(alice, localauthz.Call{Operation: "GetSecretValue", Resource: secret, Facts: facts, Context: ctx})
			assert.Equal(t, tt.want, rep.Decision.Effect)
			assert.Equal(t, tt.keys, rep.Decision.ConditionKeys)
		})
	}
}

func TestContextUnknown(t *testing.T) {
	ctx := localauthz.Context{"acs:SourceIp": {"1.2.3.4"}}
	assert.False(t, ctx.Unknown("acs:SourceIp"))
	ctx.SetUnknown("acs:SourceIp", "acs:SourceVpc")
	assert.True(t, ctx.Unknown("ACS:SOURCEIP"))
	assert.True(t, ctx.Unknown("acs:SourceVpc"))
	assert.False(t, ctx.Unknown("acs:SecureTransport"))
	_, ok := ctx.Get("acs:SourceIp")
	assert.False(t, ok, "an unknown key has no value")
	assert.Equal(t, []string{"acs:SourceIp", "acs:SourceVpc"}, ctx.UnknownKeys())
	// a caller's own value that looks like the mark is a value, not the mark
	ctx.Set("acs:SourceVpc", "<unknown>")
	assert.False(t, ctx.Unknown("acs:SourceVpc"))

	js, err := json.Marshal(ctx)
	require.NoError(t, err)
	assert.JSONEq(t, `{"acs:SourceIp":null,"acs:SourceVpc":["<unknown>"]}`, string(js))
	var back localauthz.Context
	require.NoError(t, json.Unmarshal(js, &back))
	assert.True(t, back.Unknown("acs:SourceIp"))
	assert.False(t, back.Unknown("acs:SourceVpc"))

	// Facts.Request keeps the mark when it rebuilds the context with tags
	f := localauthz.Facts{Tags: map[string]map[string]string{keyARN: {"env": "prod"}}}
	r := f.Request(alice, "kms:Decrypt", keyARN, back)
	assert.True(t, r.Context.Unknown("acs:SourceIp"))
}

// TestEvaluateUnknownKeysAllocations: a definite Allow stays
// allocation-free when another statement tests an unknown key; a
// Conditional decision allocates only its ConditionKeys list.
func TestEvaluateUnknownKeysAllocations(t *testing.T) {
	set := newSet(t, ram("", `{"Effect":"Allow","Action":"kms:Decrypt","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"203.0.113.0/24"}}},
	  {"Effect":"Allow","Action":"kms:Decrypt","Resource":"`+keyARN+`"}`))
	req := localauthz.Request{Principal: alice, Action: "kms:Decrypt", Resource: keyARN, Context: unknownCtx("acs:SourceIp")}
	require.Equal(t, localauthz.Allow, set.Evaluate(req).Effect)
	assert.Zero(t, testing.AllocsPerRun(100, func() { set.Evaluate(req) }))
	req.Resource = key2ARN
	require.Equal(t, localauthz.Conditional, set.Evaluate(req).Effect)
	assert.LessOrEqual(t, testing.AllocsPerRun(100, func() { set.Evaluate(req) }), 1.0)
}
