package huawei_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/localauthz/huawei"
)

// TestHuaweiUnknownKeyEveryOperator: every base operator, with IfExists
// and the set quantifiers, on a key the client does not know makes an
// Allow Conditional and a Deny over an Allow Conditional; an operator the
// dialect does not know (Null) never matches, known key or not.
func TestHuaweiUnknownKeyEveryOperator(t *testing.T) {
	values := map[string]string{"String": "x", "Number": "1", "Date": "2026-01-01T00:00:00Z", "Bool": "true", "IpAddress": "10.0.0.0/8", "NotIpAddress": "10.0.0.0/8"}
	valueOf := func(op string) string {
		for prefix, v := range values {
			if len(op) >= len(prefix) && op[:len(prefix)] == prefix {
				return v
			}
		}
		return "x"
	}
	unknown := huawei.Context{}
	unknown.SetUnknown("x:key")
	const action = `"kms:cmk:encryptData"`
	req := huawei.Request{Principal: hwAlice, Action: "kms:cmk:encryptData", Resource: hwKey, Context: unknown}
	n := 0
	for _, base := range huawei.Operators() {
		for _, op := range []string{base, base + "IfExists", "ForAnyValue:" + base, "ForAllValues:" + base, "ForAllValues:" + base + "IfExists"} {
			cond := `{"` + op + `":{"x:key":["` + valueOf(base) + `"]}}`
			set := hwSet(t, "identity", "", allowDoc(action, `"*"`, cond))
			d := set.Evaluate(req)
			assert.Equal(t, huawei.Conditional, d.Effect, op)
			assert.Equal(t, []string{"x:key"}, d.ConditionKeys, op)

			deny := `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":[` + action + `],"Resource":["*"]},{"Effect":"Deny","Action":["kms:*:*"],"Resource":["*"],"Condition":` + cond + `}]}`
			d = hwSet(t, "identity", "", deny).Evaluate(req)
			assert.Equal(t, huawei.Conditional, d.Effect, "deny "+op)

			onlyDeny := `{"Version":"5.0","Statement":[{"Effect":"Deny","Action":["kms:*:*"],"Resource":["*"],"Condition":` + cond + `}]}`
			assert.Equal(t, huawei.ImplicitDeny, hwSet(t, "identity", "", onlyDeny).Evaluate(req).Effect, "deny alone "+op)
			n++
		}
	}
	assert.Equal(t, 5*len(huawei.Operators()), n)

	// Null is not a Huawei operator: it never matches, so an Allow under it
	// fails and a Deny under it applies, whatever the key
	d := hwSet(t, "identity", "", allowDoc(action, `"*"`, `{"Null":{"x:key":["true"]}}`)).Evaluate(req)
	assert.Equal(t, huawei.ImplicitDeny, d.Effect)
	assert.Empty(t, d.ConditionKeys)
	d = hwSet(t, "identity", "", `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":[`+action+`]},{"Effect":"Deny","Action":[`+action+`],"Condition":{"Null":{"x:key":["true"]}}}]}`).Evaluate(req)
	assert.Equal(t, huawei.ExplicitDeny, d.Effect)
}

// TestHuaweiUnknownKeySCPAndCrossAccount: an SCP level that only maybe
// allows, or an SCP Deny that maybe applies, makes the unit Conditional;
// across accounts both sides must allow.
func TestHuaweiUnknownKeySCPAndCrossAccount(t *testing.T) {
	unknown := huawei.Context{}
	unknown.SetUnknown("g:SourceIp")
	ipCond := `{"IpAddress":{"g:SourceIp":["10.0.0.0/8"]}}`
	id := allowDoc(`["kms:cmk:*"]`, "", "")
	idMaybe := allowDoc(`["kms:cmk:*"]`, "", ipCond)
	scpMaybe := allowDoc(`["kms:*:*"]`, "", ipCond)
	scpDenyMaybe := `{"Version":"5.0","Statement":[{"Effect":"Allow","Action":["*:*:*"]},{"Effect":"Deny","Action":["kms:*:*"],"Condition":{"NotIpAddress":{"g:SourceIp":["10.0.0.0/8"]}}}]}`
	other := "iam::" + hwOther + ":user:bob"
	resMaybe := `{"Version":"5.0","Statement":[{"Effect":"Allow","Principal":{"IAM":["` + hwOther + `"]},"Action":["kms:cmk:decryptData"],"Condition":` + ipCond + `}]}`
	tests := []struct {
		name      string
		set       *huawei.PolicySet
		principal string
		want      huawei.Effect
		missing   []huawei.Where
	}{
		{"scp level maybe", hwSet(t, "identity", "", id, "scp", "root", scpMaybe), hwAlice, huawei.Conditional, nil},
		{"scp deny maybe", hwSet(t, "identity", "", id, "scp", "root", scpDenyMaybe), hwAlice, huawei.Conditional, nil},
		{"scp maybe, identity none", hwSet(t, "scp", "root", scpMaybe), hwAlice, huawei.ImplicitDeny, []huawei.Where{huawei.WhereIdentity}},
		{"identity maybe", hwSet(t, "identity", "", idMaybe), hwAlice, huawei.Conditional, nil},
		{"cross: identity allows, resource maybe", hwSet(t, "identity", "", id, "resource", hwKey, resMaybe), other, huawei.Conditional, nil},
		{"cross: identity maybe, resource none", hwSet(t, "identity", "", idMaybe), other, huawei.ImplicitDeny, []huawei.Where{huawei.WhereResource}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.set.Evaluate(huawei.Request{Principal: tt.principal, Action: "kms:cmk:decryptData", Resource: hwKey, Context: unknown})
			assert.Equal(t, tt.want, d.Effect)
			if tt.want == huawei.Conditional {
				assert.Equal(t, []string{"g:SourceIp"}, d.ConditionKeys)
			}
			var wheres []huawei.Where
			for _, m := range d.Missing {
				wheres = append(wheres, m.Where)
			}
			assert.Equal(t, tt.missing, wheres)
		})
	}
}

func TestHuaweiUnmetConditionGetsNoGrant(t *testing.T) {
	set := hwSet(t, "identity", "", allowDoc(`["kms:cmk:decryptData"]`, "", `{"Bool":{"g:MFAPresent":["true"]}}`))
	d := set.Evaluate(huawei.Request{Principal: hwAlice, Action: "kms:cmk:decryptData", Resource: hwKey, Context: huawei.Context{"g:MFAPresent": {"false"}}})
	require.Equal(t, huawei.ImplicitDeny, d.Effect)
	require.Len(t, d.Unmet, 1)
	assert.Equal(t, "identity[0] Statement[0] allows it when g:MFAPresent is true (Bool); the request has false", d.Unmet[0].String())
	assert.Empty(t, huawei.SuggestGrants(hwAlice, d.Missing, d.Unmet...))
}
