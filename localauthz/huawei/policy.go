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

// huaweiOperator is one condition operator of the Huawei table.
type huaweiOperator struct {
	op     core.Op
	negate bool
}

// huaweiOperators are the base operators (without ForAnyValue:,
// ForAllValues: or IfExists) of the IAM 5.0 / Organizations operator table.
var huaweiOperators = map[string]huaweiOperator{
	"StringEquals":              {core.OpStringEquals, false},
	"StringNotEquals":           {core.OpStringEquals, true},
	"StringEqualsIgnoreCase":    {core.OpStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {core.OpStringEqualsIgnoreCase, true},
	"StringMatch":               {core.OpStringLike, false},
	"StringNotMatch":            {core.OpStringLike, true},
	"StringLike":                {core.OpStringContains, false},
	"StringNotLike":             {core.OpStringContains, true},
	"StringStartWith":           {core.OpStringStartWith, false},
	"StringNotStartWith":        {core.OpStringStartWith, true},
	"StringEndWith":             {core.OpStringEndWith, false},
	"StringNotEndWith":          {core.OpStringEndWith, true},
	"NumberEquals":              {core.OpNumericEquals, false},
	"NumberNotEquals":           {core.OpNumericEquals, true},
	"NumberLessThan":            {core.OpNumericLessThan, false},
	"NumberLessThanEquals":      {core.OpNumericLessThanEquals, false},
	"NumberGreaterThan":         {core.OpNumericGreaterThan, false},
	"NumberGreaterThanEquals":   {core.OpNumericGreaterThanEquals, false},
	"DateEquals":                {core.OpDateEquals, false},
	"DateNotEquals":             {core.OpDateEquals, true},
	"DateLessThan":              {core.OpDateLessThan, false},
	"DateLessThanEquals":        {core.OpDateLessThanEquals, false},
	"DateGreaterThan":           {core.OpDateGreaterThan, false},
	"DateGreaterThanEquals":     {core.OpDateGreaterThanEquals, false},
	"Bool":                      {core.OpBool, false},
	"IpAddress":                 {core.OpIPAddress, false},
	"NotIpAddress":              {core.OpIPAddress, true},
}

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
	huaweiOperator
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
	sp.huaweiOperator, sp.known = huaweiOperators[sp.base]
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
	for _, k := range known {
		if strings.EqualFold(k, m.Key) {
			return d.ef.Invalid(p, m.KeyOff, "unknown element "+strconv.Quote(m.Key)+" (element names are case-sensitive)", k)
		}
	}
	exp := "one of " + strings.Join(known, ", ")
	if s := core.Closest(m.Key, known, 2); s != "" {
		exp = s + " (did you mean " + s + "?)"
	}
	return d.ef.Invalid(p, m.KeyOff, "unknown element "+strconv.Quote(m.Key), exp)
}

func (d *huaweiDecoder) versions() string {
	if d.kind == IdentityPolicy {
		return `"5.0" (or the legacy "1.1")`
	}
	return `"5.0"`
}

func (d *huaweiDecoder) policy(root core.Value) (core.Document, error) {
	var pd core.Document
	if root.Kind != core.KindObject {
		return pd, d.ef.Invalid("", root.Off, "document is a JSON "+root.Kind.String(), "a JSON object with Version and Statement")
	}
	var stmts *core.Value
	hasVersion := false
	for i := range root.Obj {
		m := &root.Obj[i]
		switch m.Key {
		case "Version":
			ok := m.Val.Kind == core.KindString && (m.Val.S == "5.0" || m.Val.S == "1.1" && d.kind == IdentityPolicy)
			if !ok {
				problem := "unsupported version " + core.Describe(m.Val)
				if m.Val.Kind == core.KindString && m.Val.S == "1.1" {
					problem = "a " + string(d.kind) + " policy cannot use the legacy version \"1.1\""
				}
				return pd, d.ef.Invalid("Version", m.Val.Off, problem, d.versions())
			}
			pd.Version, d.version = m.Val.S, m.Val.S
			hasVersion = true
		case "Statement":
			stmts = &m.Val
		default:
			return pd, d.unknown("", *m, huaweiTopElements)
		}
	}
	if !hasVersion {
		return pd, d.ef.Invalid("Version", root.Off, "missing required element", `"Version": `+d.versions())
	}
	if stmts == nil {
		return pd, d.ef.Invalid("Statement", root.Off, "missing required element", "an array of statements")
	}
	var err error
	pd.Statements, err = core.StatementList(d.ef, *stmts, "an array of statements", d.statement)
	return pd, err
}

