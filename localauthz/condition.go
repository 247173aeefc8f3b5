package localauthz

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// This file is the dialect-independent condition machinery: comparison
// operators, their negated forms, IfExists and set quantifiers. The RAM
// dialect (policy.go) maps operator names onto it and rejects the features
// RAM does not have (IfExists, ForAnyValue:, ForAllValues:); a dialect that
// has them (Huawei Cloud IAM) sets the corresponding fields.

// condOp is a base comparison; negated operators set condition.negate.
type condOp uint8

const (
	opStringEquals condOp = iota + 1
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLessThan
	opNumericLessThanEquals
	opNumericGreaterThan
	opNumericGreaterThanEquals
	opDateEquals
	opDateLessThan
	opDateLessThanEquals
	opDateGreaterThan
	opDateGreaterThanEquals
	opBool
	opIPAddress
	opStringContains  // substring test (Huawei StringLike)
	opStringStartWith // prefix test (Huawei StringStartWith)
	opStringEndWith   // suffix test (Huawei StringEndWith)
)

type valueType uint8

const (
	typeString valueType = iota
	typeNumber
	typeDate
	typeBool
	typeIP
)

func (op condOp) valueType() valueType {
	switch op {
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		return typeNumber
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		return typeDate
	case opBool:
		return typeBool
	case opIPAddress:
		return typeIP
	default:
		return typeString
	}
}

func (t valueType) expected() string {
	switch t {
	case typeNumber:
		return "a decimal number"
	case typeDate:
		return "an ISO 8601 time such as 2019-08-12T17:00:00+08:00"
	case typeBool:
		return `"true" or "false"`
	case typeIP:
		return "an IPv4 or IPv6 address or CIDR block"
	default:
		return "a string"
	}
}

// setQuantifier is how a multi-valued request key is compared; RAM has only
// setNone, Huawei Cloud all three.
type setQuantifier uint8

const (
	setNone setQuantifier = iota
	setForAnyValue
	setForAllValues
)

// condition is one (operator, key, values) triple, compiled: values are
// parsed into their typed form once.
type condition struct {
	name     string // operator as written, e.g. "NotIpAddress"
	op       condOp
	negate   bool // "Not" form: satisfied when no value matches (NOR)
	ifExists bool // satisfied when the key is absent (or has only empty values)
	never    bool // never satisfied: an unknown operator, or one of the wrong type for its key
	set      setQuantifier
	key      string
	class    keyClass // the key's class; 0: supplied by every action

	strs  []string
	globs []glob
	nums  []float64
	times []instant
	bools []bool
	nets  []netip.Prefix
}

// compileCondition parses the values of one condition. On failure it returns
// the index of the bad value and what was expected.
func compileCondition(op condOp, negate bool, key string, values []string) (condition, int, string) {
	c := condition{op: op, negate: negate, key: key}
	t := op.valueType()
	for i, v := range values {
		switch t {
		case typeString:
			if op == opStringLike {
				c.globs = append(c.globs, compileGlob(v, false))
			} else {
				c.strs = append(c.strs, v)
			}
		case typeNumber:
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
				return c, i, t.expected()
			}
			c.nums = append(c.nums, f)
		case typeDate:
			ts, ok := parseISOTime(v)
			if !ok {
				return c, i, t.expected()
			}
			c.times = append(c.times, ts)
		case typeBool:
			b, ok := parseBool(v)
			if !ok {
				return c, i, t.expected()
			}
			c.bools = append(c.bools, b)
		case typeIP:
			p, ok := parseIPValue(v)
			if !ok {
				return c, i, t.expected()
			}
			c.nets = append(c.nets, p)
		}
	}
	return c, -1, ""
}

// eval reports whether the condition holds for vals, the request's values
// of its key, and whether the key was absent (vals empty).
//
// Without a set quantifier, several policy values are ORed, and several
// request values too: a positive operator holds when any request value
// matches any policy value, a negated one when none does. An absent key
// fails a positive operator and satisfies a negated one (see the package
// documentation, # Assumptions).
func (c *condition) eval(vals []string) (ok, absent bool) {
	if c.never {
		return false, false
	}
	if len(vals) == 0 || c.ifExists && allEmpty(vals) {
		switch {
		case c.ifExists:
			return true, true
		case c.set == setForAllValues:
			return true, true
		case c.set == setForAnyValue:
			return false, true
		}
		return c.negate, true
	}
	switch c.set {
	case setForAllValues:
		for _, v := range vals {
			if c.matchOne(v) == c.negate {
				return false, false
			}
		}
		return true, false
	case setForAnyValue:
		for _, v := range vals {
			if c.matchOne(v) != c.negate {
				return true, false
			}
		}
		return false, false
	default:
		for _, v := range vals {
			if c.matchOne(v) {
				return !c.negate, false
			}
		}
		return c.negate, false
	}
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
func (c *condition) matchOne(v string) bool {
	switch c.op {
	case opStringEquals:
		for _, s := range c.strs {
			if s == v {
				return true
			}
		}
	case opStringEqualsIgnoreCase:
		for _, s := range c.strs {
			if strings.EqualFold(s, v) {
				return true
			}
		}
	case opStringLike:
		for i := range c.globs {
			if c.globs[i].match(v) {
				return true
			}
		}
	case opStringContains:
		for _, s := range c.strs {
			if strings.Contains(v, s) {
				return true
			}
		}
	case opStringStartWith:
		for _, s := range c.strs {
			if strings.HasPrefix(v, s) {
				return true
			}
		}
	case opStringEndWith:
		for _, s := range c.strs {
			if strings.HasSuffix(v, s) {
				return true
			}
		}
	case opNumericEquals, opNumericLessThan, opNumericLessThanEquals, opNumericGreaterThan, opNumericGreaterThanEquals:
		f, ok := parseNumber(v)
		if !ok {
			return false
		}
		for _, n := range c.nums {
			if compareOrdered(c.op, cmpFloat(f, n)) {
				return true
			}
		}
	case opDateEquals, opDateLessThan, opDateLessThanEquals, opDateGreaterThan, opDateGreaterThanEquals:
		t, ok := parseISOTime(v)
		if !ok {
			return false
		}
		for _, p := range c.times {
			if compareOrdered(c.op, t.cmp(p)) {
				return true
			}
		}
	case opBool:
		b, ok := parseBool(v)
		if !ok {
			return false
		}
		for _, p := range c.bools {
			if p == b {
				return true
			}
		}
	case opIPAddress:
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
func compareOrdered(op condOp, r int) bool {
	switch op {
	case opNumericEquals, opDateEquals:
		return r == 0
	case opNumericLessThan, opDateLessThan:
		return r < 0
	case opNumericLessThanEquals, opDateLessThanEquals:
		return r <= 0
	case opNumericGreaterThan, opDateGreaterThan:
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
