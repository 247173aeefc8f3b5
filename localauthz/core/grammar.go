package core

import (
	"strconv"
	"strings"
)

// This file holds the pieces of policy grammar every dialect shares: the
// document level (Version and Statement), the statement elements written
// alike (Sid, Effect, checked lists, Principal, Condition) and the
// condition operators with the same name and meaning. Each dialect's
// decoder keeps what it decides on its own: which elements exist
// (NotResource, Principal), which versions, which principals and which
// further operators.

// DocumentGrammar is what a dialect tells [DecodeDocument] about its
// documents.
type DocumentGrammar struct {
	// Version checks the Version element's value; an error rejects it.
	Version func(v Value) error
	// VersionExpected is what a missing Version should be, such as
	// `"Version": "1"`.
	VersionExpected string
	// StatementExpected describes the Statement element the dialect
	// accepts, such as "an array of statements".
	StatementExpected string
	// Unknown rejects a top-level element other than Version and
	// Statement.
	Unknown func(m Member) error
	// Statement decodes one statement at path.
	Statement func(path string, v Value) (StatementDoc, error)
}

// DecodeDocument decodes the top level of a policy document, a JSON object
// with Version and Statement, with a dialect's grammar.
func DecodeDocument(ef DocErrors, root Value, g DocumentGrammar) (Document, error) {
	var pd Document
	if root.Kind != KindObject {
		return pd, ef.Invalid("", root.Off, "document is a JSON "+root.Kind.String(), "a JSON object with Version and Statement")
	}
	var stmts *Value
	hasVersion := false
	for i := range root.Obj {
		m := &root.Obj[i]
		switch m.Key {
		case "Version":
			if err := g.Version(m.Val); err != nil {
				return pd, err
			}
			pd.Version = m.Val.S
			hasVersion = true
		case "Statement":
			stmts = &m.Val
		default:
			return pd, g.Unknown(*m)
		}
	}
	if !hasVersion {
		return pd, ef.MissingElement("", "Version", root.Off, g.VersionExpected)
	}
	if stmts == nil {
		return pd, ef.MissingElement("", "Statement", root.Off, g.StatementExpected)
	}
	var err error
	pd.Statements, err = StatementList(ef, *stmts, g.StatementExpected, g.Statement)
	return pd, err
}

// MissingElement returns the error for a required element elem of the
// object at path (starting at byte off) that is missing.
func (f DocErrors) MissingElement(path, elem string, off int, expected string) *PolicyError {
	return f.Invalid(JoinKey(path, elem), off, "missing required element", expected)
}

// UnknownElement returns the error for an element m of the object at path
// that is none of known: its name in another case (element names are
// case-sensitive), else the closest known name or the list of them.
// Dialects first reject the elements of other policy languages they name
// as unsupported.
func UnknownElement(ef DocErrors, path string, m Member, known []string) error {
	p := JoinKey(path, m.Key)
	for _, k := range known {
		if strings.EqualFold(k, m.Key) {
			return ef.Invalid(p, m.KeyOff, "unknown element "+strconv.Quote(m.Key)+" (element names are case-sensitive)", k)
		}
	}
	exp := "one of " + strings.Join(known, ", ")
	if s := Closest(m.Key, known, 2); s != "" {
		exp = s + " (did you mean " + s + "?)"
	}
	return ef.Invalid(p, m.KeyOff, "unknown element "+strconv.Quote(m.Key), exp)
}

// StatementGrammar is what a dialect tells [CommonElement] about its
// statements.
type StatementGrammar struct {
	// MaxSid is the longest Sid in characters; 0: any length.
	MaxSid int
	// CheckAction checks an Action or NotAction entry: what was expected,
	// or "" for a valid one.
	CheckAction func(string) string
}

