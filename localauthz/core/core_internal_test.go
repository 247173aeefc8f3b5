package core

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern, s string
		fold, want bool
	}{
		{"*", "", false, true},
		{"*", "anything:at/all", false, true},
		{"kms:Decrypt", "kms:Decrypt", false, true},
		{"kms:decrypt", "KMS:Decrypt", true, true},
		{"kms:decrypt", "KMS:Decrypt", false, false},
		{"kms:List*", "kms:ListKeys", true, true},
		{"kms:List*", "kms:List", true, true},
		{"kms:List*", "kms:Lis", true, false},
		{"kms:*Key*", "kms:DescribeKey", true, true},
		{"kms:*Key*", "kms:Decrypt", true, false},
		{"kms:*Key", "kms:DescribeKeyVersion", true, false},
		{"kms:Get?ecretValue", "kms:GetSecretValue", true, true},
		{"kms:Get?ecretValue", "kms:GetecretValue", true, false},
		{"acs:kms:*:1111:key/*", "acs:kms:cn-hangzhou:1111:key/k1", false, true},
		{"acs:kms:*:1111:key/*", "acs:kms:cn-hangzhou:1111:key", false, false},
		{"acs:kms:*:1111:*", "acs:kms:cn-hangzhou:1111:alias/a", false, true},
		{"acs:kms:*:*:secret/prefix*", "acs:kms:r:1:secret/prefix-db", false, true},
		{"acs:kms:*:*:secret/prefix*", "acs:kms:r:1:secret/Prefix-db", false, false},
		{"a*b*c", "aXXbYYc", false, true},
		{"a*b*c", "aXXbYY", false, false},
		{"a**c", "abc", false, true},
		{"?", "é", false, true}, // one character, two bytes
		{"??", "é", false, false},
		{"*?", "", false, false},
		{"", "", false, true},
		{"", "x", false, false},
	}
	for _, tt := range tests {
		g := CompileGlob(tt.pattern, tt.fold)
		assert.Equalf(t, tt.want, g.Match(tt.s), "%q ~ %q (fold %v)", tt.pattern, tt.s, tt.fold)
	}
}

func TestGlobMatchFold(t *testing.T) {
	g := CompileGlob("acs:kms:*:1:secret/Prod-DB", false)
	assert.False(t, g.Match("acs:kms:r:1:secret/prod-db"))
	assert.True(t, g.MatchFold("acs:kms:r:1:secret/prod-db"))
}

func cond(t *testing.T, name string, key string, values ...string) Condition {
	t.Helper()
	o, ok := ramOperators[name]
	require.True(t, ok, name)
	c, bad, exp := CompileCondition(o.op, o.negate, key, values)
	require.Equalf(t, -1, bad, "value %d: %s", bad, exp)
	c.Name = name
	return c
}

