package refpolicy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Kind is the kind of a policy document.
type Kind int

// Policy kinds.
const (
	RAM    Kind = iota // a RAM identity policy, attached to a user, group or role
	Key                // a KMS key policy
	Secret             // a KMS secret policy
)

func (k Kind) String() string {
	switch k {
	case RAM:
		return "RAM policy"
	case Key:
		return "key policy"
	case Secret:
		return "secret policy"
	}
	return "policy kind " + strconv.Itoa(int(k))
}

// Size limits in bytes: RAM custom policies 6,144; key policies "cannot
// exceed 32,768 bytes" (seed 004), assumed the same for secret policies.
const (
	MaxRAMPolicyBytes      = 6144
	MaxResourcePolicyBytes = 32768
	maxDepth               = 16
)

// Error is a policy the parser rejects: Path is the JSON path of the
// offending element ("Statement[1].Effect", "" for the document itself).
type Error struct {
	Kind        Kind
	Path        string
	Msg         string
	Unsupported bool // the element or operator exists elsewhere but not in RAM
}

func (e *Error) Error() string {
	where := e.Path
	if where == "" {
		where = "document"
	}
	return "refpolicy: " + e.Kind.String() + ": " + where + ": " + e.Msg
}

// Policy is a parsed policy document.
type Policy struct {
	Kind       Kind
	Statements []Statement
}

// Statement is one statement of a policy.
type Statement struct {
	Sid        string
	Deny       bool
	NotAction  bool     // Actions lists the actions the statement does not cover
	Actions    []string // patterns, compared case-insensitively
	Resources  []string // patterns, compared case-sensitively
	Principals []Principal
	Conditions []Condition
}

// Principal is an entry of a key or secret policy's Principal.RAM list.
type Principal struct {
	Account string
	Kind    string // "account" (acs:ram::<uid>:*), "root", "user" or "role"
	Name    string // user or role name
}

// Condition is one (operator, key, values) triple of a Condition block.
type Condition struct {
	Operator string
	Key      string
	Values   []string // as written; typed forms below
	nums     []float64
	dates    []time.Time
	bools    []bool
	prefixes []netip.Prefix
}

// node is a JSON value with its object keys in document order, so that
// errors can name paths and duplicate keys can be refused.
type node struct {
	kind  byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys  []string
	vals  []*node
	items []*node
	str   string
	b     bool
}

func (n *node) field(k string) *node {
	for i, key := range n.keys {
		if key == k {
			return n.vals[i]
		}
	}
	return nil
}

func (n *node) describe() string {
	switch n.kind {
	case 'o':
		return "an object"
	case 'a':
		return "an array"
	case 's':
		return "a string"
	case 'n':
		return "a number"
	case 'b':
		return "a boolean"
	}
	return "null"
}

type treeParser struct {
	dec  *json.Decoder
	kind Kind
}

func (p *treeParser) errf(path, format string, args ...any) *Error {
	return &Error{Kind: p.kind, Path: path, Msg: fmt.Sprintf(format, args...)}
}