// CommonElement decodes into s the statement elements every dialect
// writes alike: Sid (a string), Effect ("Allow" or "Deny"), and exactly one
// of Action or NotAction (a list of checked entries). It reports whether m
// (at path p) was one of them. A dialect that restricts one (NotAction in
// a legacy version) rejects it before.
func CommonElement(ef DocErrors, s *StatementDoc, p string, m *Member, g StatementGrammar) (bool, error) {
	v := m.Val
	switch m.Key {
	case "Sid":
		if v.Kind != KindString {
			return true, ef.Invalid(p, v.Off, "Sid is a JSON "+v.Kind.String(), "a string")
		}
		if g.MaxSid > 0 {
			if n := len([]rune(v.S)); n > g.MaxSid {
				return true, ef.Invalid(p, v.Off, "Sid is "+strconv.Itoa(n)+" characters long", "at most "+strconv.Itoa(g.MaxSid)+" characters")
			}
		}
		s.Sid, s.HasSid = v.S, true
	case "Effect":
		if v.Kind != KindString || (v.S != "Allow" && v.S != "Deny") {
			return true, ef.Invalid(p, v.Off, "invalid effect "+Describe(v), `"Allow" or "Deny"`)
		}
		s.Effect = v.S
	case "Action", "NotAction":
		if s.Actions != nil {
			return true, ef.Invalid(p, m.KeyOff, "both Action and NotAction", "exactly one of Action or NotAction")
		}
		list, err := CheckedList(ef, p, v, "action", g.CheckAction)
		if err != nil {
			return true, err
		}
		s.NotAction, s.Actions, s.ActionsArray = m.Key == "NotAction", list, v.Kind == KindArray
	default:
		return false, nil
	}
	return true, nil
}

// RequireCommon returns the error for a statement (at path, starting at
// byte off) without Effect, or else without Action or NotAction.
func RequireCommon(ef DocErrors, path string, off int, s *StatementDoc) error {
	switch {
	case s.Effect == "":
		return ef.MissingElement(path, "Effect", off, `"Effect": "Allow" or "Deny"`)
	case s.Actions == nil:
		return ef.MissingElement(path, "Action", off, "Action or NotAction")
	}
	return nil
}

// CheckedList decodes a list element (see [StringList]) and checks each
// entry: check returns what was expected, or "" for a valid entry. An
// invalid entry is reported as "invalid <what> <entry>".
func CheckedList(ef DocErrors, path string, v Value, what string, check func(string) string) ([]string, error) {
	list, err := StringList(ef, path, v)
	if err != nil {
		return nil, err
	}
	for j, s := range list {
		if exp := check(s); exp != "" {
			return nil, ef.Invalid(ElemPath(path, v, j), ElemOff(v, j), "invalid "+what+" "+strconv.Quote(s), exp)
		}
	}
	return list, nil
}

// PrincipalElement decodes a Principal element, {"<member>": <list>, ...}:
// member ("RAM", "IAM") is the one principal type the dialect accepts;
// its name in another case is invalid (names are case-sensitive) and any
// other type unsupported, otherExpected saying what to write instead.
// expected describes the whole element. check returns, for an invalid
// entry, the problem and what was expected, or "" for a valid one.
func PrincipalElement(ef DocErrors, path string, v Value, member, expected, otherExpected string, check func(s string) (problem, exp string)) ([]string, error) {
	if v.Kind != KindObject {
		return nil, ef.Invalid(path, v.Off, "Principal is a JSON "+v.Kind.String(), expected)
	}
	if len(v.Obj) == 0 {
		return nil, ef.Invalid(path, v.Off, "empty Principal", expected)
	}
	var out []string
	for i := range v.Obj {
		m := &v.Obj[i]
		p := JoinKey(path, m.Key)
		if m.Key != member {
			if strings.EqualFold(m.Key, member) {
				return nil, ef.Invalid(p, m.KeyOff, "unknown principal type "+strconv.Quote(m.Key)+" (names are case-sensitive)", member)
			}
			return nil, ef.Unsupported(p, m.KeyOff, "unsupported principal type "+strconv.Quote(m.Key), otherExpected)
		}
		list, err := StringList(ef, p, m.Val)
		if err != nil {
			return nil, err
		}
		for j, s := range list {
			if problem, exp := check(s); problem != "" {
				return nil, ef.Invalid(ElemPath(p, m.Val, j), ElemOff(m.Val, j), problem, exp)
			}
		}
		out = append(out, list...)
	}
	return out, nil
}

// OperatorSpec is what a condition operator's name stands for: the
// comparison and whether it is negated (StringNotEquals is StringEquals
// negated).
type OperatorSpec struct {
	Op     Op
	Negate bool
}