func TestOperators(t *testing.T) {
	const k = "k"
	tests := []struct {
		op      string
		values  []string
		request []string // nil: key absent
		want    bool
	}{
		{"StringEquals", []string{"a", "b"}, []string{"b"}, true},
		{"StringEquals", []string{"a"}, []string{"A"}, false},
		{"StringEquals", []string{"a"}, nil, false},
		{"StringNotEquals", []string{"a", "b"}, []string{"a"}, false},
		{"StringNotEquals", []string{"a", "b"}, []string{"c"}, true},
		{"StringNotEquals", []string{"a"}, nil, true},
		{"StringEqualsIgnoreCase", []string{"Apollo"}, []string{"aPOLLO"}, true},
		{"StringEqualsIgnoreCase", []string{"Apollo"}, []string{"Apollo1"}, false},
		{"StringNotEqualsIgnoreCase", []string{"Apollo"}, []string{"APOLLO"}, false},
		{"StringNotEqualsIgnoreCase", []string{"Apollo"}, []string{"Zeus"}, true},
		{"StringLike", []string{"vpc-*"}, []string{"vpc-123"}, true},
		{"StringLike", []string{"vpc-?"}, []string{"vpc-12"}, false},
		{"StringLike", []string{"VPC-*"}, []string{"vpc-1"}, false},
		{"StringNotLike", []string{"acs:kms:ap-southeast-1:*:*"}, []string{"acs:kms:cn-hangzhou:1:key"}, true},
		{"StringNotLike", []string{"acs:kms:ap-southeast-1:*:*"}, []string{"acs:kms:ap-southeast-1:1:key"}, false},
		{"NumericEquals", []string{"7"}, []string{"7.0"}, true},
		{"NumericEquals", []string{"7"}, []string{"x"}, false},
		{"NumericNotEquals", []string{"7", "8"}, []string{"9"}, true},
		{"NumericNotEquals", []string{"7", "8"}, []string{"8"}, false},
		{"NumericLessThan", []string{"10"}, []string{"9.5"}, true},
		{"NumericLessThan", []string{"10"}, []string{"10"}, false},
		{"NumericLessThanEquals", []string{"10"}, []string{"10"}, true},
		{"NumericGreaterThan", []string{"10"}, []string{"10"}, false},
		{"NumericGreaterThan", []string{"10"}, []string{"1e2"}, true},
		{"NumericGreaterThanEquals", []string{"-1"}, []string{"-1"}, true},
		{"DateEquals", []string{"2019-08-12T17:00:00+08:00"}, []string{"2019-08-12T09:00:00Z"}, true},
		{"DateNotEquals", []string{"2019-08-12T17:00:00+08:00"}, []string{"2019-08-12T09:00:01Z"}, true},
		{"DateLessThan", []string{"2019-08-12T17:00:00+08:00"}, []string{"2019-08-12T09:00:00Z"}, false},
		{"DateLessThan", []string{"2019-08-12T17:00:00+08:00"}, []string{"2019-08-12T08:59:59.999Z"}, true},
		{"DateLessThanEquals", []string{"2019-08-12T17:00:00+08:00"}, []string{"2019-08-12T09:00:00Z"}, true},
		{"DateGreaterThan", []string{"2019-08-12"}, []string{"2019-08-12T00:00:00.1Z"}, true},
		{"DateGreaterThanEquals", []string{"2019-08-12T00:00:00-0130"}, []string{"2019-08-12T01:30:00Z"}, true},
		{"DateGreaterThan", []string{"2019-08-12"}, []string{"yesterday"}, false},
		{"Bool", []string{"true"}, []string{"TRUE"}, true},
		{"Bool", []string{"true"}, []string{"false"}, false},
		{"Bool", []string{"false"}, []string{"no"}, false},
		{"IpAddress", []string{"192.168.0.0/16", "172.16.215.218"}, []string{"192.168.3.4"}, true},
		{"IpAddress", []string{"192.168.0.0/16", "172.16.215.218"}, []string{"172.16.215.218"}, true},
		{"IpAddress", []string{"192.168.0.0/16", "172.16.215.218"}, []string{"172.16.215.219"}, false},
		{"IpAddress", []string{"2001:db8::/32"}, []string{"2001:db8:85a3::8a2e:370:7334"}, true},
		{"IpAddress", []string{"2001:db8::/32"}, []string{"2001:db9::1"}, false},
		{"IpAddress", []string{"10.0.0.0/8"}, []string{"::ffff:10.1.2.3"}, true},
		{"IpAddress", []string{"10.0.0.0/8"}, []string{"not-an-ip"}, false},
		{"IpAddress", []string{"10.1.2.3/8"}, []string{"10.200.0.1"}, true}, // host bits are masked
		{"NotIpAddress", []string{"10.0.0.0/8"}, []string{"203.0.113.5"}, true},
		{"NotIpAddress", []string{"10.0.0.0/8"}, []string{"10.0.0.1"}, false},
		{"NotIpAddress", []string{"10.0.0.0/8"}, nil, true},
		{"IpAddress", []string{"10.0.0.0/8"}, nil, false},
		// several request values: any for positive, none for negated
		{"StringEquals", []string{"prod"}, []string{"dev", "prod"}, true},
		{"StringNotEquals", []string{"prod"}, []string{"dev", "prod"}, false},
	}
	for _, tt := range tests {
		c := cond(t, tt.op, k, tt.values...)
		ctx := Context{}
		if tt.request != nil {
			ctx[k] = tt.request
		}
		got, absent := c.eval(ctx.lookup(k))
		assert.Equalf(t, tt.want, got, "%s %v against %v", tt.op, tt.values, tt.request)
		assert.Equal(t, tt.request == nil, absent)
	}
}