func (p *treeParser) value(path string, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, p.errf(path, "nested deeper than %d levels", maxDepth)
	}
	tok, err := p.dec.Token()
	if err != nil {
		return nil, p.errf(path, "invalid JSON: %v", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &node{kind: 'o'}
			for p.dec.More() {
				kt, err := p.dec.Token()
				if err != nil {
					return nil, p.errf(path, "invalid JSON: %v", err)
				}
				k, ok := kt.(string)
				if !ok {
					return nil, p.errf(path, "invalid JSON object key")
				}
				if n.field(k) != nil {
					return nil, p.errf(join(path, k), "duplicate key %q", k)
				}
				v, err := p.value(join(path, k), depth+1)
				if err != nil {
					return nil, err
				}
				n.keys, n.vals = append(n.keys, k), append(n.vals, v)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.errf(path, "invalid JSON: %v", err)
			}
			return n, nil
		case '[':
			n := &node{kind: 'a'}
			for i := 0; p.dec.More(); i++ {
				v, err := p.value(path+"["+strconv.Itoa(i)+"]", depth+1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, v)
			}
			if _, err := p.dec.Token(); err != nil {
				return nil, p.errf(path, "invalid JSON: %v", err)
			}
			return n, nil
		}
		return nil, p.errf(path, "invalid JSON delimiter %v", t)
	case string:
		return &node{kind: 's', str: t}, nil
	case json.Number:
		return &node{kind: 'n', str: t.String()}, nil
	case bool:
		return &node{kind: 'b', b: t, str: strconv.FormatBool(t)}, nil
	case nil:
		return &node{kind: 'z'}, nil
	}
	return nil, p.errf(path, "invalid JSON token")
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Parse parses and validates a policy document of kind k. It never panics;
// every rejection is an *Error.
func Parse(doc []byte, k Kind) (*Policy, error) {
	limit := MaxRAMPolicyBytes
	if k != RAM {
		limit = MaxResourcePolicyBytes
	}
	if k != RAM && k != Key && k != Secret {
		return nil, &Error{Kind: k, Msg: "unknown policy kind"}
	}
	if len(doc) > limit {
		return nil, &Error{Kind: k, Msg: fmt.Sprintf("%d bytes, more than the %d allowed", len(doc), limit)}
	}
	p := &treeParser{dec: json.NewDecoder(bytes.NewReader(doc)), kind: k}
	p.dec.UseNumber()
	root, err := p.value("", 0)
	if err != nil {
		return nil, err
	}
	if _, err := p.dec.Token(); !errors.Is(err, io.EOF) {
		return nil, p.errf("", "trailing data after the JSON object")
	}
	if root.kind != 'o' {
		return nil, p.errf("", "must be a JSON object, not %s", root.describe())
	}
	for _, key := range root.keys {
		if key != "Version" && key != "Statement" {
			return nil, p.errf(key, "unknown element (expected Version and Statement)")
		}
	}
	v := root.field("Version")
	if v == nil || v.kind != 's' || v.str != "1" {
		return nil, p.errf("Version", `must be the string "1"`)
	}
	st := root.field("Statement")
	if st == nil {
		return nil, p.errf("Statement", "is required")
	}
	var items []*node
	switch st.kind {
	case 'o':
		items = []*node{st}
	case 'a':
		items = st.items
	default:
		return nil, p.errf("Statement", "must be an object or an array of objects, not %s", st.describe())
	}
	if len(items) == 0 {
		return nil, p.errf("Statement", "must not be empty")
	}
	pol := &Policy{Kind: k}
	for i, it := range items {
		path := "Statement[" + strconv.Itoa(i) + "]"
		if st.kind == 'o' {
			path = "Statement"
		}
		s, err := p.statement(path, it)
		if err != nil {
			return nil, err
		}
		pol.Statements = append(pol.Statements, s)
	}
	return pol, nil
}

var statementElements = map[string]bool{
	"Sid": true, "Effect": true, "Action": true, "NotAction": true,
	"Resource": true, "Principal": true, "Condition": true,
}

func (p *treeParser) statement(path string, n *node) (Statement, error) {
	var s Statement
	if n.kind != 'o' {
		return s, p.errf(path, "must be an object, not %s", n.describe())
	}
	for _, key := range n.keys {
		switch {
		case key == "NotResource" || key == "NotPrincipal":
			e := p.errf(join(path, key), "RAM policies have no %s element", key)
			e.Unsupported = true
			return s, e
		case !statementElements[key]:
			return s, p.errf(join(path, key), "unknown element (element names are case-sensitive)")
		}
	}
	if sid := n.field("Sid"); sid != nil {
		if sid.kind != 's' {
			return s, p.errf(join(path, "Sid"), "must be a string")
		}
		if len(sid.str) > 128 {
			return s, p.errf(join(path, "Sid"), "longer than 128 characters")
		}
		s.Sid = sid.str
	}
	eff := n.field("Effect")
	switch {
	case eff == nil:
		return s, p.errf(join(path, "Effect"), "is required")
	case eff.kind == 's' && eff.str == "Allow":
	case eff.kind == 's' && eff.str == "Deny":
		s.Deny = true
	default:
		return s, p.errf(join(path, "Effect"), `must be "Allow" or "Deny"`)
	}
	act, notAct := n.field("Action"), n.field("NotAction")
	actPath := join(path, "Action")
	switch {
	case act != nil && notAct != nil:
		return s, p.errf(path, "has both Action and NotAction; only one is allowed")
	case act == nil && notAct == nil:
		return s, p.errf(actPath, "is required (or NotAction)")
	case notAct != nil:
		act, actPath, s.NotAction = notAct, join(path, "NotAction"), true
	}
	var err error
	if s.Actions, err = p.stringList(actPath, act); err != nil {
		return s, err
	}
	for i, a := range s.Actions {
		if p.kind != RAM && !strings.HasPrefix(strings.ToLower(a), "kms:") {
			return s, p.errf(actPath+"["+strconv.Itoa(i)+"]", "%q: key and secret policy actions must start with kms:", a)
		}
	}
	res := n.field("Resource")
	if res == nil {
		return s, p.errf(join(path, "Resource"), "is required")
	}
	if s.Resources, err = p.stringList(join(path, "Resource"), res); err != nil {
		return s, err
	}
	if p.kind != RAM {
		for i, r := range s.Resources {
			if r != "*" {
				return s, p.errf(join(path, "Resource")+"["+strconv.Itoa(i)+"]", "%q: must be \"*\" (the %s's own resource)", r, strings.TrimSuffix(p.kind.String(), " policy"))
			}
		}
	}
	pr := n.field("Principal")
	switch {
	case p.kind == RAM && pr != nil:
		return s, p.errf(join(path, "Principal"), "RAM identity policies have no Principal")
	case p.kind != RAM && pr == nil:
		return s, p.errf(join(path, "Principal"), "is required in a %s", p.kind)
	case pr != nil:
		if s.Principals, err = p.principals(join(path, "Principal"), pr); err != nil {
			return s, err
		}
	}
	if c := n.field("Condition"); c != nil {
		if s.Conditions, err = p.conditions(join(path, "Condition"), c); err != nil {
			return s, err
		}
	}
	return s, nil
}

