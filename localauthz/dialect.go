package localauthz

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// Dialect is a cloud's policy language. The evaluator core is shared; each
// dialect has its own parser, operator table, catalogue and evaluation
// flow.
type Dialect string

const (
	// DialectAlibaba is Alibaba Cloud RAM with KMS key and secret policies.
	DialectAlibaba Dialect = "alibaba"
	// DialectHuawei is Huawei Cloud IAM (identity policies 5.0 and legacy
	// 1.1), Organizations SCPs and KMS resource policies.
	DialectHuawei Dialect = "huawei"
)

// Values returns every Dialect.
func (Dialect) Values() []Dialect { return []Dialect{DialectAlibaba, DialectHuawei} }

// ParseDialect accepts a dialect name: "alibaba" (also "aliyun", "ram") or
// "huawei" (also "huaweicloud"), in any case.
func ParseDialect(s string) (Dialect, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "alibaba", "aliyun", "alibabacloud", "ram":
		return DialectAlibaba, true
	case "huawei", "huaweicloud":
		return DialectHuawei, true
	}
	return "", false
}

// Dialect returns the dialect of a policy kind, or "" for an unknown kind.
func (k PolicyKind) Dialect() Dialect {
	switch k {
	case RAMPolicy, KeyPolicy, SecretPolicy:
		return DialectAlibaba
	case HuaweiIdentityPolicy, HuaweiSCP, HuaweiResourcePolicy:
		return DialectHuawei
	}
	return ""
}

// DetectPolicy guesses the dialect and kind of a policy document that
// arrives without them. Huawei Cloud: Version "5.0" or "1.1", a Principal
// of type "IAM", or actions of the form service:type:operation (two
// colons); the kind is [HuaweiResourcePolicy] when a statement has a
// Principal, else [HuaweiIdentityPolicy] (an SCP looks like an identity
// policy and must be named). Otherwise Alibaba Cloud: [KeyPolicy] when a
// statement has a Principal, else [RAMPolicy]. A document that is not JSON
// yields Alibaba Cloud RAM, whose parser then names the problem.
func DetectPolicy(doc []byte) (Dialect, PolicyKind) {
	var probe struct {
		Version   json.RawMessage
		Statement json.RawMessage
	}
	if json.Unmarshal(doc, &probe) != nil {
		return DialectAlibaba, RAMPolicy
	}
	hasPrincipal := bytes.Contains(probe.Statement, []byte(`"Principal"`))
	if huaweiDocument(probe.Version, probe.Statement) {
		if hasPrincipal {
			return DialectHuawei, HuaweiResourcePolicy
		}
		return DialectHuawei, HuaweiIdentityPolicy
	}
	if hasPrincipal {
		return DialectAlibaba, KeyPolicy
	}
	return DialectAlibaba, RAMPolicy
}

// huaweiDocument reports whether a policy's Version and Statement look
// like Huawei Cloud's.
func huaweiDocument(version, statement json.RawMessage) bool {
	var v string
	if json.Unmarshal(version, &v) == nil {
		switch v {
		case "5.0", "1.1":
			return true
		case "1":
			return false
		}
	}
	var stmts []map[string]json.RawMessage
	if json.Unmarshal(statement, &stmts) != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(statement, &one) != nil {
			return false
		}
		stmts = append(stmts, one)
	}
	for _, st := range stmts {
		var pr map[string]json.RawMessage
		if json.Unmarshal(st["Principal"], &pr) == nil {
			if _, ok := pr["IAM"]; ok {
				return true
			}
		}
		for _, elem := range []string{"Action", "NotAction"} {
			for _, a := range rawStrings(st[elem]) {
				if looksHuaweiAction(a) {
					return true
				}
			}
		}
	}
	return false
}

// looksHuaweiAction reports whether a is written service:type:operation
// (kms:cmk:decryptData, kms::getQuota), which RAM actions never are.
func looksHuaweiAction(a string) bool {
	return strings.Count(a, ":") == 2 && !strings.HasPrefix(a, "acs:")
}

// rawStrings decodes a string or an array of strings; anything else is nil.
func rawStrings(raw json.RawMessage) []string {
	if len(raw) == 0 {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var list []string
	_ = json.Unmarshal(raw, &list)
	return list
}

func dialectError(kind PolicyKind, want Dialect) *PolicyError {
	exp := "ram, key or secret"
	if want == DialectHuawei {
		exp = "identity, scp or resource"
	}
	return &PolicyError{Offset: -1, Problem: "policy kind " + strconv.Quote(string(kind)) + " is not a " + string(want) + " policy kind", Expected: exp, kind: ErrInvalidPolicy}
}
