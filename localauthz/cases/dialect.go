package cases

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
	"github.com/kmsenvelope/kmsenvelope/localauthz/huawei"
)

// Dialect is a cloud's policy language: the localauthz package evaluates
// Alibaba Cloud's, the huawei package Huawei Cloud's.
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

// DialectOf returns the dialect of a policy kind, or "" for an unknown kind.
func DialectOf(k core.PolicyKind) Dialect {
	for _, a := range localauthz.PolicyKinds() {
		if k == a {
			return DialectAlibaba
		}
	}
	for _, h := range huawei.PolicyKinds() {
		if k == h {
			return DialectHuawei
		}
	}
	return ""
}

// PolicyKinds returns every policy kind, Alibaba Cloud's then Huawei
// Cloud's.
func PolicyKinds() []core.PolicyKind {
	return append(localauthz.PolicyKinds(), huawei.PolicyKinds()...)
}

// ParsePolicy parses a document of any kind with its dialect's parser.
func ParsePolicy(doc []byte, kind core.PolicyKind, opts ...core.ParseOption) (*core.Policy, error) {
	if DialectOf(kind) == DialectHuawei {
		return huawei.ParsePolicy(doc, kind, opts...)
	}
	return localauthz.ParsePolicy(doc, kind, opts...)
}

// Lint lints a policy of either dialect.
func Lint(p *core.Policy) []core.Finding {
	if DialectOf(p.Kind()) == DialectHuawei {
		return huawei.Lint(p)
	}
	return localauthz.Lint(p)
}

// LintDocument parses and lints a document of any kind with its dialect's
// linter.
func LintDocument(doc []byte, kind core.PolicyKind, opts ...core.ParseOption) []core.Finding {
	if DialectOf(kind) == DialectHuawei {
		return huawei.LintDocument(doc, kind, opts...)
	}
	return localauthz.LintDocument(doc, kind, opts...)
}

// DetectPolicy guesses the dialect and kind of a policy document that
// arrives without them. Huawei Cloud: Version "5.0" or "1.1", a Principal
// of type "IAM", or actions of the form service:type:operation (two
// colons); the kind is huawei.ResourcePolicy when a statement has a
// Principal, else huawei.IdentityPolicy (an SCP looks like an identity
// policy and must be named). Otherwise Alibaba Cloud: localauthz.KeyPolicy
// when a statement has a Principal, else localauthz.RAMPolicy. A document
// that is not JSON yields Alibaba Cloud RAM, whose parser then names the
// problem.
func DetectPolicy(doc []byte) (Dialect, core.PolicyKind) {
	var probe struct {
		Version   json.RawMessage
		Statement json.RawMessage
	}
	if json.Unmarshal(doc, &probe) != nil {
		return DialectAlibaba, localauthz.RAMPolicy
	}
	hasPrincipal := bytes.Contains(probe.Statement, []byte(`"Principal"`))
	if huaweiDocument(probe.Version, probe.Statement) {
		if hasPrincipal {
			return DialectHuawei, huawei.ResourcePolicy
		}
		return DialectHuawei, huawei.IdentityPolicy
	}
	if hasPrincipal {
		return DialectAlibaba, localauthz.KeyPolicy
	}
	return DialectAlibaba, localauthz.RAMPolicy
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

// looksHuaweiPrincipal reports whether s is written like a Huawei Cloud
// principal URN (iam:: or sts::).
func looksHuaweiPrincipal(s string) bool {
	return strings.HasPrefix(s, "iam::") || strings.HasPrefix(s, "sts::")
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
