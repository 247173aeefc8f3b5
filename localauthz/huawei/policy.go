package huawei

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/localauthz/core"
)

// This file is the Huawei Cloud dialect's parser: it validates identity
// policies (Version "5.0" and legacy "1.1"), service control policies and
// KMS resource policies, and compiles them into the core's
// compiledStatement (statement.go, condition.go) like the RAM parser does.

// Default size limits of Huawei Cloud policy documents, in bytes.
const (
	// DefaultMaxIdentityPolicySize is the IAM limit for a custom
	// policy document (6,144 characters; counted here in bytes).
	DefaultMaxIdentityPolicySize = 6144
	// DefaultMaxSCPSize is assumed equal to the identity policy limit.
	DefaultMaxSCPSize = 6144
	// DefaultMaxResourcePolicySize is assumed equal to the Alibaba
	// key policy limit (no Huawei KMS limit is published).
	DefaultMaxResourcePolicySize = 32768
)

// huaweiOperators are the base operators (without ForAnyValue:,
// ForAllValues: or IfExists) of the IAM 5.0 / Organizations operator
// table: those every dialect shares (core.Operators) and Huawei's own.
// Its StringLike is a substring test and StringMatch the glob, its
// numbers are Number* (Alibaba RAM's StringLike is the glob).
var huaweiOperators = core.Operators(map[string]core.OperatorSpec{
	"StringMatch":             {Op: core.OpStringLike},
	"StringNotMatch":          {Op: core.OpStringLike, Negate: true},
	"StringLike":              {Op: core.OpStringContains},
	"StringNotLike":           {Op: core.OpStringContains, Negate: true},
	"StringStartWith":         {Op: core.OpStringStartWith},
	"StringNotStartWith":      {Op: core.OpStringStartWith, Negate: true},
	"StringEndWith":           {Op: core.OpStringEndWith},
	"StringNotEndWith":        {Op: core.OpStringEndWith, Negate: true},
	"NumberEquals":            {Op: core.OpNumericEquals},
	"NumberNotEquals":         {Op: core.OpNumericEquals, Negate: true},
	"NumberLessThan":          {Op: core.OpNumericLessThan},
	"NumberLessThanEquals":    {Op: core.OpNumericLessThanEquals},
	"NumberGreaterThan":       {Op: core.OpNumericGreaterThan},
	"NumberGreaterThanEquals": {Op: core.OpNumericGreaterThanEquals},
})

// Operators returns the base condition operators of the Huawei
// dialect; each also exists with the IfExists suffix and the ForAnyValue:
// and ForAllValues: prefixes.
func Operators() []string {
	return slices.Sorted(maps.Keys(huaweiOperators))
}

// huaweiOpSpec is an operator name taken apart.
type huaweiOpSpec struct {
	base     string
	set      core.SetQuantifier
	ifExists bool
	known    bool
	core.OperatorSpec
}

func splitHuaweiOperator(name string) huaweiOpSpec {
	sp := huaweiOpSpec{base: name}
	switch {
	case strings.HasPrefix(sp.base, "ForAnyValue:"):
		sp.set, sp.base = core.SetForAnyValue, sp.base[len("ForAnyValue:"):]
	case strings.HasPrefix(sp.base, "ForAllValues:"):
		sp.set, sp.base = core.SetForAllValues, sp.base[len("ForAllValues:"):]
	}
	if b, ok := strings.CutSuffix(sp.base, "IfExists"); ok && b != "" {
		sp.base, sp.ifExists = b, true
	}
	sp.OperatorSpec, sp.known = huaweiOperators[sp.base]
	return sp
}

