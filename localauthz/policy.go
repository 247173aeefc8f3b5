package localauthz

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// PolicyKind is the kind of policy document.
type PolicyKind string

const (
	// RAMPolicy is a RAM identity policy attached to a user or role.
	RAMPolicy PolicyKind = "ram"
	// KeyPolicy is a KMS key policy (keys in a KMS instance only).
	KeyPolicy PolicyKind = "key"
	// SecretPolicy is a KMS secret policy.
	SecretPolicy PolicyKind = "secret"

	// HuaweiIdentityPolicy is a Huawei Cloud IAM identity policy (Version
	// "5.0") or legacy fine-grained policy (Version "1.1") of the caller.
	HuaweiIdentityPolicy PolicyKind = "identity"
	// HuaweiSCP is a Huawei Cloud Organizations service control policy.
	HuaweiSCP PolicyKind = "scp"
	// HuaweiResourcePolicy is a Huawei Cloud resource policy attached to a
	// KMS key.
	HuaweiResourcePolicy PolicyKind = "resource"
)

// Values returns every PolicyKind, Alibaba Cloud's then Huawei Cloud's.
func (PolicyKind) Values() []PolicyKind {
	return []PolicyKind{RAMPolicy, KeyPolicy, SecretPolicy, HuaweiIdentityPolicy, HuaweiSCP, HuaweiResourcePolicy}
}

func (k PolicyKind) valid() bool { return k == RAMPolicy || k == KeyPolicy || k == SecretPolicy }

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

// ParseOption configures [ParsePolicy].
type ParseOption func(*parseConfig)

type parseConfig struct {
	maxSize int
	name    string
}

// WithMaxSize sets the size limit in bytes; n <= 0 removes the limit.
func WithMaxSize(n int) ParseOption {
	return func(c *parseConfig) {
		if n <= 0 {
			n = -1
		}
		c.maxSize = n
	}
}

// WithName names the policy; the name appears in [StatementRef] and in
// reports. Without it a [PolicySet] names the policy by kind and position.
func WithName(name string) ParseOption { return func(c *parseConfig) { c.name = name } }

// Policy is a parsed, validated and compiled policy document. It is
// immutable and safe for concurrent use.
type Policy struct {
	name  string
	kind  PolicyKind
	doc   policyDoc
	stmts []compiledStatement
}

// Name returns the name given with [WithName], or "".
func (p *Policy) Name() string { return p.name }

// Kind returns the kind the policy was parsed as.
func (p *Policy) Kind() PolicyKind { return p.kind }

// Dialect returns the dialect of the policy's kind.
func (p *Policy) Dialect() Dialect { return p.kind.Dialect() }

// Version returns the policy's Version element ("1"; Huawei "5.0" or "1.1").
func (p *Policy) Version() string { return p.doc.version }

// policyDoc is the policy as written, normalised (strings or arrays become
// arrays), kept for marshalling and linting.
type policyDoc struct {
	version    string
	statements []stmtDoc
}

type stmtDoc struct {
	path        string // "Statement[i]", or "Statement" for a single object
	sid         string
	hasSid      bool
	effect      string
	notAction   bool
	actions     []string
	hasResource bool // Resource or NotResource written (Huawei may omit it: "*")
	notResource bool
	resources   []string
	principals  []string
	principalOf string // the Principal member: "RAM" (Alibaba) or "IAM" (Huawei)
	// whether Action/Resource were written as arrays (for finding paths)
	actionsArray, resourcesArray bool
	conds                        []condDoc
}

type condDoc struct {
	op     string
	key    string
	values []string
}

func (s *stmtDoc) actionElem() string {
	if s.notAction {
		return "NotAction"
	}
	return "Action"
}

func (s *stmtDoc) resourceElem() string {
	if s.notResource {
		return "NotResource"
	}
	return "Resource"
}

