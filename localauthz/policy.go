package localauthz

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

// The Alibaba Cloud policy kinds.
const (
	// RAMPolicy is a RAM identity policy attached to a user or role.
	RAMPolicy PolicyKind = "ram"
	// KeyPolicy is a KMS key policy (keys in a KMS instance only).
	KeyPolicy PolicyKind = "key"
	// SecretPolicy is a KMS secret policy.
	SecretPolicy PolicyKind = "secret"
)

// PolicyKinds returns the Alibaba Cloud policy kinds.
func PolicyKinds() []PolicyKind { return []PolicyKind{RAMPolicy, KeyPolicy, SecretPolicy} }

func validKind(k PolicyKind) bool { return k == RAMPolicy || k == KeyPolicy || k == SecretPolicy }

// Default size limits, in bytes of the JSON document.
const (
	// DefaultMaxRAMPolicySize is the RAM limit for a custom policy document
	// (6,144 characters per the RAM CreatePolicy reference; counted here in
	// bytes, which is stricter for non-ASCII text).
	DefaultMaxRAMPolicySize = 6144
	// DefaultMaxKeyPolicySize is the KMS key policy limit (seed 004).
	DefaultMaxKeyPolicySize = 32768
	// DefaultMaxSecretPolicySize is assumed equal to the key policy limit.
	DefaultMaxSecretPolicySize = 32768
)

// ParsePolicy parses, validates and compiles a policy document of the given
// kind. Errors are *[PolicyError] values naming the offending element by
// JSON path; ParsePolicy never panics.
//
// The grammar is Alibaba Cloud RAM's: Version "1"; Statement as one object
// or an array; per statement Sid, Effect, Action or NotAction, Resource,
// Principal (key and secret policies only, {"RAM": [...]}) and Condition.
// Element and operator names are case-sensitive.
//
// Huawei Cloud policies are parsed by the huawei package.
func ParsePolicy(doc []byte, kind PolicyKind, opts ...ParseOption) (*Policy, error) {
	if !validKind(kind) {
		return nil, core.DocErrors{}.Invalid("", -1, "unknown policy kind "+strconv.Quote(string(kind)), "ram, key or secret (Huawei Cloud kinds are parsed by the huawei package)")
	}
	maxSize := DefaultMaxSecretPolicySize
	switch kind {
	case RAMPolicy:
		maxSize = DefaultMaxRAMPolicySize
	case KeyPolicy:
		maxSize = DefaultMaxKeyPolicySize
	}
	return core.Parse(doc, kind, maxSize, opts,
		func(ef core.DocErrors, root core.Value) (core.Document, error) {
			d := decoder{ef: ef, kind: kind}
			return d.policy(root)
		},
		func(_ *core.Document, s *core.StatementDoc) core.Statement { return compileStatement(s, kind) })
}

// MustParsePolicy is like [ParsePolicy] but panics on error; for tests and
// package-level variables holding literal policies.
func MustParsePolicy(doc string, kind PolicyKind, opts ...ParseOption) *Policy {
	p, err := ParsePolicy([]byte(doc), kind, opts...)
	if err != nil {
		panic(err)
	}
	return p
}

type decoder struct {
	ef   core.DocErrors
	kind PolicyKind
}

var (
	topElements       = []string{"Version", "Statement"}
	statementElements = []string{"Sid", "Effect", "Action", "NotAction", "Resource", "Principal", "Condition"}
	// elements of other policy languages that RAM rejects
	unsupportedElements = map[string]string{
		"Id":           "RAM policies have no Id element",
		"NotResource":  "RAM does not support NotResource",
		"NotPrincipal": "RAM does not support NotPrincipal",
	}
)

func (d *decoder) unknown(path string, m core.Member, known []string) error {
	if why, ok := unsupportedElements[m.Key]; ok {
		return d.ef.Unsupported(core.JoinKey(path, m.Key), m.KeyOff, why, "one of "+strings.Join(known, ", "))
	}
	return core.UnknownElement(d.ef, path, m, known)
}

func (d *decoder) policy(root core.Value) (core.Document, error) {
	return core.DecodeDocument(d.ef, root, core.DocumentGrammar{
		Version: func(v core.Value) error {
			if v.Kind == core.KindString && v.S == "1" {
				return nil
			}
			got := "a " + v.Kind.String()
			if v.Kind == core.KindString {
				got = strconv.Quote(v.S)
			}
			return d.ef.Invalid("Version", v.Off, "unsupported version "+got, `the string "1"`)
		},
		VersionExpected:   `"Version": "1"`,
		StatementExpected: "a statement object or an array of them",
		Unknown:           func(m core.Member) error { return d.unknown("", m, topElements) },
		Statement:         d.statement,
	})
}