// ParsePolicy parses, validates and compiles a Huawei Cloud policy
// document of the given kind ([IdentityPolicy], [SCP] or
// [ResourcePolicy]). Errors are *[PolicyError] values naming the
// offending element by JSON path; ParsePolicy never panics.
//
// The grammar: Version "5.0" (identity policies also "1.1"); Statement as
// an array of statements (one object is accepted too); per statement Sid,
// Effect, Action or NotAction, Resource or NotResource (optional, default
// "*"), Condition, and for resource policies Principal {"IAM": [...]}.
// Element and operator names are case-sensitive. An operator the dialect
// does not know (such as the AWS spelling NumericLessThan) is accepted and
// never matches; [Lint] reports it.
func ParsePolicy(doc []byte, kind PolicyKind, opts ...ParseOption) (*Policy, error) {
	if !validKind(kind) {
		return nil, core.DocErrors{}.Invalid("", -1, "policy kind "+strconv.Quote(string(kind))+" is not a Huawei Cloud policy kind", "identity, scp or resource")
	}
	maxSize := DefaultMaxResourcePolicySize
	switch kind {
	case IdentityPolicy:
		maxSize = DefaultMaxIdentityPolicySize
	case SCP:
		maxSize = DefaultMaxSCPSize
	}
	return core.Parse(doc, kind, maxSize, opts,
		func(ef core.DocErrors, root core.Value) (core.Document, error) {
			d := huaweiDecoder{ef: ef, kind: kind}
			return d.policy(root)
		},
		func(pd *core.Document, s *core.StatementDoc) core.Statement {
			return compileHuaweiStatement(s, kind, pd.Version)
		})
}

type huaweiDecoder struct {
	ef      core.DocErrors
	kind    PolicyKind
	version string
}

