package localauthz

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// This file is the Huawei Cloud dialect's parser: it validates identity
// policies (Version "5.0" and legacy "1.1"), service control policies and
// KMS resource policies, and compiles them into the core's
// compiledStatement (statement.go, condition.go) like the RAM parser does.

// Default size limits of Huawei Cloud policy documents, in bytes.
const (
	// DefaultMaxHuaweiIdentityPolicySize is the IAM limit for a custom
	// policy document (6,144 characters; counted here in bytes).
	DefaultMaxHuaweiIdentityPolicySize = 6144
	// DefaultMaxHuaweiSCPSize is assumed equal to the identity policy limit.
	DefaultMaxHuaweiSCPSize = 6144
	// DefaultMaxHuaweiResourcePolicySize is assumed equal to the Alibaba
	// key policy limit (no Huawei KMS limit is published).
	DefaultMaxHuaweiResourcePolicySize = 32768
)

// huaweiOperator is one condition operator of the Huawei table.
type huaweiOperator struct {
	op     condOp
	negate bool
}

// huaweiOperators are the base operators (without ForAnyValue:,
// ForAllValues: or IfExists) of the IAM 5.0 / Organizations operator table.
var huaweiOperators = map[string]huaweiOperator{
	"StringEquals":              {opStringEquals, false},
	"StringNotEquals":           {opStringEquals, true},
	"StringEqualsIgnoreCase":    {opStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {opStringEqualsIgnoreCase, true},
	"StringMatch":               {opStringLike, false},
	"StringNotMatch":            {opStringLike, true},
	"StringLike":                {opStringContains, false},
	"StringNotLike":             {opStringContains, true},
	"StringStartWith":           {opStringStartWith, false},
	"StringNotStartWith":        {opStringStartWith, true},
	"StringEndWith":             {opStringEndWith, false},
	"StringNotEndWith":          {opStringEndWith, true},
	"NumberEquals":              {opNumericEquals, false},
	"NumberNotEquals":           {opNumericEquals, true},
	"NumberLessThan":            {opNumericLessThan, false},
	"NumberLessThanEquals":      {opNumericLessThanEquals, false},
	"NumberGreaterThan":         {opNumericGreaterThan, false},
	"NumberGreaterThanEquals":   {opNumericGreaterThanEquals, false},
	"DateEquals":                {opDateEquals, false},
	"DateNotEquals":             {opDateEquals, true},
	"DateLessThan":              {opDateLessThan, false},
	"DateLessThanEquals":        {opDateLessThanEquals, false},
	"DateGreaterThan":           {opDateGreaterThan, false},
	"DateGreaterThanEquals":     {opDateGreaterThanEquals, false},
	"Bool":                      {opBool, false},
	"IpAddress":                 {opIPAddress, false},
	"NotIpAddress":              {opIPAddress, true},
}

// HuaweiOperators returns the base condition operators of the Huawei
// dialect; each also exists with the IfExists suffix and the ForAnyValue:
// and ForAllValues: prefixes.
func HuaweiOperators() []string {
	return slices.Sorted(maps.Keys(huaweiOperators))
}

// huaweiOpSpec is an operator name taken apart.
type huaweiOpSpec struct {
	base     string
	set      setQuantifier
	ifExists bool
	known    bool
	huaweiOperator
}

func splitHuaweiOperator(name string) huaweiOpSpec {
	sp := huaweiOpSpec{base: name}
	switch {
	case strings.HasPrefix(sp.base, "ForAnyValue:"):
		sp.set, sp.base = setForAnyValue, sp.base[len("ForAnyValue:"):]
	case strings.HasPrefix(sp.base, "ForAllValues:"):
		sp.set, sp.base = setForAllValues, sp.base[len("ForAllValues:"):]
	}
	if b, ok := strings.CutSuffix(sp.base, "IfExists"); ok && b != "" {
		sp.base, sp.ifExists = b, true
	}
	sp.huaweiOperator, sp.known = huaweiOperators[sp.base]
	return sp
}

// ParseHuaweiPolicy parses, validates and compiles a Huawei Cloud policy
// document of the given kind ([HuaweiIdentityPolicy], [HuaweiSCP] or
// [HuaweiResourcePolicy]). Errors are *[PolicyError] values naming the
// offending element by JSON path; ParseHuaweiPolicy never panics.
//
// The grammar: Version "5.0" (identity policies also "1.1"); Statement as
// an array of statements (one object is accepted too); per statement Sid,
// Effect, Action or NotAction, Resource or NotResource (optional, default
// "*"), Condition, and for resource policies Principal {"IAM": [...]}.
// Element and operator names are case-sensitive. An operator the dialect
// does not know (such as the AWS spelling NumericLessThan) is accepted and
// never matches; [Lint] reports it.
func ParseHuaweiPolicy(doc []byte, kind PolicyKind, opts ...ParseOption) (*Policy, error) {
	if kind.Dialect() != DialectHuawei {
		return nil, dialectError(kind, DialectHuawei)
	}
	maxSize := DefaultMaxHuaweiResourcePolicySize
	switch kind {
	case HuaweiIdentityPolicy:
		maxSize = DefaultMaxHuaweiIdentityPolicySize
	case HuaweiSCP:
		maxSize = DefaultMaxHuaweiSCPSize
	}
	return parseWith(doc, kind, maxSize, opts,
		func(ef errorf, root jvalue) (policyDoc, error) {
			d := huaweiDecoder{ef: ef, kind: kind}
			return d.policy(root)
		},
		func(pd *policyDoc, s *stmtDoc) compiledStatement { return compileHuaweiStatement(s, kind, pd.version) })
}

type huaweiDecoder struct {
	ef      errorf
	kind    PolicyKind
	version string
}

var (
	huaweiTopElements       = []string{"Version", "Statement"}
	huaweiStatementElements = []string{"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "Condition"}
)

func (d *huaweiDecoder) unknown(path string, m jmember, known []string) error {
	p := joinKey(path, m.key)
	switch m.key {
	case "NotPrincipal":
		return d.ef.unsupported(p, m.keyOff, "Huawei Cloud policies do not support NotPrincipal", "Principal")
	case "Id":
		return d.ef.unsupported(p, m.keyOff, "Huawei Cloud policies have no Id element", "one of "+strings.Join(known, ", "))
	}
	for _, k := range known {
		if strings.EqualFold(k, m.key) {
			return d.ef.invalid(p, m.keyOff, "unknown element "+strconv.Quote(m.key)+" (element names are case-sensitive)", k)
		}
	}
	exp := "one of " + strings.Join(known, ", ")
	if s := closest(m.key, known, 2); s != "" {
		exp = s + " (did you mean " + s + "?)"
	}
	return d.ef.invalid(p, m.keyOff, "unknown element "+strconv.Quote(m.key), exp)
}

func (d *huaweiDecoder) versions() string {
	if d.kind == HuaweiIdentityPolicy {
		return `"5.0" (or the legacy "1.1")`
	}
	return `"5.0"`
}

func (d *huaweiDecoder) policy(root jvalue) (policyDoc, error) {
	var pd policyDoc
	if root.kind != jObject {
		return pd, d.ef.invalid("", root.off, "document is a JSON "+root.kind.String(), "a JSON object with Version and Statement")
	}
	var stmts *jvalue
	hasVersion := false
	for i := range root.obj {
		m := &root.obj[i]
		switch m.key {
		case "Version":
			ok := m.val.kind == jString && (m.val.s == "5.0" || m.val.s == "1.1" && d.kind == HuaweiIdentityPolicy)
			if !ok {
				problem := "unsupported version " + describe(m.val)
				if m.val.kind == jString && m.val.s == "1.1" {
					problem = "a " + string(d.kind) + " policy cannot use the legacy version \"1.1\""
				}
				return pd, d.ef.invalid("Version", m.val.off, problem, d.versions())
			}
			pd.version, d.version = m.val.s, m.val.s
			hasVersion = true
		case "Statement":
			stmts = &m.val
		default:
			return pd, d.unknown("", *m, huaweiTopElements)
		}
	}
	if !hasVersion {
		return pd, d.ef.invalid("Version", root.off, "missing required element", `"Version": `+d.versions())
	}
	if stmts == nil {
		return pd, d.ef.invalid("Statement", root.off, "missing required element", "an array of statements")
	}
	var err error
	pd.statements, err = statementList(d.ef, *stmts, "an array of statements", d.statement)
	return pd, err
}

func (d *huaweiDecoder) statement(path string, v jvalue) (stmtDoc, error) {
	s := stmtDoc{path: path}
	if v.kind != jObject {
		return s, d.ef.invalid(path, v.off, "statement is a JSON "+v.kind.String(), "an object with Effect and Action")
	}
	legacy := d.version == "1.1"
	var seenAction, seenEffect, seenPrincipal bool
	for i := range v.obj {
		m := &v.obj[i]
		p := joinKey(path, m.key)
		switch m.key {
		case "Sid":
			if m.val.kind != jString {
				return s, d.ef.invalid(p, m.val.off, "Sid is a JSON "+m.val.kind.String(), "a string")
			}
			s.sid, s.hasSid = m.val.s, true
		case "Effect":
			if m.val.kind != jString || (m.val.s != "Allow" && m.val.s != "Deny") {
				return s, d.ef.invalid(p, m.val.off, "invalid effect "+describe(m.val), `"Allow" or "Deny"`)
			}
			s.effect, seenEffect = m.val.s, true
		case "Action", "NotAction":
			if seenAction {
				return s, d.ef.invalid(p, m.keyOff, "both Action and NotAction", "exactly one of Action or NotAction")
			}
			if m.key == "NotAction" && legacy {
				return s, d.ef.unsupported(p, m.keyOff, "legacy 1.1 policies do not support NotAction", "Action (or Version \"5.0\")")
			}
			seenAction = true
			s.notAction = m.key == "NotAction"
			list, err := stringListOf(d.ef, p, m.val)
			if err != nil {
				return s, err
			}
			for j, a := range list {
				if exp := checkHuaweiAction(a); exp != "" {
					return s, d.ef.invalid(elemPath(p, m.val, j), elemOff(m.val, j), "invalid action "+strconv.Quote(a), exp)
				}
			}
			s.actions, s.actionsArray = list, m.val.kind == jArray
		case "Resource", "NotResource":
			if s.hasResource {
				return s, d.ef.invalid(p, m.keyOff, "both Resource and NotResource", "at most one of Resource or NotResource")
			}
			if m.key == "NotResource" {
				switch {
				case legacy:
					return s, d.ef.unsupported(p, m.keyOff, "legacy 1.1 policies do not support NotResource", "Resource (or Version \"5.0\")")
				case d.kind == HuaweiSCP:
					return s, d.ef.unsupported(p, m.keyOff, "service control policies do not support NotResource", "Resource")
				case d.kind == HuaweiResourcePolicy:
					return s, d.ef.unsupported(p, m.keyOff, "resource policies do not support NotResource", "Resource")
				}
			}
			list, err := stringListOf(d.ef, p, m.val)
			if err != nil {
				return s, err
			}
			for j, r := range list {
				if exp := checkHuaweiResource(r); exp != "" {
					return s, d.ef.invalid(elemPath(p, m.val, j), elemOff(m.val, j), "invalid resource "+strconv.Quote(r), exp)
				}
			}
			s.resources, s.resourcesArray, s.hasResource = list, m.val.kind == jArray, true
			s.notResource = m.key == "NotResource"
		case "Principal":
			if d.kind != HuaweiResourcePolicy {
				return s, d.ef.invalid(p, m.keyOff, "Principal is not allowed in a "+string(d.kind)+" policy", "no Principal (only resource policies name principals)")
			}
			list, err := d.principal(p, m.val)
			if err != nil {
				return s, err
			}
			s.principals, s.principalOf, seenPrincipal = list, "IAM", true
		case "Condition":
			conds, err := d.condition(p, m.val)
			if err != nil {
				return s, err
			}
			s.conds = conds
		default:
			return s, d.unknown(path, *m, huaweiStatementElements)
		}
	}
	switch {
	case !seenEffect:
		return s, d.ef.invalid(joinKey(path, "Effect"), v.off, "missing required element", `"Effect": "Allow" or "Deny"`)
	case !seenAction:
		return s, d.ef.invalid(joinKey(path, "Action"), v.off, "missing required element", "Action or NotAction")
	case !seenPrincipal && d.kind == HuaweiResourcePolicy:
		return s, d.ef.invalid(joinKey(path, "Principal"), v.off, "missing required element", `"Principal": {"IAM": ["<account-id>", ...]}`)
	}
	return s, nil
}

// stringListOf accepts a string or a non-empty array of strings.
func stringListOf(ef errorf, path string, v jvalue) ([]string, error) {
	d := decoder{ef: ef}
	return d.stringList(path, v)
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

func (d *huaweiDecoder) principal(path string, v jvalue) ([]string, error) {
	const exp = `{"IAM": ["<account-id>" | "iam::<account-id>:user:<name>" | "iam::<account-id>:agency:<name>", ...]}`
	if v.kind != jObject {
		return nil, d.ef.invalid(path, v.off, "Principal is a JSON "+v.kind.String(), exp)
	}
	if len(v.obj) == 0 {
		return nil, d.ef.invalid(path, v.off, "empty Principal", exp)
	}
	var out []string
	for i := range v.obj {
		m := &v.obj[i]
		p := joinKey(path, m.key)
		if m.key != "IAM" {
			if strings.EqualFold(m.key, "IAM") {
				return nil, d.ef.invalid(p, m.keyOff, "unknown principal type "+strconv.Quote(m.key)+" (names are case-sensitive)", "IAM")
			}
			return nil, d.ef.unsupported(p, m.keyOff, "unsupported principal type "+strconv.Quote(m.key), "IAM")
		}
		list, err := stringListOf(d.ef, p, m.val)
		if err != nil {
			return nil, err
		}
		for j, s := range list {
			if _, ok := parseHuaweiPolicyPrincipal(s); !ok {
				return nil, d.ef.invalid(elemPath(p, m.val, j), elemOff(m.val, j), "invalid principal "+strconv.Quote(s), "an account ID, iam::<account-id>:user:<name> or iam::<account-id>:agency:<name>")
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

func (d *huaweiDecoder) condition(path string, v jvalue) ([]condDoc, error) {
	if v.kind != jObject {
		return nil, d.ef.invalid(path, v.off, "Condition is a JSON "+v.kind.String(), `{"<operator>": {"<key>": ["<value>", ...]}}`)
	}
	if len(v.obj) == 0 {
		return nil, d.ef.invalid(path, v.off, "empty Condition", "at least one operator, or no Condition element")
	}
	var out []condDoc
	for i := range v.obj {
		om := &v.obj[i]
		opPath := joinKey(path, om.key)
		if !validOperatorName(om.key) {
			return nil, d.ef.invalid(opPath, om.keyOff, "invalid condition operator "+strconv.Quote(om.key), "an operator such as StringEquals, StringMatch, NumberLessThan or ForAnyValue:StringEqualsIfExists")
		}
		sp := splitHuaweiOperator(om.key)
		if om.val.kind != jObject || len(om.val.obj) == 0 {
			return nil, d.ef.invalid(opPath, om.val.off, "operator block is "+describeBlock(om.val), `{"<key>": ["<value>", ...]}`)
		}
		for j := range om.val.obj {
			km := &om.val.obj[j]
			keyPath := joinKey(opPath, km.key)
			if km.key == "" || strings.ContainsAny(km.key, " \t\r\n") {
				return nil, d.ef.invalid(keyPath, km.keyOff, "invalid condition key "+strconv.Quote(km.key), "a key such as g:CurrentTime or kms:EncryptionAlgorithm")
			}
			dd := decoder{ef: d.ef}
			values, err := dd.scalarList(keyPath, km.val)
			if err != nil {
				return nil, err
			}
			if sp.known {
				if _, bad, exp := compileCondition(sp.op, sp.negate, km.key, values); bad >= 0 {
					return nil, d.ef.invalid(elemPath(keyPath, km.val, bad), elemOff(km.val, bad), "invalid value "+strconv.Quote(values[bad])+" for "+om.key, exp)
				}
			}
			out = append(out, condDoc{op: om.key, key: km.key, values: values})
		}
	}
	return out, nil
}

// compileHuaweiCondition compiles a validated condition. An unknown
// operator, or one whose value type differs from the key's, never matches.
func compileHuaweiCondition(cd *condDoc) condition {
	sp := splitHuaweiOperator(cd.op)
	if !sp.known {
		return condition{name: cd.op, key: cd.key, never: true}
	}
	c, _, _ := compileCondition(sp.op, sp.negate, cd.key, cd.values)
	c.name, c.ifExists, c.set = cd.op, sp.ifExists, sp.set
	if kt, ok := huaweiKeyType(cd.key); ok && kt != sp.op.valueType() {
		c.never = true
	}
	return c
}

// compileHuaweiStatement turns a validated statement into the core form.
func compileHuaweiStatement(s *stmtDoc, kind PolicyKind, version string) compiledStatement {
	c := compiledStatement{deny: s.effect == "Deny", notAction: s.notAction, notResource: s.notResource, strictStar: true, actionMode: actWithAlias}
	legacy := version == "1.1"
	if legacy {
		c.actionMode = actLegacyOnly
	}
	c.actions = make([]glob, len(s.actions))
	for i, a := range s.actions {
		c.actions[i] = compileGlob(a, true)
	}
	resources := s.resources
	if !s.hasResource {
		resources = []string{"*"}
	}
	c.resources = make([]glob, len(resources))
	for i, r := range resources {
		if legacy {
			if svc, rest, ok := strings.Cut(r, ":"); ok && svc != "" && !strings.ContainsAny(svc, "*?") {
				if c.resourceSvc == nil {
					c.resourceSvc = make([]string, len(resources))
				}
				c.resourceSvc[i] = asciiLower(svc)
				c.resources[i] = compileGlob(rest, false)
				continue
			}
		}
		c.resources[i] = compileGlob(r, false)
	}
	if kind == HuaweiResourcePolicy {
		c.principals = make([]principal, 0, len(s.principals))
		for _, ps := range s.principals {
			p, _ := parseHuaweiPolicyPrincipal(ps)
			c.principals = append(c.principals, p)
		}
	}
	for i := range s.conds {
		c.conds = append(c.conds, compileHuaweiCondition(&s.conds[i]))
	}
	return c
}