// statement decodes one statement of the RAM grammar. Unlike Huawei IAM,
// RAM has no NotResource and requires Resource, and key and secret
// policies require a Principal naming RAM identities.
func (d *decoder) statement(path string, v core.Value) (core.StatementDoc, error) {
	s := core.StatementDoc{Path: path}
	if v.Kind != core.KindObject {
		return s, d.ef.Invalid(path, v.Off, "statement is a JSON "+v.Kind.String(), "an object with Effect, Action and Resource")
	}
	var seenResource, seenPrincipal bool
	var err error
	for i := range v.Obj {
		m := &v.Obj[i]
		p := core.JoinKey(path, m.Key)
		// Sid, Effect, Action, NotAction; RAM limits a Sid to 128 characters
		if common, err := core.CommonElement(d.ef, &s, p, m, core.StatementGrammar{MaxSid: 128, CheckAction: d.checkAction}); common {
			if err != nil {
				return s, err
			}
			continue
		}
		switch m.Key {
		case "Resource":
			if s.Resources, err = core.CheckedList(d.ef, p, m.Val, "resource", d.checkResource); err != nil {
				return s, err
			}
			s.ResourcesArray, seenResource = m.Val.Kind == core.KindArray, true
			s.HasResource = true
		case "Principal":
			if d.kind == RAMPolicy {
				return s, d.ef.Invalid(p, m.KeyOff, "Principal is not allowed in a RAM identity policy", "no Principal (the policy applies to the identity it is attached to)")
			}
			list, err := core.PrincipalElement(d.ef, p, m.Val, "RAM",
				`{"RAM": ["acs:ram::<uid>:*" | "acs:ram::<uid>:root" | "acs:ram::<uid>:user/<name>" | "acs:ram::<uid>:role/<name>", ...]}`,
				"RAM (key and secret policies name RAM identities only)", checkPolicyPrincipal)
			if err != nil {
				return s, err
			}
			s.Principals, s.PrincipalOf, seenPrincipal = list, "RAM", true
		case "Condition":
			if s.Conds, err = core.ConditionElement(d.ef, p, m.Val, `"<value>" | ["<value>", ...]`, "acs:SourceIp or kms:tag/<TagKey>", d.operator); err != nil {
				return s, err
			}
		default:
			return s, d.unknown(path, *m, statementElements)
		}
	}
	if err := core.RequireCommon(d.ef, path, v.Off, &s); err != nil {
		return s, err
	}
	switch {
	case !seenResource:
		exp := "Resource"
		if d.kind != RAMPolicy {
			exp = `"Resource": "*"`
		}
		return s, d.ef.MissingElement(path, "Resource", v.Off, exp)
	case !seenPrincipal && d.kind != RAMPolicy:
		return s, d.ef.MissingElement(path, "Principal", v.Off, `"Principal": {"RAM": ["acs:ram::<uid>:..."]}`)
	}
	return s, nil
}