func TestOperatorValueValidation(t *testing.T) {
	bad := map[string]string{
		"NumericEquals": "seven",
		"DateLessThan":  "2019-13-01T00:00:00Z",
		"Bool":          "yes",
		"IpAddress":     "300.1.1.1",
		"NotIpAddress":  "10.0.0.0/33",
	}
	for op, v := range bad {
		o := ramOperators[op]
		_, idx, exp := CompileCondition(o.op, o.negate, "k", []string{v})
		assert.Equalf(t, 0, idx, "%s %q should be rejected", op, v)
		assert.NotEmpty(t, exp)
	}
	for _, v := range []string{"NaN", "Inf", "1e999"} {
		_, idx, _ := CompileCondition(OpNumericEquals, false, "k", []string{v})
		assert.Equal(t, 0, idx, v)
	}
}

// The core supports IfExists and set quantifiers for other dialects, even
// though the RAM parser rejects them.
func TestConditionCoreFeatures(t *testing.T) {
	base := func(set SetQuantifier, negate, ifExists bool, values ...string) Condition {
		c, _, _ := CompileCondition(OpStringEquals, negate, "k", values)
		c.Set, c.IfExists = set, ifExists
		return c
	}
	tests := []struct {
		name string
		c    Condition
		req  []string
		want bool
	}{
		{"IfExists absent", base(SetNone, false, true, "a"), nil, true},
		{"IfExists present mismatch", base(SetNone, false, true, "a"), []string{"b"}, false},
		{"ForAnyValue match", base(SetForAnyValue, false, false, "a"), []string{"x", "a"}, true},
		{"ForAnyValue absent", base(SetForAnyValue, false, false, "a"), nil, false},
		{"ForAnyValue:Not some differ", base(SetForAnyValue, true, false, "a"), []string{"a", "b"}, true},
		{"ForAnyValue:Not all equal", base(SetForAnyValue, true, false, "a"), []string{"a"}, false},
		{"ForAllValues subset", base(SetForAllValues, false, false, "a", "b"), []string{"a", "b"}, true},
		{"ForAllValues not subset", base(SetForAllValues, false, false, "a"), []string{"a", "c"}, false},
		{"ForAllValues absent", base(SetForAllValues, false, false, "a"), nil, true},
		{"ForAllValues:Not disjoint", base(SetForAllValues, true, false, "a"), []string{"b", "c"}, true},
		{"ForAllValues:Not overlap", base(SetForAllValues, true, false, "a"), []string{"b", "a"}, false},
	}
	for _, tt := range tests {
		ctx := Context{}
		if tt.req != nil {
			ctx["k"] = tt.req
		}
		got, _ := tt.c.eval(ctx.lookup("k"))
		assert.Equal(t, tt.want, got, tt.name)
	}
}

func TestContextLookupCaseInsensitive(t *testing.T) {
	ctx := Context{"ACS:SourceIP": {"10.0.0.1"}}
	v, ok := ctx.Get("acs:SourceIp")
	assert.True(t, ok)
	assert.Equal(t, "10.0.0.1", v)
	_, ok = Context(nil).Get("x")
	assert.False(t, ok)
}