func (d *huaweiDecoder) statement(path string, v core.Value) (core.StatementDoc, error) {
	s := core.StatementDoc{Path: path}
	if v.Kind != core.KindObject {
		return s, d.ef.Invalid(path, v.Off, "statement is a JSON "+v.Kind.String(), "an object with Effect and Action")
	}
	legacy := d.version == "1.1"
	var seenAction, seenEffect, seenPrincipal bool
	for i := range v.Obj {
		m := &v.Obj[i]
		p := core.JoinKey(path, m.Key)
		switch m.Key {
		case "Sid":
			if m.Val.Kind != core.KindString {
				return s, d.ef.Invalid(p, m.Val.Off, "Sid is a JSON "+m.Val.Kind.String(), "a string")
			}
			s.Sid, s.HasSid = m.Val.S, true
		case "Effect":
			if m.Val.Kind != core.KindString || (m.Val.S != "Allow" && m.Val.S != "Deny") {
				return s, d.ef.Invalid(p, m.Val.Off, "invalid effect "+core.Describe(m.Val), `"Allow" or "Deny"`)
			}
			s.Effect, seenEffect = m.Val.S, true
		case "Action", "NotAction":
			if seenAction {
				return s, d.ef.Invalid(p, m.KeyOff, "both Action and NotAction", "exactly one of Action or NotAction")
			}
			if m.Key == "NotAction" && legacy {
				return s, d.ef.Unsupported(p, m.KeyOff, "legacy 1.1 policies do not support NotAction", "Action (or Version \"5.0\")")
			}
			seenAction = true
			s.NotAction = m.Key == "NotAction"
			list, err := stringListOf(d.ef, p, m.Val)
			if err != nil {
				return s, err
			}
			for j, a := range list {
				if exp := checkHuaweiAction(a); exp != "" {
					return s, d.ef.Invalid(core.ElemPath(p, m.Val, j), core.ElemOff(m.Val, j), "invalid action "+strconv.Quote(a), exp)
				}
			}
			s.Actions, s.ActionsArray = list, m.Val.Kind == core.KindArray
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
			list, err := stringListOf(d.ef, p, m.Val)
			if err != nil {
				return s, err
			}
			for j, r := range list {
				if exp := checkHuaweiResource(r); exp != "" {
					return s, d.ef.Invalid(core.ElemPath(p, m.Val, j), core.ElemOff(m.Val, j), "invalid resource "+strconv.Quote(r), exp)
				}
			}
			s.Resources, s.ResourcesArray, s.HasResource = list, m.Val.Kind == core.KindArray, true
			s.NotResource = m.Key == "NotResource"
		case "Principal":
			if d.kind != ResourcePolicy {
				return s, d.ef.Invalid(p, m.KeyOff, "Principal is not allowed in a "+string(d.kind)+" policy", "no Principal (only resource policies name principals)")
			}
			list, err := d.principal(p, m.Val)
			if err != nil {
				return s, err
			}
			s.Principals, s.PrincipalOf, seenPrincipal = list, "IAM", true
		case "Condition":
			conds, err := d.condition(p, m.Val)
			if err != nil {
				return s, err
			}
			s.Conds = conds
		default:
			return s, d.unknown(path, *m, huaweiStatementElements)
		}
	}
	switch {
	case !seenEffect:
		return s, d.ef.Invalid(core.JoinKey(path, "Effect"), v.Off, "missing required element", `"Effect": "Allow" or "Deny"`)
	case !seenAction:
		return s, d.ef.Invalid(core.JoinKey(path, "Action"), v.Off, "missing required element", "Action or NotAction")
	case !seenPrincipal && d.kind == ResourcePolicy:
		return s, d.ef.Invalid(core.JoinKey(path, "Principal"), v.Off, "missing required element", `"Principal": {"IAM": ["<account-id>", ...]}`)
	}
	return s, nil
}