// stringList reads a string or a non-empty array of non-empty strings.
func (p *treeParser) stringList(path string, n *node) ([]string, error) {
	if n.kind == 's' {
		if n.str == "" {
			return nil, p.errf(path, "must not be empty")
		}
		return []string{n.str}, nil
	}
	if n.kind != 'a' {
		return nil, p.errf(path, "must be a string or an array of strings, not %s", n.describe())
	}
	if len(n.items) == 0 {
		return nil, p.errf(path, "must not be an empty array")
	}
	out := make([]string, 0, len(n.items))
	for i, it := range n.items {
		ip := path + "[" + strconv.Itoa(i) + "]"
		if it.kind != 's' {
			return nil, p.errf(ip, "must be a string, not %s", it.describe())
		}
		if it.str == "" {
			return nil, p.errf(ip, "must not be empty")
		}
		out = append(out, it.str)
	}
	return out, nil
}

func (p *treeParser) principals(path string, n *node) ([]Principal, error) {
	if n.kind != 'o' {
		return nil, p.errf(path, `must be an object {"RAM": [...]}, not %s`, n.describe())
	}
	for _, k := range n.keys {
		if k != "RAM" {
			return nil, p.errf(join(path, k), `unknown principal type (only "RAM")`)
		}
	}
	ram := n.field("RAM")
	if ram == nil {
		return nil, p.errf(join(path, "RAM"), "is required")
	}
	list, err := p.stringList(join(path, "RAM"), ram)
	if err != nil {
		return nil, err
	}
	out := make([]Principal, 0, len(list))
	for i, s := range list {
		pr, ok := parsePolicyPrincipal(s)
		if !ok {
			return nil, p.errf(join(path, "RAM")+"["+strconv.Itoa(i)+"]",
				"%q: expected acs:ram::<uid>:*, acs:ram::<uid>:root, acs:ram::<uid>:user/<name> or acs:ram::<uid>:role/<name>", s)
		}
		out = append(out, pr)
	}
	return out, nil
}

// parsePolicyPrincipal reads acs:ram::<uid>:*, :root, :user/<name> or
// :role/<name>, the forms seed 004 shows. Wildcards are not part of any of
// them.
func parsePolicyPrincipal(s string) (Principal, bool) {
	rest, ok := strings.CutPrefix(s, "acs:ram::")
	if !ok {
		return Principal{}, false
	}
	account, rel, ok := strings.Cut(rest, ":")
	if !ok || !validAccount(account) {
		return Principal{}, false
	}
	switch {
	case rel == "*":
		return Principal{Account: account, Kind: "account"}, true
	case rel == "root":
		return Principal{Account: account, Kind: "root"}, true
	}
	kind, name, ok := strings.Cut(rel, "/")
	if !ok || (kind != "user" && kind != "role") || !validName(name) {
		return Principal{}, false
	}
	return Principal{Account: account, Kind: kind, Name: name}, true
}