var (
	huaweiTopElements       = []string{"Version", "Statement"}
	huaweiStatementElements = []string{"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "Condition"}
)

func (d *huaweiDecoder) unknown(path string, m core.Member, known []string) error {
	p := core.JoinKey(path, m.Key)
	switch m.Key {
	case "NotPrincipal":
		return d.ef.Unsupported(p, m.KeyOff, "Huawei Cloud policies do not support NotPrincipal", "Principal")
	case "Id":
		return d.ef.Unsupported(p, m.KeyOff, "Huawei Cloud policies have no Id element", "one of "+strings.Join(known, ", "))
	}
	return core.UnknownElement(d.ef, path, m, known)
}

func (d *huaweiDecoder) versions() string {
	if d.kind == IdentityPolicy {
		return `"5.0" (or the legacy "1.1")`
	}
	return `"5.0"`
}

func (d *huaweiDecoder) policy(root core.Value) (core.Document, error) {
	return core.DecodeDocument(d.ef, root, core.DocumentGrammar{
		Version: func(v core.Value) error {
			if v.Kind == core.KindString && (v.S == "5.0" || v.S == "1.1" && d.kind == IdentityPolicy) {
				d.version = v.S
				return nil
			}
			problem := "unsupported version " + core.Describe(v)
			if v.Kind == core.KindString && v.S == "1.1" {
				problem = "a " + string(d.kind) + " policy cannot use the legacy version \"1.1\""
			}
			return d.ef.Invalid("Version", v.Off, problem, d.versions())
		},
		VersionExpected:   `"Version": ` + d.versions(),
		StatementExpected: "an array of statements",
		Unknown:           func(m core.Member) error { return d.unknown("", m, huaweiTopElements) },
		Statement:         d.statement,
	})
}

// statement decodes one statement of the Huawei grammar. Unlike Alibaba
// RAM it has NotResource (not in SCPs, resource policies or 1.1) and an
// optional Resource (default "*"), legacy 1.1 policies have no NotAction,
// Sids are not limited, and only resource policies name principals, as
// IAM identities.
func (d *huaweiDecoder) statement(path string, v core.Value) (core.StatementDoc, error) {
	s := core.StatementDoc{Path: path}
	if v.Kind != core.KindObject {
		return s, d.ef.Invalid(path, v.Off, "statement is a JSON "+v.Kind.String(), "an object with Effect and Action")
	}
	legacy := d.version == "1.1"
	seenPrincipal := false
	var err error
	for i := range v.Obj {
		m := &v.Obj[i]
		p := core.JoinKey(path, m.Key)
		if m.Key == "NotAction" && legacy && s.Actions == nil {
			return s, d.ef.Unsupported(p, m.KeyOff, "legacy 1.1 policies do not support NotAction", "Action (or Version \"5.0\")")
		}
		// Sid, Effect, Action, NotAction; Huawei does not limit Sids
		if common, err := core.CommonElement(d.ef, &s, p, m, core.StatementGrammar{CheckAction: checkHuaweiAction}); common {
			if err != nil {
				return s, err
			}
			continue
		}
		switch m.Key {
		case "Resource", "NotResource":
			if s.HasResource {
				return s, d.ef.Invalid(p, m.KeyOff, "both Resource and NotResource", "at most one of Resource or NotResource")
			}
			if m.Key == "NotResource" {
				switch {
				case legacy:
					return s, d.ef.Unsupported(p, m.KeyOff, "legacy 1.1 policies do not support NotResource", "Resource (or Version \"5.0\")")
				case d.kind == SCP:
					return s, d.ef.Unsupported(p, m.KeyOff, "service control policies do not support NotResource", "Resource")
				case d.kind == ResourcePolicy:
					return s, d.ef.Unsupported(p, m.KeyOff, "resource policies do not support NotResource", "Resource")
				}
			}
			if s.Resources, err = core.CheckedList(d.ef, p, m.Val, "resource", checkHuaweiResource); err != nil {
				return s, err
			}
			s.ResourcesArray, s.HasResource = m.Val.Kind == core.KindArray, true
			s.NotResource = m.Key == "NotResource"
		case "Principal":
			if d.kind != ResourcePolicy {
				return s, d.ef.Invalid(p, m.KeyOff, "Principal is not allowed in a "+string(d.kind)+" policy", "no Principal (only resource policies name principals)")
			}
			list, err := core.PrincipalElement(d.ef, p, m.Val, "IAM",
				`{"IAM": ["<account-id>" | "iam::<account-id>:user:<name>" | "iam::<account-id>:agency:<name>", ...]}`,
				"IAM", checkHuaweiPolicyPrincipal)
			if err != nil {
				return s, err
			}
			s.Principals, s.PrincipalOf, seenPrincipal = list, "IAM", true
		case "Condition":
			if s.Conds, err = core.ConditionElement(d.ef, p, m.Val, `["<value>", ...]`, "g:CurrentTime or kms:EncryptionAlgorithm", d.operator); err != nil {
				return s, err
			}
		default:
			return s, d.unknown(path, *m, huaweiStatementElements)
		}
	}
	if err := core.RequireCommon(d.ef, path, v.Off, &s); err != nil {
		return s, err
	}
	if !seenPrincipal && d.kind == ResourcePolicy {
		return s, d.ef.MissingElement(path, "Principal", v.Off, `"Principal": {"IAM": ["<account-id>", ...]}`)
	}
	return s, nil
}

func huaweiSegmentChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '*' || c == '?'
}

// checkHuaweiAction returns what was expected, or "" when a is valid: "*",
// or service:type:operation (the type may be empty, kms::getQuota); a
// pattern with '*' may have fewer segments ("kms:*").
func checkHuaweiAction(a string) string {
	const exp = `"*" or "<service>:<type>:<operation>", for example "kms:cmk:decryptData"`
	if a == "*" {
		return ""
	}
	segs := strings.Split(a, ":")
	if len(segs) > 3 || len(segs) < 2 || segs[0] == "" || segs[len(segs)-1] == "" {
		return exp
	}
	if len(segs) == 2 && !strings.Contains(a, "*") {
		return exp
	}
	for i := 0; i < len(a); i++ {
		if a[i] != ':' && !huaweiSegmentChar(a[i]) {
			return exp
		}
	}
	return ""
}

