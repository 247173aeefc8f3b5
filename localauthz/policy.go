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
	p := core.JoinKey(path, m.Key)
	if why, ok := unsupportedElements[m.Key]; ok {
		return d.ef.Unsupported(p, m.KeyOff, why, "one of "+strings.Join(known, ", "))
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

func (d *decoder) policy(root core.Value) (core.Document, error) {
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
			if m.Val.Kind != core.KindString || m.Val.S != "1" {
				got := m.Val.S
				if m.Val.Kind != core.KindString {
					got = "a " + m.Val.Kind.String()
				} else {
					got = strconv.Quote(got)
				}
				return pd, d.ef.Invalid("Version", m.Val.Off, "unsupported version "+got, `the string "1"`)
			}
			pd.Version = m.Val.S
			hasVersion = true
		case "Statement":
			stmts = &m.Val
		default:
			return pd, d.unknown("", *m, topElements)
		}
	}
	if !hasVersion {
		return pd, d.ef.Invalid("Version", root.Off, "missing required element", `"Version": "1"`)
	}
	if stmts == nil {
		return pd, d.ef.Invalid("Statement", root.Off, "missing required element", "a statement object or an array of them")
	}
	var err error
	pd.Statements, err = core.StatementList(d.ef, *stmts, "a statement object or an array of them", d.statement)
	return pd, err
}