func TestParseISOTime(t *testing.T) {
	ok := []string{"2019-08-12", "2019-08-12T17:00:00+08:00", "2019-08-12T17:00:00Z", "2019-08-12T17:00Z",
		"2019-08-12T17:00:00.123456789Z", "2020-02-29T00:00:00Z", "2019-08-12T17:00:00+0800", "2019-08-12T17:00:00-05"}
	for _, s := range ok {
		_, good := parseISOTime(s)
		assert.True(t, good, s)
	}
	bad := []string{"", "2019-8-12", "2019-02-29", "2019-08-12T25:00:00Z", "2019-08-12T17:00:00+25:00",
		"2019-08-12 17:00:00", "2019-08-12T17:00:00.Z", "2019-08-12T17:00:00Q", "12/08/2019"}
	for _, s := range bad {
		_, good := parseISOTime(s)
		assert.False(t, good, s)
	}
	a, _ := parseISOTime("2019-08-12T17:00:00+08:00")
	b, _ := parseISOTime("2019-08-12T09:00:00Z")
	assert.Equal(t, 0, a.cmp(b))
}

// ramOperators maps the RAM operator names these tests use onto the core's
// operators (the dialect's own table lives in the localauthz package).
var ramOperators = map[string]struct {
	op     Op
	negate bool
}{
	"StringEquals": {OpStringEquals, false}, "StringNotEquals": {OpStringEquals, true},
	"StringEqualsIgnoreCase": {OpStringEqualsIgnoreCase, false}, "StringNotEqualsIgnoreCase": {OpStringEqualsIgnoreCase, true},
	"StringLike": {OpStringLike, false}, "StringNotLike": {OpStringLike, true},
	"NumericEquals": {OpNumericEquals, false}, "NumericNotEquals": {OpNumericEquals, true},
	"NumericLessThan": {OpNumericLessThan, false}, "NumericLessThanEquals": {OpNumericLessThanEquals, false},
	"NumericGreaterThan": {OpNumericGreaterThan, false}, "NumericGreaterThanEquals": {OpNumericGreaterThanEquals, false},
	"DateEquals": {OpDateEquals, false}, "DateNotEquals": {OpDateEquals, true},
	"DateLessThan": {OpDateLessThan, false}, "DateLessThanEquals": {OpDateLessThanEquals, false},
	"DateGreaterThan": {OpDateGreaterThan, false}, "DateGreaterThanEquals": {OpDateGreaterThanEquals, false},
	"Bool": {OpBool, false}, "IpAddress": {OpIPAddress, false}, "NotIpAddress": {OpIPAddress, true},
}

// TestUnknownKeyEveryCoreOperator: a condition on an unknown key is
// "maybe" for every base operator, negated or not, with IfExists and
// with either set quantifier; a condition that never matches is decided
// without its key; a key the action does not supply is absent, not
// unknown.
func TestUnknownKeyEveryCoreOperator(t *testing.T) {
	values := map[ValueType]string{TypeString: "x", TypeNumber: "1", TypeDate: "2026-01-01", TypeBool: "true", TypeIP: "10.0.0.0/8"}
	ctx := Context{}
	ctx.SetUnknown("k")
	for op := OpStringEquals; op <= OpStringEndWith; op++ {
		for _, negate := range []bool{false, true} {
			for _, ifExists := range []bool{false, true} {
				for _, set := range []SetQuantifier{SetNone, SetForAnyValue, SetForAllValues} {
					c, bad, _ := CompileCondition(op, negate, "k", []string{values[op.ValueType()]})
					require.Equal(t, -1, bad)
					c.IfExists, c.Set, c.Name = ifExists, set, "op"
					for _, deny := range []bool{false, true} {
						st := Statement{Deny: deny, Conds: []Condition{c}}
						var tr Trace
						assert.Equalf(t, Maybe, st.conditionsMatch(ctx, AllKeys, &tr), "op %d negate %v ifExists %v set %d deny %v", op, negate, ifExists, set, deny)
						assert.Equal(t, []string{"k"}, tr.HingeKeys(deny, !deny))
						assert.Nil(t, tr.HingeKeys(!deny, deny))
					}
				}
			}
		}
	}
	never := Condition{Name: "Null", Key: "k", Never: true}
	var tr Trace
	assert.Equal(t, No, (&Statement{Conds: []Condition{never}}).conditionsMatch(ctx, AllKeys, &tr), "an Allow under an operator that never matches")
	assert.Equal(t, Yes, (&Statement{Deny: true, Conds: []Condition{never}}).conditionsMatch(ctx, AllKeys, &tr), "a Deny under one applies")
	assert.True(t, tr.DenyUndecidable)

	c, _, _ := CompileCondition(OpStringEquals, false, "k", []string{"x"})
	c.Class = 1
	assert.Equal(t, No, (&Statement{Conds: []Condition{c}}).conditionsMatch(ctx, 2, &tr), "a key the action does not supply is absent")

	// the three-valued connectives
	assert.Equal(t, No, Maybe.And(No))
	assert.Equal(t, Maybe, Maybe.And(Yes))
	assert.Equal(t, Yes, Maybe.Or(Yes))
	assert.Equal(t, Maybe, Maybe.Or(No))
}