// checkHuaweiResource returns what was expected, or "" when r is valid: "*"
// or a URN <service>:<region>:<account-id>:<type>:<path> (the path may
// contain ':').
func checkHuaweiResource(r string) string {
	const exp = `"*" or a URN <service>:<region>:<account-id>:<type>:<path>, for example "kms:*:<account-id>:KeyId:*"`
	if r == "*" {
		return ""
	}
	if _, ok := parseURN(r); !ok || strings.ContainsAny(r, " \t\r\n") {
		return exp
	}
	return ""
}

// checkHuaweiPolicyPrincipal checks an entry of Principal.IAM (see
// [core.PrincipalElement]).
func checkHuaweiPolicyPrincipal(s string) (problem, expected string) {
	if _, ok := parseHuaweiPolicyPrincipal(s); ok {
		return "", ""
	}
	return "invalid principal " + strconv.Quote(s), "an account ID, iam::<account-id>:user:<name> or iam::<account-id>:agency:<name>"
}

func validOperatorName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == ':') {
			return false
		}
	}
	return true
}

// operator resolves a Huawei operator (see [core.ConditionElement]):
// any well-formed name is accepted, and one the dialect does not know is
// compiled to never match (Alibaba RAM rejects it); Lint reports it.
func (d *huaweiDecoder) operator(opPath string, m core.Member) (core.OperatorSpec, bool, error) {
	if !validOperatorName(m.Key) {
		return core.OperatorSpec{}, false, d.ef.Invalid(opPath, m.KeyOff, "invalid condition operator "+strconv.Quote(m.Key), "an operator such as StringEquals, StringMatch, NumberLessThan or ForAnyValue:StringEqualsIfExists")
	}
	sp := splitHuaweiOperator(m.Key)
	return sp.OperatorSpec, sp.known, nil
}

// compileHuaweiCondition compiles a validated condition. An unknown
// operator, or one whose value type differs from the key's, never matches.
func compileHuaweiCondition(cd *core.ConditionDoc) core.Condition {
	sp := splitHuaweiOperator(cd.Op)
	if !sp.known {
		return core.Condition{Name: cd.Op, Key: cd.Key, Never: true}
	}
	c, _, _ := core.CompileCondition(sp.Op, sp.Negate, cd.Key, cd.Values)
	c.Name, c.IfExists, c.Set = cd.Op, sp.ifExists, sp.set
	if kt, ok := huaweiKeyType(cd.Key); ok && kt != sp.Op.ValueType() {
		c.Never = true
	}
	return c
}

// compileHuaweiStatement turns a validated statement into the core form.
func compileHuaweiStatement(s *core.StatementDoc, kind PolicyKind, version string) core.Statement {
	c := core.Statement{Deny: s.Effect == "Deny", NotAction: s.NotAction, NotResource: s.NotResource, StrictStar: true, ActionMode: core.ActionWithAlias}
	legacy := version == "1.1"
	if legacy {
		c.ActionMode = core.ActionLegacyOnly
	}
	c.Actions = core.CompileGlobs(s.Actions, true)
	resources := s.Resources
	if !s.HasResource {
		resources = []string{"*"}
	}
	c.Resources = make([]core.Glob, len(resources))
	for i, r := range resources {
		if legacy {
			if svc, rest, ok := strings.Cut(r, ":"); ok && svc != "" && !strings.ContainsAny(svc, "*?") {
				if c.ResourceSvc == nil {
					c.ResourceSvc = make([]string, len(resources))
				}
				c.ResourceSvc[i] = core.ASCIILower(svc)
				c.Resources[i] = core.CompileGlob(rest, false)
				continue
			}
		}
		c.Resources[i] = core.CompileGlob(r, false)
	}
	if kind == ResourcePolicy {
		c.Principals = make([]core.Principal, 0, len(s.Principals))
		for _, ps := range s.Principals {
			p, _ := parseHuaweiPolicyPrincipal(ps)
			c.Principals = append(c.Principals, p)
		}
	}
	for i := range s.Conds {
		c.Conds = append(c.Conds, compileHuaweiCondition(&s.Conds[i]))
	}
	return c
}