// validAccount accepts an account ID: Alibaba's are 16 digits, but the
// emulator's tests may use other names; only wildcards and separators are
// refused, so that an account never matches more than itself.
func validAccount(a string) bool { return a != "" && !strings.ContainsAny(a, "*?/:") }

func validName(n string) bool { return n != "" && !strings.ContainsAny(n, "/*?:") }

// Operators RAM documents, by type.
var operatorTypes = map[string]byte{
	"StringEquals": 's', "StringNotEquals": 's', "StringEqualsIgnoreCase": 's',
	"StringNotEqualsIgnoreCase": 's', "StringLike": 's', "StringNotLike": 's',
	"NumericEquals": 'n', "NumericNotEquals": 'n', "NumericLessThan": 'n',
	"NumericLessThanEquals": 'n', "NumericGreaterThan": 'n', "NumericGreaterThanEquals": 'n',
	"DateEquals": 'd', "DateNotEquals": 'd', "DateLessThan": 'd',
	"DateLessThanEquals": 'd', "DateGreaterThan": 'd', "DateGreaterThanEquals": 'd',
	"Bool":      'b',
	"IpAddress": 'i', "NotIpAddress": 'i',
}

func (p *treeParser) conditions(path string, n *node) ([]Condition, error) {
	if n.kind != 'o' {
		return nil, p.errf(path, "must be an object of operators, not %s", n.describe())
	}
	if len(n.keys) == 0 {
		return nil, p.errf(path, "must not be empty")
	}
	var out []Condition
	for i, op := range n.keys {
		opPath := join(path, op)
		typ, ok := operatorTypes[op]
		if !ok {
			e := p.errf(opPath, "unknown condition operator (operator names are case-sensitive)")
			if strings.HasSuffix(op, "IfExists") || strings.HasPrefix(op, "ForAnyValue:") ||
				strings.HasPrefix(op, "ForAllValues:") || op == "Null" {
				e.Msg = "operator form not supported by RAM's documented operators"
				e.Unsupported = true
			}
			return nil, e
		}
		block := n.vals[i]
		if block.kind != 'o' || len(block.keys) == 0 {
			return nil, p.errf(opPath, "must be a non-empty object of condition keys")
		}
		for j, key := range block.keys {
			keyPath := join(opPath, key)
			if key == "" {
				return nil, p.errf(keyPath, "empty condition key")
			}
			c := Condition{Operator: op, Key: key}
			vals := []*node{block.vals[j]}
			if block.vals[j].kind == 'a' {
				vals = block.vals[j].items
			}
			if len(vals) == 0 {
				return nil, p.errf(keyPath, "must have at least one value")
			}
			for k, v := range vals {
				vp := keyPath
				if block.vals[j].kind == 'a' {
					vp += "[" + strconv.Itoa(k) + "]"
				}
				if v.kind != 's' && v.kind != 'n' && v.kind != 'b' {
					return nil, p.errf(vp, "must be a string, number or boolean, not %s", v.describe())
				}
				if err := c.addValue(typ, v.str); err != nil {
					return nil, p.errf(vp, "%q: %v", v.str, err)
				}
			}
			out = append(out, c)
		}
	}
	return out, nil
}

func (c *Condition) addValue(typ byte, v string) error {
	switch typ {
	case 'n':
		f, ok := parseNumber(v)
		if !ok {
			return errors.New("not a number")
		}
		c.nums = append(c.nums, f)
	case 'd':
		t, ok := parseDate(v)
		if !ok {
			return errors.New("not an ISO 8601 date")
		}
		c.dates = append(c.dates, t)
	case 'b':
		b, ok := parseBool(v)
		if !ok {
			return errors.New(`not "true" or "false"`)
		}
		c.bools = append(c.bools, b)
	case 'i':
		pf, ok := parseIPBlock(v)
		if !ok {
			return errors.New("not an IP address or CIDR block")
		}
		c.prefixes = append(c.prefixes, pf)
	}
	c.Values = append(c.Values, v)
	return nil
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f, err == nil && f == f // NaN is no number
}

// Date layouts accepted, all ISO 8601: a time without zone is UTC, a date
// alone is midnight UTC.
var dateLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04Z07:00", "2006-01-02"}

func parseDate(s string) (time.Time, bool) {
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

func parseIPBlock(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		pf, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		return pf.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}