// stringListOf accepts a string or a non-empty array of strings.
func stringListOf(ef core.DocErrors, path string, v core.Value) ([]string, error) {
	return core.StringList(ef, path, v)
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

func (d *huaweiDecoder) principal(path string, v core.Value) ([]string, error) {
	const exp = `{"IAM": ["<account-id>" | "iam::<account-id>:user:<name>" | "iam::<account-id>:agency:<name>", ...]}`
	if v.Kind != core.KindObject {
		return nil, d.ef.Invalid(path, v.Off, "Principal is a JSON "+v.Kind.String(), exp)
	}
	if len(v.Obj) == 0 {
		return nil, d.ef.Invalid(path, v.Off, "empty Principal", exp)
	}
	var out []string
	for i := range v.Obj {
		m := &v.Obj[i]
		p := core.JoinKey(path, m.Key)
		if m.Key != "IAM" {
			if strings.EqualFold(m.Key, "IAM") {
				return nil, d.ef.Invalid(p, m.KeyOff, "unknown principal type "+strconv.Quote(m.Key)+" (names are case-sensitive)", "IAM")
			}
			return nil, d.ef.Unsupported(p, m.KeyOff, "unsupported principal type "+strconv.Quote(m.Key), "IAM")
		}
		list, err := stringListOf(d.ef, p, m.Val)
		if err != nil {
			return nil, err
		}
		for j, s := range list {
			if _, ok := parseHuaweiPolicyPrincipal(s); !ok {
				return nil, d.ef.Invalid(core.ElemPath(p, m.Val, j), core.ElemOff(m.Val, j), "invalid principal "+strconv.Quote(s), "an account ID, iam::<account-id>:user:<name> or iam::<account-id>:agency:<name>")
			}
		}
		out = append(out, list...)
	}
	return out, nil
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

func (d *huaweiDecoder) condition(path string, v core.Value) ([]core.ConditionDoc, error) {
	if v.Kind != core.KindObject {
		return nil, d.ef.Invalid(path, v.Off, "Condition is a JSON "+v.Kind.String(), `{"<operator>": {"<key>": ["<value>", ...]}}`)
	}
	if len(v.Obj) == 0 {
		return nil, d.ef.Invalid(path, v.Off, "empty Condition", "at least one operator, or no Condition element")
	}
	var out []core.ConditionDoc
	for i := range v.Obj {
		om := &v.Obj[i]
		opPath := core.JoinKey(path, om.Key)
		if !validOperatorName(om.Key) {
			return nil, d.ef.Invalid(opPath, om.KeyOff, "invalid condition operator "+strconv.Quote(om.Key), "an operator such as StringEquals, StringMatch, NumberLessThan or ForAnyValue:StringEqualsIfExists")
		}
		sp := splitHuaweiOperator(om.Key)
		if om.Val.Kind != core.KindObject || len(om.Val.Obj) == 0 {
			return nil, d.ef.Invalid(opPath, om.Val.Off, "operator block is "+describeBlock(om.Val), `{"<key>": ["<value>", ...]}`)
		}
		for j := range om.Val.Obj {
			km := &om.Val.Obj[j]
			keyPath := core.JoinKey(opPath, km.Key)
			if km.Key == "" || strings.ContainsAny(km.Key, " \t\r\n") {
				return nil, d.ef.Invalid(keyPath, km.KeyOff, "invalid condition key "+strconv.Quote(km.Key), "a key such as g:CurrentTime or kms:EncryptionAlgorithm")
			}
			values, err := core.ScalarList(d.ef, keyPath, km.Val)
			if err != nil {
				return nil, err
			}
			if sp.known {
				if _, bad, exp := core.CompileCondition(sp.op, sp.negate, km.Key, values); bad >= 0 {
					return nil, d.ef.Invalid(core.ElemPath(keyPath, km.Val, bad), core.ElemOff(km.Val, bad), "invalid value "+strconv.Quote(values[bad])+" for "+om.Key, exp)
				}
			}
			out = append(out, core.ConditionDoc{Op: om.Key, Key: km.Key, Values: values})
		}
	}
	return out, nil
}

// compileHuaweiCondition compiles a validated condition. An unknown
// operator, or one whose value type differs from the key's, never matches.
func compileHuaweiCondition(cd *core.ConditionDoc) core.Condition {
	sp := splitHuaweiOperator(cd.Op)
	if !sp.known {
		return core.Condition{Name: cd.Op, Key: cd.Key, Never: true}
	}
	c, _, _ := core.CompileCondition(sp.op, sp.negate, cd.Key, cd.Values)
	c.Name, c.IfExists, c.Set = cd.Op, sp.ifExists, sp.set
	if kt, ok := huaweiKeyType(cd.Key); ok && kt != sp.op.ValueType() {
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
	c.Actions = make([]core.Glob, len(s.Actions))
	for i, a := range s.Actions {
		c.Actions[i] = core.CompileGlob(a, true)
	}
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

func describeBlock(v core.Value) string {
	if v.Kind == core.KindObject {
		return "empty"
	}
	return "a JSON " + v.Kind.String()
}