// sharedOperators are the condition operators whose name and meaning
// every dialect's documentation gives alike. The dialects differ on
// purpose elsewhere: Alibaba RAM's StringLike is a glob and its numbers
// are Numeric*; Huawei IAM's StringLike is a substring test, its glob is
// StringMatch, and its numbers are Number*.
var sharedOperators = map[string]OperatorSpec{
	"StringEquals":              {OpStringEquals, false},
	"StringNotEquals":           {OpStringEquals, true},
	"StringEqualsIgnoreCase":    {OpStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {OpStringEqualsIgnoreCase, true},
	"DateEquals":                {OpDateEquals, false},
	"DateNotEquals":             {OpDateEquals, true},
	"DateLessThan":              {OpDateLessThan, false},
	"DateLessThanEquals":        {OpDateLessThanEquals, false},
	"DateGreaterThan":           {OpDateGreaterThan, false},
	"DateGreaterThanEquals":     {OpDateGreaterThanEquals, false},
	"Bool":                      {OpBool, false},
	"IpAddress":                 {OpIPAddress, false},
	"NotIpAddress":              {OpIPAddress, true},
}

// Operators returns a dialect's operator table: the operators every
// dialect shares (String[Not]Equals[IgnoreCase], the six Date operators,
// Bool, IpAddress, NotIpAddress) and the dialect's own, extra.
func Operators(extra map[string]OperatorSpec) map[string]OperatorSpec {
	out := make(map[string]OperatorSpec, len(sharedOperators)+len(extra))
	for k, v := range sharedOperators {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// ConditionElement decodes a Condition element, {"<operator>": {"<key>":
// <values>, ...}, ...}, into (operator, key, values) triples in document
// order. operator resolves the operator member at opPath: its spec and
// whether the dialect knows it (a known operator's values are compiled to
// check them), or the error that rejects it. valueForm is how the dialect
// writes a key's values in messages (`["<value>", ...]`), keyExample
// names keys for an invalid one ("g:CurrentTime or kms:KeySpec").
func ConditionElement(ef DocErrors, path string, v Value, valueForm, keyExample string, operator func(opPath string, m Member) (OperatorSpec, bool, error)) ([]ConditionDoc, error) {
	if v.Kind != KindObject {
		return nil, ef.Invalid(path, v.Off, "Condition is a JSON "+v.Kind.String(), `{"<operator>": {"<key>": `+valueForm+`}}`)
	}
	if len(v.Obj) == 0 {
		return nil, ef.Invalid(path, v.Off, "empty Condition", "at least one operator, or no Condition element")
	}
	var out []ConditionDoc
	for i := range v.Obj {
		om := &v.Obj[i]
		opPath := JoinKey(path, om.Key)
		spec, known, err := operator(opPath, *om)
		if err != nil {
			return nil, err
		}
		if om.Val.Kind != KindObject || len(om.Val.Obj) == 0 {
			block := "empty"
			if om.Val.Kind != KindObject {
				block = "a JSON " + om.Val.Kind.String()
			}
			return nil, ef.Invalid(opPath, om.Val.Off, "operator block is "+block, `{"<key>": `+valueForm+`}`)
		}
		for j := range om.Val.Obj {
			km := &om.Val.Obj[j]
			keyPath := JoinKey(opPath, km.Key)
			if km.Key == "" || strings.ContainsAny(km.Key, " \t\r\n") {
				return nil, ef.Invalid(keyPath, km.KeyOff, "invalid condition key "+strconv.Quote(km.Key), "a key such as "+keyExample)
			}
			values, err := ScalarList(ef, keyPath, km.Val)
			if err != nil {
				return nil, err
			}
			if known {
				if _, bad, exp := CompileCondition(spec.Op, spec.Negate, km.Key, values); bad >= 0 {
					return nil, ef.Invalid(ElemPath(keyPath, km.Val, bad), ElemOff(km.Val, bad), "invalid value "+strconv.Quote(values[bad])+" for "+om.Key, exp)
				}
			}
			out = append(out, ConditionDoc{Op: om.Key, Key: km.Key, Values: values})
		}
	}
	return out, nil
}

// CompileGlobs compiles patterns (see [CompileGlob]); fold for action
// patterns, which compare case-insensitively.
func CompileGlobs(patterns []string, fold bool) []Glob {
	out := make([]Glob, len(patterns))
	for i, p := range patterns {
		out[i] = CompileGlob(p, fold)
	}
	return out
}