// ParsePolicy parses, validates and compiles a policy document of the given
// kind. Errors are *[PolicyError] values naming the offending element by
// JSON path; ParsePolicy never panics.
//
// The grammar is Alibaba Cloud RAM's: Version "1"; Statement as one object
// or an array; per statement Sid, Effect, Action or NotAction, Resource,
// Principal (key and secret policies only, {"RAM": [...]}) and Condition.
// Element and operator names are case-sensitive.
//
// The Huawei Cloud kinds ([HuaweiIdentityPolicy], [HuaweiSCP],
// [HuaweiResourcePolicy]) are parsed by [ParseHuaweiPolicy].
func ParsePolicy(doc []byte, kind PolicyKind, opts ...ParseOption) (*Policy, error) {
	if kind.Dialect() == DialectHuawei {
		return ParseHuaweiPolicy(doc, kind, opts...)
	}
	if !kind.valid() {
		return nil, &PolicyError{Offset: -1, Problem: "unknown policy kind " + strconv.Quote(string(kind)), Expected: "ram, key, secret, identity, scp or resource", kind: ErrInvalidPolicy}
	}
	maxSize := DefaultMaxSecretPolicySize
	switch kind {
	case RAMPolicy:
		maxSize = DefaultMaxRAMPolicySize
	case KeyPolicy:
		maxSize = DefaultMaxKeyPolicySize
	}
	return parseWith(doc, kind, maxSize, opts,
		func(ef errorf, root jvalue) (policyDoc, error) {
			d := decoder{ef: ef, kind: kind}
			return d.policy(root)
		},
		func(_ *policyDoc, s *stmtDoc) compiledStatement { return compileStatement(s, kind) })
}