// checkAction returns what was expected, or "" when a is valid.
func (d *decoder) checkAction(a string) string {
	if d.kind != RAMPolicy {
		if len(a) < 5 || !strings.EqualFold(a[:4], "kms:") {
			return `an action starting with "kms:" (key and secret policies grant KMS actions only)`
		}
	}
	if a == "*" {
		return ""
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || svc == "" || name == "" || strings.ContainsAny(a, " \t\r\n") || strings.Contains(name, ":") {
		return `"*" or "<service>:<Action>", for example "kms:Decrypt"`
	}
	for i := 0; i < len(svc); i++ {
		c := svc[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '*' || c == '?') {
			return `"*" or "<service>:<Action>", for example "kms:Decrypt"`
		}
	}
	return ""
}

func (d *decoder) checkResource(r string) string {
	if d.kind != RAMPolicy {
		if r != "*" {
			return `"*" (a key or secret policy applies to the resource it is attached to)`
		}
		return ""
	}
	if r == "*" {
		return ""
	}
	if _, ok := parseARN(r); !ok || strings.ContainsAny(r, " \t\r\n") {
		return `"*" or an ARN acs:<service>:<region>:<account>:<resource>`
	}
	return ""
}

// checkPolicyPrincipal checks an entry of Principal.RAM (see
// [core.PrincipalElement]).
func checkPolicyPrincipal(s string) (problem, expected string) {
	if _, ok := parsePolicyPrincipal(s); ok {
		return "", ""
	}
	problem = "invalid principal " + strconv.Quote(s)
	if isDigits(s) {
		problem = "bare account ID " + strconv.Quote(s) + " is not accepted"
	}
	return problem, "acs:ram::<uid>:*, acs:ram::<uid>:root, acs:ram::<uid>:user/<name> or acs:ram::<uid>:role/<name>"
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ramOperators are RAM's condition operators: those every dialect shares
// (core.Operators) and RAM's own, whose StringLike is a glob and whose
// numbers are Numeric* (Huawei's StringLike is a substring test).
var ramOperators = core.Operators(map[string]core.OperatorSpec{
	"StringLike":               {Op: core.OpStringLike},
	"StringNotLike":            {Op: core.OpStringLike, Negate: true},
	"NumericEquals":            {Op: core.OpNumericEquals},
	"NumericNotEquals":         {Op: core.OpNumericEquals, Negate: true},
	"NumericLessThan":          {Op: core.OpNumericLessThan},
	"NumericLessThanEquals":    {Op: core.OpNumericLessThanEquals},
	"NumericGreaterThan":       {Op: core.OpNumericGreaterThan},
	"NumericGreaterThanEquals": {Op: core.OpNumericGreaterThanEquals},
})

// RAMOperators returns the names of the condition operators RAM supports.
func RAMOperators() []string {
	return slices.Sorted(maps.Keys(ramOperators))
}

// operator resolves a RAM operator (see [core.ConditionElement]): RAM
// rejects the operators it does not have, ...IfExists, ForAnyValue:,
// ForAllValues: and Null included (Huawei accepts them, or accepts and
// never matches).
func (d *decoder) operator(p string, m core.Member) (core.OperatorSpec, bool, error) {
	name := m.Key
	if o, ok := ramOperators[name]; ok {
		return o, true, nil
	}
	names := RAMOperators()
	for _, prefix := range []string{"ForAnyValue:", "ForAllValues:"} {
		if strings.HasPrefix(name, prefix) {
			return core.OperatorSpec{}, false, d.ef.Unsupported(p, m.KeyOff, "RAM does not support the set operator prefix "+strconv.Quote(prefix), "a plain operator such as "+closestOr(strings.TrimPrefix(name, prefix), names))
		}
	}
	if base, ok := strings.CutSuffix(name, "IfExists"); ok {
		return core.OperatorSpec{}, false, d.ef.Unsupported(p, m.KeyOff, "RAM does not support ...IfExists operators", closestOr(base, names))
	}
	if name == "Null" {
		return core.OperatorSpec{}, false, d.ef.Unsupported(p, m.KeyOff, "RAM does not support the Null operator", "one of "+strings.Join(names, ", "))
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return core.OperatorSpec{}, false, d.ef.Invalid(p, m.KeyOff, "unknown condition operator "+strconv.Quote(name)+" (operator names are case-sensitive)", n)
		}
	}
	exp := "one of " + strings.Join(names, ", ")
	if s := core.Closest(name, names, 3); s != "" {
		exp = s + " (did you mean " + s + "?)"
	}
	return core.OperatorSpec{}, false, d.ef.Invalid(p, m.KeyOff, "unknown condition operator "+strconv.Quote(name), exp)
}

func closestOr(name string, names []string) string {
	if s := core.Closest(name, names, 3); s != "" {
		return s
	}
	return "one of " + strings.Join(names, ", ")
}

// compileStatement turns a validated statement into the core's form.
// Validation has already parsed every value, so it cannot fail.
func compileStatement(s *core.StatementDoc, kind PolicyKind) core.Statement {
	c := core.Statement{Deny: s.Effect == "Deny", NotAction: s.NotAction}
	c.Actions = core.CompileGlobs(s.Actions, true)
	if kind == RAMPolicy {
		c.Resources = core.CompileGlobs(s.Resources, false)
	} else {
		c.AccountIsRoot = true
		c.Principals = make([]core.Principal, 0, len(s.Principals))
		for _, ps := range s.Principals {
			p, _ := parsePolicyPrincipal(ps)
			c.Principals = append(c.Principals, p)
		}
	}
	for _, cd := range s.Conds {
		o := ramOperators[cd.Op]
		cond, _, _ := core.CompileCondition(o.Op, o.Negate, cd.Key, cd.Values)
		cond.Name = cd.Op
		cond.Class = conditionKeyClass(cd.Key)
		c.Conds = append(c.Conds, cond)
	}
	return c
}
