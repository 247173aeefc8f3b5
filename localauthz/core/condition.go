package core

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// This file is the condition machinery: comparison operators, their
// negated forms, IfExists and set quantifiers. A dialect maps its operator
// names onto it and rejects the features it does not have.

// Op is a base comparison; negated operators set Condition.Negate.
type Op uint8

// Base operators; each dialect names them (RAM StringLike is OpStringLike,
// Huawei StringLike is OpStringContains).
const (
	OpStringEquals Op = iota + 1
	OpStringEqualsIgnoreCase
	OpStringLike
	OpNumericEquals
	OpNumericLessThan
	OpNumericLessThanEquals
	OpNumericGreaterThan
	OpNumericGreaterThanEquals
	OpDateEquals
	OpDateLessThan
	OpDateLessThanEquals
	OpDateGreaterThan
	OpDateGreaterThanEquals
	OpBool
	OpIPAddress
	OpStringContains  // substring test (Huawei StringLike)
	OpStringStartWith // prefix test (Huawei StringStartWith)
	OpStringEndWith   // suffix test (Huawei StringEndWith)
)

// ValueType is the type of the values an operator compares.
type ValueType uint8

// Value types.
const (
	TypeString ValueType = iota
	TypeNumber
	TypeDate
	TypeBool
	TypeIP
)

// ValueType is the type of the values the operator compares.
func (op Op) ValueType() ValueType {
	switch op {
	case OpNumericEquals, OpNumericLessThan, OpNumericLessThanEquals, OpNumericGreaterThan, OpNumericGreaterThanEquals:
		return TypeNumber
	case OpDateEquals, OpDateLessThan, OpDateLessThanEquals, OpDateGreaterThan, OpDateGreaterThanEquals:
		return TypeDate
	case OpBool:
		return TypeBool
	case OpIPAddress:
		return TypeIP
	default:
		return TypeString
	}
}

// Expected describes a valid value of the type, for errors.
func (t ValueType) Expected() string {
	switch t {
	case TypeNumber:
		return "a decimal number"
	case TypeDate:
		return "an ISO 8601 time such as 2019-08-12T17:00:00+08:00"
	case TypeBool:
		return `"true" or "false"`
	case TypeIP:
		return "an IPv4 or IPv6 address or CIDR block"
	default:
		return "a string"
	}
}

// SetQuantifier is how a multi-valued request key is compared; RAM has only
// SetNone, Huawei Cloud all three.
type SetQuantifier uint8

// Set quantifiers.
const (
	SetNone SetQuantifier = iota
	SetForAnyValue
	SetForAllValues
)

// Condition is one (operator, key, values) triple, compiled: values are
// parsed into their typed form once.
type Condition struct {
	Name     string // operator as written, e.g. "NotIpAddress"
	Op       Op
	Negate   bool // "Not" form: satisfied when no value matches (NOR)
	IfExists bool // satisfied when the key is absent (or has only empty values)
	Never    bool // never satisfied: an unknown operator, or one of the wrong type for its key
	Set      SetQuantifier
	Key      string
	Class    KeyClass // the key's class; 0: supplied by every action

	values []string // as written, for descriptions
	strs   []string
	globs  []Glob
	nums   []float64
	times  []instant
	bools  []bool
	nets   []netip.Prefix
}

// CompileCondition parses the values of one Condition. On failure it returns
// the index of the bad value and what was expected.
func CompileCondition(op Op, negate bool, key string, values []string) (Condition, int, string) {
	c := Condition{Op: op, Negate: negate, Key: key, values: values}
	t := op.ValueType()
	for i, v := range values {
		switch t {
		case TypeString:
			if op == OpStringLike {
				c.globs = append(c.globs, CompileGlob(v, false))
			} else {
				c.strs = append(c.strs, v)
			}
		case TypeNumber:
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return c, i, t.Expected()
			}
			c.nums = append(c.nums, f)
		case TypeDate:
			ts, ok := parseISOTime(v)
			if !ok {
				return c, i, t.Expected()
			}
			c.times = append(c.times, ts)
		case TypeBool:
			b, ok := parseBool(v)
			if !ok {
				return c, i, t.Expected()
			}
			c.bools = append(c.bools, b)
		case TypeIP:
			p, ok := parseIPValue(v)
			if !ok {
				return c, i, t.Expected()
			}
			c.nets = append(c.nets, p)
		}
	}
	return c, -1, ""
}