// parseWith is what every dialect's parser shares: options, the size
// limit, the JSON tree, then the dialect's decoder and statement compiler.
func parseWith(doc []byte, kind PolicyKind, maxSize int, opts []ParseOption,
	decode func(ef errorf, root jvalue) (policyDoc, error),
	compile func(pd *policyDoc, s *stmtDoc) compiledStatement) (*Policy, error) {
	cfg := parseConfig{maxSize: maxSize}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	ef := errorf{doc: doc}
	if cfg.maxSize > 0 && len(doc) > cfg.maxSize {
		return nil, ef.at(ErrTooLarge, "", -1, "document is "+strconv.Itoa(len(doc))+" bytes", "at most "+strconv.Itoa(cfg.maxSize)+" bytes for a "+string(kind)+" policy")
	}
	root, err := parseJSON(doc)
	if err != nil {
		return nil, err
	}
	pd, err := decode(ef, root)
	if err != nil {
		return nil, err
	}
	p := &Policy{name: cfg.name, kind: kind, doc: pd, stmts: make([]compiledStatement, len(pd.statements))}
	for i := range pd.statements {
		p.stmts[i] = compile(&p.doc, &p.doc.statements[i])
	}
	return p, nil
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
	ef   errorf
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

func (d *decoder) unknown(path string, m jmember, known []string) error {
	p := joinKey(path, m.key)
	if why, ok := unsupportedElements[m.key]; ok {
		return d.ef.unsupported(p, m.keyOff, why, "one of "+strings.Join(known, ", "))
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

func (d *decoder) policy(root jvalue) (policyDoc, error) {
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
			if m.val.kind != jString || m.val.s != "1" {
				got := m.val.s
				if m.val.kind != jString {
					got = "a " + m.val.kind.String()
				} else {
					got = strconv.Quote(got)
				}
				return pd, d.ef.invalid("Version", m.val.off, "unsupported version "+got, `the string "1"`)
			}
			pd.version = m.val.s
			hasVersion = true
		case "Statement":
			stmts = &m.val
		default:
			return pd, d.unknown("", *m, topElements)
		}
	}
	if !hasVersion {
		return pd, d.ef.invalid("Version", root.off, "missing required element", `"Version": "1"`)
	}
	if stmts == nil {
		return pd, d.ef.invalid("Statement", root.off, "missing required element", "a statement object or an array of them")
	}
	var err error
	pd.statements, err = statementList(d.ef, *stmts, "a statement object or an array of them", d.statement)
	return pd, err
}

// statementList parses the Statement element, an object or a non-empty
// array, with each dialect's statement parser. expected describes the
// accepted form for errors.
func statementList(ef errorf, stmts jvalue, expected string, parse func(path string, v jvalue) (stmtDoc, error)) ([]stmtDoc, error) {
	switch stmts.kind {
	case jObject:
		s, err := parse("Statement", stmts)
		if err != nil {
			return nil, err
		}
		return []stmtDoc{s}, nil
	case jArray:
		if len(stmts.arr) == 0 {
			return nil, ef.invalid("Statement", stmts.off, "empty statement list", "at least one statement")
		}
		out := make([]stmtDoc, 0, len(stmts.arr))
		for i, v := range stmts.arr {
			s, err := parse(joinIndex("Statement", i), v)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, ef.invalid("Statement", stmts.off, "statement is a JSON "+stmts.kind.String(), expected)
}

func (d *decoder) statement(path string, v jvalue) (stmtDoc, error) {
	s := stmtDoc{path: path}
	if v.kind != jObject {
		return s, d.ef.invalid(path, v.off, "statement is a JSON "+v.kind.String(), "an object with Effect, Action and Resource")
	}
	var seenAction, seenResource, seenPrincipal, seenEffect bool
	for i := range v.obj {
		m := &v.obj[i]
		p := joinKey(path, m.key)
		switch m.key {
		case "Sid":
			if m.val.kind != jString {
				return s, d.ef.invalid(p, m.val.off, "Sid is a JSON "+m.val.kind.String(), "a string")
			}
			if n := len([]rune(m.val.s)); n > 128 {
				return s, d.ef.invalid(p, m.val.off, "Sid is "+strconv.Itoa(n)+" characters long", "at most 128 characters")
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
			seenAction = true
			s.notAction = m.key == "NotAction"
			list, err := d.stringList(p, m.val)
			if err != nil {
				return s, err
			}
			for j, a := range list {
				if exp := d.checkAction(a); exp != "" {
					return s, d.ef.invalid(elemPath(p, m.val, j), elemOff(m.val, j), "invalid action "+strconv.Quote(a), exp)
				}
			}
			s.actions, s.actionsArray = list, m.val.kind == jArray
		case "Resource":
			list, err := d.stringList(p, m.val)
			if err != nil {
				return s, err
			}
			for j, r := range list {
				if exp := d.checkResource(r); exp != "" {
					return s, d.ef.invalid(elemPath(p, m.val, j), elemOff(m.val, j), "invalid resource "+strconv.Quote(r), exp)
				}
			}
			s.resources, s.resourcesArray, seenResource = list, m.val.kind == jArray, true
			s.hasResource = true
		case "Principal":
			if d.kind == RAMPolicy {
				return s, d.ef.invalid(p, m.keyOff, "Principal is not allowed in a RAM identity policy", "no Principal (the policy applies to the identity it is attached to)")
			}
			list, err := d.principal(p, m.val)
			if err != nil {
				return s, err
			}
			s.principals, s.principalOf, seenPrincipal = list, "RAM", true
		case "Condition":
			conds, err := d.condition(p, m.val)
			if err != nil {
				return s, err
			}
			s.conds = conds
		default:
			return s, d.unknown(path, *m, statementElements)
		}
	}
	switch {
	case !seenEffect:
		return s, d.ef.invalid(joinKey(path, "Effect"), v.off, "missing required element", `"Effect": "Allow" or "Deny"`)
	case !seenAction:
		return s, d.ef.invalid(joinKey(path, "Action"), v.off, "missing required element", "Action or NotAction")
	case !seenResource:
		exp := "Resource"
		if d.kind != RAMPolicy {
			exp = `"Resource": "*"`
		}
		return s, d.ef.invalid(joinKey(path, "Resource"), v.off, "missing required element", exp)
	case !seenPrincipal && d.kind != RAMPolicy:
		return s, d.ef.invalid(joinKey(path, "Principal"), v.off, "missing required element", `"Principal": {"RAM": ["acs:ram::<uid>:..."]}`)
	}
	return s, nil
}

func describe(v jvalue) string {
	if v.kind == jString {
		return strconv.Quote(v.s)
	}
	return "(a JSON " + v.kind.String() + ")"
}

func elemPath(p string, v jvalue, i int) string {
	if v.kind == jArray {
		return joinIndex(p, i)
	}
	return p
}

func elemOff(v jvalue, i int) int {
	if v.kind == jArray && i < len(v.arr) {
		return v.arr[i].off
	}
	return v.off
}

// stringList accepts a string or a non-empty array of strings.
func (d *decoder) stringList(path string, v jvalue) ([]string, error) {
	switch v.kind {
	case jString:
		return []string{v.s}, nil
	case jArray:
		if len(v.arr) == 0 {
			return nil, d.ef.invalid(path, v.off, "empty list", "a string or a non-empty array of strings")
		}
		out := make([]string, len(v.arr))
		for i, e := range v.arr {
			if e.kind != jString {
				return nil, d.ef.invalid(joinIndex(path, i), e.off, "element is a JSON "+e.kind.String(), "a string")
			}
			out[i] = e.s
		}
		return out, nil
	}
	return nil, d.ef.invalid(path, v.off, "value is a JSON "+v.kind.String(), "a string or an array of strings")
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

func (d *decoder) principal(path string, v jvalue) ([]string, error) {
	const exp = `{"RAM": ["acs:ram::<uid>:*" | "acs:ram::<uid>:root" | "acs:ram::<uid>:user/<name>" | "acs:ram::<uid>:role/<name>", ...]}`
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
		if m.key != "RAM" {
			if strings.EqualFold(m.key, "RAM") {
				return nil, d.ef.invalid(p, m.keyOff, "unknown principal type "+strconv.Quote(m.key)+" (names are case-sensitive)", "RAM")
			}
			return nil, d.ef.unsupported(p, m.keyOff, "unsupported principal type "+strconv.Quote(m.key), "RAM (key and secret policies name RAM identities only)")
		}
		list, err := d.stringList(p, m.val)
		if err != nil {
			return nil, err
		}
		for j, s := range list {
			if _, ok := parsePolicyPrincipal(s); !ok {
				problem := "invalid principal " + strconv.Quote(s)
				if isDigits(s) {
					problem = "bare account ID " + strconv.Quote(s) + " is not accepted"
				}
				return nil, d.ef.invalid(elemPath(p, m.val, j), elemOff(m.val, j), problem, "acs:ram::<uid>:*, acs:ram::<uid>:root, acs:ram::<uid>:user/<name> or acs:ram::<uid>:role/<name>")
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
	op     condOp
	negate bool
}

var ramOperators = map[string]ramOperator{
	"StringEquals":              {opStringEquals, false},
	"StringNotEquals":           {opStringEquals, true},
	"StringEqualsIgnoreCase":    {opStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {opStringEqualsIgnoreCase, true},
	"StringLike":                {opStringLike, false},
	"StringNotLike":             {opStringLike, true},
	"NumericEquals":             {opNumericEquals, false},
	"NumericNotEquals":          {opNumericEquals, true},
	"NumericLessThan":           {opNumericLessThan, false},
	"NumericLessThanEquals":     {opNumericLessThanEquals, false},
	"NumericGreaterThan":        {opNumericGreaterThan, false},
	"NumericGreaterThanEquals":  {opNumericGreaterThanEquals, false},
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

// RAMOperators returns the names of the condition operators RAM supports.
func RAMOperators() []string {
	return slices.Sorted(maps.Keys(ramOperators))
}

func (d *decoder) operator(path string, m jmember) (ramOperator, error) {
	name := m.key
	if o, ok := ramOperators[name]; ok {
		return o, nil
	}
	p := joinKey(path, name)
	names := RAMOperators()
	for _, prefix := range []string{"ForAnyValue:", "ForAllValues:"} {
		if strings.HasPrefix(name, prefix) {
			return ramOperator{}, d.ef.unsupported(p, m.keyOff, "RAM does not support the set operator prefix "+strconv.Quote(prefix), "a plain operator such as "+closestOr(strings.TrimPrefix(name, prefix), names))
		}
	}
	if base, ok := strings.CutSuffix(name, "IfExists"); ok {
		return ramOperator{}, d.ef.unsupported(p, m.keyOff, "RAM does not support ...IfExists operators", closestOr(base, names))
	}
	if name == "Null" {
		return ramOperator{}, d.ef.unsupported(p, m.keyOff, "RAM does not support the Null operator", "one of "+strings.Join(names, ", "))
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return ramOperator{}, d.ef.invalid(p, m.keyOff, "unknown condition operator "+strconv.Quote(name)+" (operator names are case-sensitive)", n)
		}
	}
	exp := "one of " + strings.Join(names, ", ")
	if s := closest(name, names, 3); s != "" {
		exp = s + " (did you mean " + s + "?)"
	}
	return ramOperator{}, d.ef.invalid(p, m.keyOff, "unknown condition operator "+strconv.Quote(name), exp)
}

func closestOr(name string, names []string) string {
	if s := closest(name, names, 3); s != "" {
		return s
	}
	return "one of " + strings.Join(names, ", ")
}

func (d *decoder) condition(path string, v jvalue) ([]condDoc, error) {
	if v.kind != jObject {
		return nil, d.ef.invalid(path, v.off, "Condition is a JSON "+v.kind.String(), `{"<operator>": {"<key>": "<value>" | ["<value>", ...]}}`)
	}
	if len(v.obj) == 0 {
		return nil, d.ef.invalid(path, v.off, "empty Condition", "at least one operator, or no Condition element")
	}
	var out []condDoc
	for i := range v.obj {
		om := &v.obj[i]
		op, err := d.operator(path, *om)
		if err != nil {
			return nil, err
		}
		opPath := joinKey(path, om.key)
		if om.val.kind != jObject || len(om.val.obj) == 0 {
			return nil, d.ef.invalid(opPath, om.val.off, "operator block is "+describeBlock(om.val), `{"<key>": "<value>" | ["<value>", ...]}`)
		}
		for j := range om.val.obj {
			km := &om.val.obj[j]
			keyPath := joinKey(opPath, km.key)
			if km.key == "" || strings.ContainsAny(km.key, " \t\r\n") {
				return nil, d.ef.invalid(keyPath, km.keyOff, "invalid condition key "+strconv.Quote(km.key), "a key such as acs:SourceIp or kms:tag/<TagKey>")
			}
			values, err := d.scalarList(keyPath, km.val)
			if err != nil {
				return nil, err
			}
			if _, bad, exp := compileCondition(op.op, op.negate, km.key, values); bad >= 0 {
				return nil, d.ef.invalid(elemPath(keyPath, km.val, bad), elemOff(km.val, bad), "invalid value "+strconv.Quote(values[bad])+" for "+om.key, exp)
			}
			out = append(out, condDoc{op: om.key, key: km.key, values: values})
		}
	}
	return out, nil
}

func describeBlock(v jvalue) string {
	if v.kind == jObject {
		return "empty"
	}
	return "a JSON " + v.kind.String()
}

// scalarList accepts a scalar (string, number, boolean) or a non-empty
// array of scalars; numbers and booleans keep their literal text.
func (d *decoder) scalarList(path string, v jvalue) ([]string, error) {
	const exp = "a string, number or boolean, or a non-empty array of them"
	switch v.kind {
	case jString, jNumber, jBool:
		return []string{v.s}, nil
	case jArray:
		if len(v.arr) == 0 {
			return nil, d.ef.invalid(path, v.off, "empty list", exp)
		}
		out := make([]string, len(v.arr))
		for i, e := range v.arr {
			if e.kind != jString && e.kind != jNumber && e.kind != jBool {
				return nil, d.ef.invalid(joinIndex(path, i), e.off, "value is a JSON "+e.kind.String(), "a string, number or boolean")
			}
			out[i] = e.s
		}
		return out, nil
	}
	return nil, d.ef.invalid(path, v.off, "value is a JSON "+v.kind.String(), exp)
}

// compileStatement turns a validated statement into its dialect-independent
// form. Validation has already parsed every value, so it cannot fail.
func compileStatement(s *stmtDoc, kind PolicyKind) compiledStatement {
	c := compiledStatement{deny: s.effect == "Deny", notAction: s.notAction}
	c.actions = make([]glob, len(s.actions))
	for i, a := range s.actions {
		c.actions[i] = compileGlob(a, true)
	}
	if kind == RAMPolicy {
		c.resources = make([]glob, len(s.resources))
		for i, r := range s.resources {
			c.resources[i] = compileGlob(r, false)
		}
	} else {
		c.accountIsRoot = true
		c.principals = make([]principal, 0, len(s.principals))
		for _, ps := range s.principals {
			p, _ := parsePolicyPrincipal(ps)
			c.principals = append(c.principals, p)
		}
	}
	for _, cd := range s.conds {
		o := ramOperators[cd.op]
		cond, _, _ := compileCondition(o.op, o.negate, cd.key, cd.values)
		cond.name = cd.op
		cond.class = conditionKeyClass(cd.key)
		c.conds = append(c.conds, cond)
	}
	return c
}

// MarshalJSON returns the policy in canonical form: every list as an array,
// elements in a fixed order, condition values as strings. Parsing the
// output yields an equivalent policy, and marshalling that again yields the
// same bytes.
func (p *Policy) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"Version":`)
	writeJSONString(&b, p.doc.version)
	b.WriteString(`,"Statement":[`)
	for i := range p.doc.statements {
		if i > 0 {
			b.WriteByte(',')
		}
		writeStatement(&b, &p.doc.statements[i])
	}
	b.WriteString("]}")
	return b.Bytes(), nil
}

// StatementJSON returns statement i in the canonical form of
// [Policy.MarshalJSON], or nil if there is no such statement.
func (p *Policy) StatementJSON(i int) []byte {
	if i < 0 || i >= len(p.doc.statements) {
		return nil
	}
	var b bytes.Buffer
	writeStatement(&b, &p.doc.statements[i])
	return b.Bytes()
}

func writeStatement(b *bytes.Buffer, s *stmtDoc) {
	b.WriteByte('{')
	if s.hasSid {
		b.WriteString(`"Sid":`)
		writeJSONString(b, s.sid)
		b.WriteByte(',')
	}
	b.WriteString(`"Effect":`)
	writeJSONString(b, s.effect)
	b.WriteString(`,"` + s.actionElem() + `":`)
	writeJSONStrings(b, s.actions)
	if s.principals != nil {
		b.WriteString(`,"Principal":{`)
		writeJSONString(b, s.principalOf)
		b.WriteByte(':')
		writeJSONStrings(b, s.principals)
		b.WriteByte('}')
	}
	if s.hasResource {
		b.WriteString(`,"` + s.resourceElem() + `":`)
		writeJSONStrings(b, s.resources)
	}
	if len(s.conds) > 0 {
		b.WriteString(`,"Condition":{`)
		for i, c := range s.conds {
			if i == 0 || s.conds[i-1].op != c.op {
				if i > 0 {
					b.WriteString("},")
				}
				writeJSONString(b, c.op)
				b.WriteString(":{")
			} else {
				b.WriteByte(',')
			}
			writeJSONString(b, c.key)
			b.WriteByte(':')
			writeJSONStrings(b, c.values)
		}
		b.WriteString("}}")
	}
	b.WriteByte('}')
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // cannot fail for a string
	b.Write(enc)
}

func writeJSONStrings(b *bytes.Buffer, list []string) {
	b.WriteByte('[')
	for i, s := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(b, s)
	}
	b.WriteByte(']')
}

// closest returns the candidate nearest to s by case-insensitive edit
// distance, if that distance is at most max; "" otherwise.
func closest(s string, candidates []string, max int) string {
	best, bestD := "", max+1
	ls := strings.ToLower(s)
	for _, c := range candidates {
		if diff := len(c) - len(s); diff > max || -diff > max {
			continue // the distance is at least the length difference
		}
		if d := editDistance(ls, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance over bytes.
func editDistance(a, b string) int {
	if len(a) > 256 || len(b) > 256 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