func (d *decoder) statement(path string, v core.Value) (core.StatementDoc, error) {
	s := core.StatementDoc{Path: path}
	if v.Kind != core.KindObject {
		return s, d.ef.Invalid(path, v.Off, "statement is a JSON "+v.Kind.String(), "an object with Effect, Action and Resource")
	}
	var seenAction, seenResource, seenPrincipal, seenEffect bool
	for i := range v.Obj {
		m := &v.Obj[i]
		p := core.JoinKey(path, m.Key)
		switch m.Key {
		case "Sid":
			if m.Val.Kind != core.KindString {
				return s, d.ef.Invalid(p, m.Val.Off, "Sid is a JSON "+m.Val.Kind.String(), "a string")
			}
			if n := len([]rune(m.Val.S)); n > 128 {
				return s, d.ef.Invalid(p, m.Val.Off, "Sid is "+strconv.Itoa(n)+" characters long", "at most 128 characters")
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
			seenAction = true
			s.NotAction = m.Key == "NotAction"
			list, err := core.StringList(d.ef, p, m.Val)
			if err != nil {
				return s, err
			}
			for j, a := range list {
				if exp := d.checkAction(a); exp != "" {
					return s, d.ef.Invalid(core.ElemPath(p, m.Val, j), core.ElemOff(m.Val, j), "invalid action "+strconv.Quote(a), exp)
				}
			}
			s.Actions, s.ActionsArray = list, m.Val.Kind == core.KindArray
		case "Resource":
			list, err := core.StringList(d.ef, p, m.Val)
			if err != nil {
				return s, err
			}
			for j, r := range list {
				if exp := d.checkResource(r); exp != "" {
					return s, d.ef.Invalid(core.ElemPath(p, m.Val, j), core.ElemOff(m.Val, j), "invalid resource "+strconv.Quote(r), exp)
				}
			}
			s.Resources, s.ResourcesArray, seenResource = list, m.Val.Kind == core.KindArray, true
			s.HasResource = true
		case "Principal":
			if d.kind == RAMPolicy {
				return s, d.ef.Invalid(p, m.KeyOff, "Principal is not allowed in a RAM identity policy", "no Principal (the policy applies to the identity it is attached to)")
			}
			list, err := d.principal(p, m.Val)
			if err != nil {
				return s, err
			}
			s.Principals, s.PrincipalOf, seenPrincipal = list, "RAM", true
		case "Condition":
			conds, err := d.condition(p, m.Val)
			if err != nil {
				return s, err
			}
			s.Conds = conds
		default:
			return s, d.unknown(path, *m, statementElements)
		}
	}
	switch {
	case !seenEffect:
		return s, d.ef.Invalid(core.JoinKey(path, "Effect"), v.Off, "missing required element", `"Effect": "Allow" or "Deny"`)
	case !seenAction:
		return s, d.ef.Invalid(core.JoinKey(path, "Action"), v.Off, "missing required element", "Action or NotAction")
	case !seenResource:
		exp := "Resource"
		if d.kind != RAMPolicy {
			exp = `"Resource": "*"`
		}
		return s, d.ef.Invalid(core.JoinKey(path, "Resource"), v.Off, "missing required element", exp)
	case !seenPrincipal && d.kind != RAMPolicy:
		return s, d.ef.Invalid(core.JoinKey(path, "Principal"), v.Off, "missing required element", `"Principal": {"RAM": ["acs:ram::<uid>:..."]}`)
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

func (d *decoder) principal(path string, v core.Value) ([]string, error) {
	const exp = `{"RAM": ["acs:ram::<uid>:*" | "acs:ram::<uid>:root" | "acs:ram::<uid>:user/<name>" | "acs:ram::<uid>:role/<name>", ...]}`
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
		if m.Key != "RAM" {
			if strings.EqualFold(m.Key, "RAM") {
				return nil, d.ef.Invalid(p, m.KeyOff, "unknown principal type "+strconv.Quote(m.Key)+" (names are case-sensitive)", "RAM")
			}
			return nil, d.ef.Unsupported(p, m.KeyOff, "unsupported principal type "+strconv.Quote(m.Key), "RAM (key and secret policies name RAM identities only)")
		}
		list, err := core.StringList(d.ef, p, m.Val)
		if err != nil {
			return nil, err
		}
		for j, s := range list {
			if _, ok := parsePolicyPrincipal(s); !ok {
				problem := "invalid principal " + strconv.Quote(s)
				if isDigits(s) {
					problem = "bare account ID " + strconv.Quote(s) + " is not accepted"
				}
				return nil, d.ef.Invalid(core.ElemPath(p, m.Val, j), core.ElemOff(m.Val, j), problem, "acs:ram::<uid>:*, acs:ram::<uid>:root, acs:ram::<uid>:user/<name> or acs:ram::<uid>:role/<name>")
			}
		}
		out = append(out, list...)
	}
	return out, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ramOperator describes one RAM condition operator.
type ramOperator struct {
	op     core.Op
	negate bool
}

var ramOperators = map[string]ramOperator{
	"StringEquals":              {core.OpStringEquals, false},
	"StringNotEquals":           {core.OpStringEquals, true},
	"StringEqualsIgnoreCase":    {core.OpStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {core.OpStringEqualsIgnoreCase, true},
	"StringLike":                {core.OpStringLike, false},
	"StringNotLike":             {core.OpStringLike, true},
	"NumericEquals":             {core.OpNumericEquals, false},
	"NumericNotEquals":          {core.OpNumericEquals, true},
	"NumericLessThan":           {core.OpNumericLessThan, false},
	"NumericLessThanEquals":     {core.OpNumericLessThanEquals, false},
	"NumericGreaterThan":        {core.OpNumericGreaterThan, false},
	"NumericGreaterThanEquals":  {core.OpNumericGreaterThanEquals, false},
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

// RAMOperators returns the names of the condition operators RAM supports.
func RAMOperators() []string {
	return slices.Sorted(maps.Keys(ramOperators))
}

func (d *decoder) operator(path string, m core.Member) (ramOperator, error) {
	name := m.Key
	if o, ok := ramOperators[name]; ok {
		return o, nil
	}
	p := core.JoinKey(path, name)
	names := RAMOperators()
	for _, prefix := range []string{"ForAnyValue:", "ForAllValues:"} {
		if strings.HasPrefix(name, prefix) {
			return ramOperator{}, d.ef.Unsupported(p, m.KeyOff, "RAM does not support the set operator prefix "+strconv.Quote(prefix), "a plain operator such as "+closestOr(strings.TrimPrefix(name, prefix), names))
		}
	}
	if base, ok := strings.CutSuffix(name, "IfExists"); ok {
		return ramOperator{}, d.ef.Unsupported(p, m.KeyOff, "RAM does not support ...IfExists operators", closestOr(base, names))
	}
	if name == "Null" {
		return ramOperator{}, d.ef.Unsupported(p, m.KeyOff, "RAM does not support the Null operator", "one of "+strings.Join(names, ", "))
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return ramOperator{}, d.ef.Invalid(p, m.KeyOff, "unknown condition operator "+strconv.Quote(name)+" (operator names are case-sensitive)", n)
		}
	}
	exp := "one of " + strings.Join(names, ", ")
	if s := core.Closest(name, names, 3); s != "" {
		exp = s + " (did you mean " + s + "?)"
	}
	return ramOperator{}, d.ef.Invalid(p, m.KeyOff, "unknown condition operator "+strconv.Quote(name), exp)
}

func closestOr(name string, names []string) string {
	if s := core.Closest(name, names, 3); s != "" {
		return s
	}
	return "one of " + strings.Join(names, ", ")
}

func (d *decoder) condition(path string, v core.Value) ([]core.ConditionDoc, error) {
	if v.Kind != core.KindObject {
		return nil, d.ef.Invalid(path, v.Off, "Condition is a JSON "+v.Kind.String(), `{"<operator>": {"<key>": "<value>" | ["<value>", ...]}}`)
	}
	if len(v.Obj) == 0 {
		return nil, d.ef.Invalid(path, v.Off, "empty Condition", "at least one operator, or no Condition element")
	}
	var out []core.ConditionDoc
	for i := range v.Obj {
		om := &v.Obj[i]
		op, err := d.operator(path, *om)
		if err != nil {
			return nil, err
		}
		opPath := core.JoinKey(path, om.Key)
		if om.Val.Kind != core.KindObject || len(om.Val.Obj) == 0 {
			return nil, d.ef.Invalid(opPath, om.Val.Off, "operator block is "+describeBlock(om.Val), `{"<key>": "<value>" | ["<value>", ...]}`)
		}
		for j := range om.Val.Obj {
			km := &om.Val.Obj[j]
			keyPath := core.JoinKey(opPath, km.Key)
			if km.Key == "" || strings.ContainsAny(km.Key, " \t\r\n") {
				return nil, d.ef.Invalid(keyPath, km.KeyOff, "invalid condition key "+strconv.Quote(km.Key), "a key such as acs:SourceIp or kms:tag/<TagKey>")
			}
			values, err := core.ScalarList(d.ef, keyPath, km.Val)
			if err != nil {
				return nil, err
			}
			if _, bad, exp := core.CompileCondition(op.op, op.negate, km.Key, values); bad >= 0 {
				return nil, d.ef.Invalid(core.ElemPath(keyPath, km.Val, bad), core.ElemOff(km.Val, bad), "invalid value "+strconv.Quote(values[bad])+" for "+om.Key, exp)
			}
			out = append(out, core.ConditionDoc{Op: om.Key, Key: km.Key, Values: values})
		}
	}
	return out, nil
}

func describeBlock(v core.Value) string {
	if v.Kind == core.KindObject {
		return "empty"
	}
	return "a JSON " + v.Kind.String()
}

// compileStatement turns a validated statement into the core's form.
// Validation has already parsed every value, so it cannot fail.
func compileStatement(s *core.StatementDoc, kind PolicyKind) core.Statement {
	c := core.Statement{Deny: s.Effect == "Deny", NotAction: s.NotAction}
	c.Actions = make([]core.Glob, len(s.Actions))
	for i, a := range s.Actions {
		c.Actions[i] = core.CompileGlob(a, true)
	}
	if kind == RAMPolicy {
		c.Resources = make([]core.Glob, len(s.Resources))
		for i, r := range s.Resources {
			c.Resources[i] = core.CompileGlob(r, false)
		}
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
		cond, _, _ := core.CompileCondition(o.op, o.negate, cd.Key, cd.Values)
		cond.Name = cd.Op
		cond.Class = conditionKeyClass(cd.Key)
		c.Conds = append(c.Conds, cond)
	}
	return c
}