// eval reports whether the Condition holds for vals, the request's values
// of its key, and whether the key was absent (vals empty).
//
// Without a set quantifier, several policy values are ORed, and several
// request values too: a positive operator holds when any request value
// matches any policy value, a negated one when none does. An absent key
// fails a positive operator and satisfies a negated one (see the package
// documentation, # Assumptions).
func (c *Condition) eval(vals []string) (ok, absent bool) {
	if c.Never {
		return false, false
	}
	if len(vals) == 0 || c.IfExists && allEmpty(vals) {
		switch {
		case c.IfExists:
			return true, true
		case c.Set == SetForAllValues:
			return true, true
		case c.Set == SetForAnyValue:
			return false, true
		}
		return c.Negate, true
	}
	switch c.Set {
	case SetForAllValues:
		for _, v := range vals {
			if c.matchOne(v) == c.Negate {
				return false, false
			}
		}
		return true, false
	case SetForAnyValue:
		for _, v := range vals {
			if c.matchOne(v) != c.Negate {
				return true, false
			}
		}
		return false, false
	default:
		for _, v := range vals {
			if c.matchOne(v) {
				return !c.Negate, false
			}
		}
		return c.Negate, false
	}
}

// Describe renders the condition for people as what it requires, e.g.
// "acs:SecureTransport is true (Bool)" or "acs:SourceIp is in 10.0.0.0/8
// (IpAddress)".
func (c *Condition) Describe() string {
	if c.Never {
		return c.Key + " is tested by " + c.Name + ", an operator that never matches"
	}
	many := len(c.values) > 1
	var pos, neg string
	switch c.Op {
	case OpIPAddress:
		pos, neg = "is in", "is not in"
	case OpStringLike:
		pos, neg = "matches", "does not match"
	case OpStringContains:
		pos, neg = "contains", "does not contain"
	case OpStringStartWith:
		pos, neg = "starts with", "does not start with"
	case OpStringEndWith:
		pos, neg = "ends with", "does not end with"
	case OpNumericLessThan:
		pos = "is less than"
	case OpDateLessThan:
		pos = "is before"
	case OpNumericLessThanEquals, OpDateLessThanEquals:
		pos = "is at most"
	case OpNumericGreaterThan:
		pos = "is greater than"
	case OpDateGreaterThan:
		pos = "is after"
	case OpNumericGreaterThanEquals, OpDateGreaterThanEquals:
		pos = "is at least"
	default:
		pos, neg = "is", "is not"
		if many {
			pos, neg = "is one of", "is none of"
		}
	}
	verb := pos
	if c.Negate {
		verb = neg
	}
	if many && c.Op != OpStringEquals && c.Op != OpStringEqualsIgnoreCase && c.Op != OpBool &&
		c.Op != OpNumericEquals && c.Op != OpDateEquals {
		if c.Negate {
			verb += " any of"
		} else {
			verb += " one of"
		}
	}
	switch c.Set {
	case SetForAnyValue:
		verb = "has a value that " + verb
	case SetForAllValues:
		verb = "has only values that " + verb
	}
	return c.Key + " " + verb + " " + strings.Join(c.values, ", ") + " (" + c.Name + ")"
}

// DescribeRequest renders what a request for an action supplying keys
// held for the condition's key: "the request has false", "the request has
// no acs:SourceIp".
func DescribeRequest(c *Condition, ctx Context, keys KeyClass) string {
	var v []string
	if c.Class == 0 || keys&c.Class != 0 {
		v = ctx.lookup(c.Key)
	}
	switch {
	case isUnknown(v):
		return "the client does not know " + c.Key
	case len(v) == 0:
		return "the request has no " + c.Key
	}
	return "the request has " + strings.Join(v, ", ")
}

func allEmpty(vals []string) bool {
	for _, v := range vals {
		if v != "" {
			return false
		}
	}
	return true
}

// matchOne reports whether the request value v matches any policy value
// under the base operator. A value that does not parse as the operator's
// type matches nothing.
func (c *Condition) matchOne(v string) bool {
	switch c.Op {
	case OpStringEquals:
		for _, s := range c.strs {
			if s == v {
				return true
			}
		}
	case OpStringEqualsIgnoreCase:
		for _, s := range c.strs {
			if strings.EqualFold(s, v) {
				return true
			}
		}
	case OpStringLike:
		for i := range c.globs {
			if c.globs[i].Match(v) {
				return true
			}
		}
	case OpStringContains:
		for _, s := range c.strs {
			if strings.Contains(v, s) {
				return true
			}
		}
	case OpStringStartWith:
		for _, s := range c.strs {
			if strings.HasPrefix(v, s) {
				return true
			}
		}
	case OpStringEndWith:
		for _, s := range c.strs {
			if strings.HasSuffix(v, s) {
				return true
			}
		}
	case OpNumericEquals, OpNumericLessThan, OpNumericLessThanEquals, OpNumericGreaterThan, OpNumericGreaterThanEquals:
		f, ok := parseNumber(v)
		if !ok {
			return false
		}
		for _, n := range c.nums {
			if compareOrdered(c.Op, cmpFloat(f, n)) {
				return true
			}
		}
	case OpDateEquals, OpDateLessThan, OpDateLessThanEquals, OpDateGreaterThan, OpDateGreaterThanEquals:
		t, ok := parseISOTime(v)
		if !ok {
			return false
		}
		for _, p := range c.times {
			if compareOrdered(c.Op, t.cmp(p)) {
				return true
			}
		}
	case OpBool:
		b, ok := parseBool(v)
		if !ok {
			return false
		}
		for _, p := range c.bools {
			if p == b {
				return true
			}
		}
	case OpIPAddress:
		a, err := netip.ParseAddr(strings.TrimSpace(v))
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range c.nets {
			if p.Contains(a) {
				return true
			}
		}
	}
	return false
}