// TestEvalMatchAndTwoValuedEvalStatements: EvalStatements errs toward
// denial with a Deny that maybe applies and never allows on a maybe.
func TestEvalMatchAndTwoValuedEvalStatements(t *testing.T) {
	c, _, _ := CompileCondition(OpIPAddress, false, "acs:SourceIp", []string{"10.0.0.0/8"})
	all := []Glob{CompileGlob("*", true)}
	stmts := []Statement{
		{Actions: all, Resources: all, Conds: []Condition{c}},
		{Deny: true, Actions: all, Resources: all, Conds: []Condition{c}},
	}
	ctx := Context{}
	ctx.SetUnknown("acs:SourceIp")
	var tr Trace
	var p Principal
	m := EvalMatch(stmts, Action{Name: "kms:Decrypt"}, "r", &p, ctx, &tr)
	assert.Equal(t, Match{Allow: -1, Deny: -1, MaybeAllow: 0, MaybeDeny: 1}, m)
	assert.Equal(t, Maybe, m.Allows())
	assert.Equal(t, Maybe, m.Denies())
	allow, deny := EvalStatements(stmts, Action{Name: "kms:Decrypt"}, "r", &p, ctx, &tr)
	assert.Equal(t, -1, allow)
	assert.Equal(t, 1, deny)
}

func TestConditionDescribe(t *testing.T) {
	tests := []struct {
		op     Op
		negate bool
		set    SetQuantifier
		name   string
		values []string
		want   string
	}{
		{OpBool, false, SetNone, "Bool", []string{"true"}, "k is true (Bool)"},
		{OpIPAddress, true, SetNone, "NotIpAddress", []string{"10.0.0.0/8", "192.168.0.0/16"}, "k is not in any of 10.0.0.0/8, 192.168.0.0/16 (NotIpAddress)"},
		{OpStringEquals, false, SetNone, "StringEquals", []string{"a", "b"}, "k is one of a, b (StringEquals)"},
		{OpStringEquals, true, SetNone, "StringNotEquals", []string{"a"}, "k is not a (StringNotEquals)"},
		{OpStringLike, false, SetForAnyValue, "ForAnyValue:StringMatch", []string{"a*"}, "k has a value that matches a* (ForAnyValue:StringMatch)"},
		{OpDateLessThan, false, SetNone, "DateLessThan", []string{"2030-01-01"}, "k is before 2030-01-01 (DateLessThan)"},
	}
	for _, tt := range tests {
		c, bad, _ := CompileCondition(tt.op, tt.negate, "k", tt.values)
		require.Equal(t, -1, bad)
		c.Name, c.Set = tt.name, tt.set
		assert.Equal(t, tt.want, c.Describe())
	}
}