// compareOrdered applies an ordered operator to r = cmp(request, policy).
func compareOrdered(op Op, r int) bool {
	switch op {
	case OpNumericEquals, OpDateEquals:
		return r == 0
	case OpNumericLessThan, OpDateLessThan:
		return r < 0
	case OpNumericLessThanEquals, OpDateLessThanEquals:
		return r <= 0
	case OpNumericGreaterThan, OpDateGreaterThan:
		return r > 0
	default:
		return r >= 0
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0 // equal; NaN never reaches here (see parseNumber)
}

// parseNumber parses a request value without allocating on failure for the
// common non-numeric case.
func parseNumber(v string) (float64, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func parseBool(v string) (bool, bool) {
	switch {
	case strings.EqualFold(v, "true"):
		return true, true
	case strings.EqualFold(v, "false"):
		return false, true
	}
	return false, false
}

// parseIPValue accepts a CIDR block or a single address (a /32 or /128).
func parseIPValue(v string) (netip.Prefix, bool) {
	v = strings.TrimSpace(v)
	if strings.IndexByte(v, '/') >= 0 {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return netip.Prefix{}, false
		}
		a := p.Addr()
		bits := p.Bits()
		if a.Is4In6() {
			if bits < 96 {
				return netip.Prefix{}, false
			}
			a, bits = a.Unmap(), bits-96
		}
		return netip.PrefixFrom(a, bits).Masked(), true
	}
	a, err := netip.ParseAddr(v)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// instant is a point in time as seconds and nanoseconds since the Unix epoch.
type instant struct {
	sec  int64
	nsec int32
}

func (a instant) cmp(b instant) int {
	switch {
	case a.sec < b.sec:
		return -1
	case a.sec > b.sec:
		return 1
	case a.nsec < b.nsec:
		return -1
	case a.nsec > b.nsec:
		return 1
	}
	return 0
}

// parseISOTime parses the ISO 8601 forms RAM documents for acs:CurrentTime:
// YYYY-MM-DD, or YYYY-MM-DDThh:mm[:ss[.fraction]] followed by Z, ±hh:mm or
// ±hhmm. A time without a zone is read as UTC. It does not allocate.
func parseISOTime(s string) (instant, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return instant{}, false
	}
	y, ok1 := atoiN(s[0:4])
	mo, ok2 := atoiN(s[5:7])
	d, ok3 := atoiN(s[8:10])
	if !ok1 || !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) {
		return instant{}, false
	}
	var h, mi, sec, nsec, offset int
	rest := s[10:]
	if rest != "" {
		if rest[0] != 'T' && rest[0] != 't' || len(rest) < 6 || rest[3] != ':' {
			return instant{}, false
		}
		var okH, okM bool
		h, okH = atoiN(rest[1:3])
		mi, okM = atoiN(rest[4:6])
		if !okH || !okM || h > 23 || mi > 59 {
			return instant{}, false
		}
		rest = rest[6:]
		if len(rest) >= 3 && rest[0] == ':' {
			var okS bool
			sec, okS = atoiN(rest[1:3])
			if !okS || sec > 60 {
				return instant{}, false
			}
			rest = rest[3:]
			if len(rest) > 1 && (rest[0] == '.' || rest[0] == ',') {
				i := 1
				scale := 100000000
				for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
					nsec += int(rest[i]-'0') * scale
					scale /= 10
					i++
				}
				if i == 1 {
					return instant{}, false
				}
				rest = rest[i:]
			}
		}
		switch {
		case rest == "" || rest == "Z" || rest == "z":
		case rest[0] == '+' || rest[0] == '-':
			z := rest[1:]
			var oh, om int
			var okH, okM bool
			switch len(z) {
			case 5:
				if z[2] != ':' {
					return instant{}, false
				}
				oh, okH = atoiN(z[0:2])
				om, okM = atoiN(z[3:5])
			case 4:
				oh, okH = atoiN(z[0:2])
				om, okM = atoiN(z[2:4])
			case 2:
				oh, okH = atoiN(z)
				okM = true
			}
			if !okH || !okM || oh > 23 || om > 59 {
				return instant{}, false
			}
			offset = oh*3600 + om*60
			if rest[0] == '-' {
				offset = -offset
			}
		default:
			return instant{}, false
		}
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	return instant{sec: t.Unix() - int64(offset), nsec: int32(nsec)}, true
}

func atoiN(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(s) > 0
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
