package core

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

// ParseOption configures a dialect's policy parser.
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
// reports. Without it a policy set names the policy by kind and position.
func WithName(name string) ParseOption { return func(c *parseConfig) { c.name = name } }

// Policy is a parsed, validated and compiled policy document of some
// dialect. It is immutable and safe for concurrent use.
type Policy struct {
	name  string
	kind  PolicyKind
	doc   Document
	stmts []Statement
}

// Name returns the name given with [WithName], or "".
func (p *Policy) Name() string { return p.name }

// Kind returns the kind the policy was parsed as.
func (p *Policy) Kind() PolicyKind { return p.kind }

// Version returns the policy's Version element.
func (p *Policy) Version() string { return p.doc.Version }

// Document returns the policy as written, normalised; for linters. It
// must not be modified.
func (p *Policy) Document() *Document { return &p.doc }

// Statements returns the compiled statements, one per statement of the
// document, for evaluators. They must not be modified.
func (p *Policy) Statements() []Statement { return p.stmts }

// Document is a policy as written, normalised (strings or arrays become
// arrays), kept for marshalling and linting.
type Document struct {
	Version    string
	Statements []StatementDoc
}

// StatementDoc is one statement as written.
type StatementDoc struct {
	Path        string // "Statement[i]", or "Statement" for a single object
	Sid         string
	HasSid      bool
	Effect      string
	NotAction   bool
	Actions     []string
	HasResource bool // Resource or NotResource written (a dialect may default it)
	NotResource bool
	Resources   []string
	Principals  []string
	PrincipalOf string // the Principal member, such as "RAM" or "IAM"
	// whether Action/Resource were written as arrays (for finding paths)
	ActionsArray, ResourcesArray bool
	Conds                        []ConditionDoc
}

// ConditionDoc is one (operator, key, values) triple as written.
type ConditionDoc struct {
	Op     string
	Key    string
	Values []string
}

// ActionElem returns "Action" or "NotAction".
func (s *StatementDoc) ActionElem() string {
	if s.NotAction {
		return "NotAction"
	}
	return "Action"
}

// ResourceElem returns "Resource" or "NotResource".
func (s *StatementDoc) ResourceElem() string {
	if s.NotResource {
		return "NotResource"
	}
	return "Resource"
}

// Parse is what every dialect's parser shares: options, the size limit,
// the JSON tree, then the dialect's decoder and statement compiler.
// Validation happens in decode; compile cannot fail.
func Parse(doc []byte, kind PolicyKind, maxSize int, opts []ParseOption,
	decode func(ef DocErrors, root Value) (Document, error),
	compile func(pd *Document, s *StatementDoc) Statement) (*Policy, error) {
	cfg := parseConfig{maxSize: maxSize}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	ef := NewDocErrors(doc)
	if cfg.maxSize > 0 && len(doc) > cfg.maxSize {
		return nil, ef.At(ErrTooLarge, "", -1, "document is "+strconv.Itoa(len(doc))+" bytes", "at most "+strconv.Itoa(cfg.maxSize)+" bytes for a "+string(kind)+" policy")
	}
	root, err := ParseJSON(doc)
	if err != nil {
		return nil, err
	}
	pd, err := decode(ef, root)
	if err != nil {
		return nil, err
	}
	p := &Policy{name: cfg.name, kind: kind, doc: pd, stmts: make([]Statement, len(pd.Statements))}
	for i := range pd.Statements {
		p.stmts[i] = compile(&p.doc, &p.doc.Statements[i])
	}
	return p, nil
}

// StatementList parses the Statement element, an object or a non-empty
// array, with a dialect's statement parser. expected describes the
// accepted form for errors.
func StatementList(ef DocErrors, stmts Value, expected string, parse func(path string, v Value) (StatementDoc, error)) ([]StatementDoc, error) {
	switch stmts.Kind {
	case KindObject:
		s, err := parse("Statement", stmts)
		if err != nil {
			return nil, err
		}
		return []StatementDoc{s}, nil
	case KindArray:
		if len(stmts.Arr) == 0 {
			return nil, ef.Invalid("Statement", stmts.Off, "empty statement list", "at least one statement")
		}
		out := make([]StatementDoc, 0, len(stmts.Arr))
		for i, v := range stmts.Arr {
			s, err := parse(JoinIndex("Statement", i), v)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, ef.Invalid("Statement", stmts.Off, "statement is a JSON "+stmts.Kind.String(), expected)
}

// StringList accepts a string or a non-empty array of strings.
func StringList(ef DocErrors, path string, v Value) ([]string, error) {
	switch v.Kind {
	case KindString:
		return []string{v.S}, nil
	case KindArray:
		if len(v.Arr) == 0 {
			return nil, ef.Invalid(path, v.Off, "empty list", "a string or a non-empty array of strings")
		}
		out := make([]string, len(v.Arr))
		for i, e := range v.Arr {
			if e.Kind != KindString {
				return nil, ef.Invalid(JoinIndex(path, i), e.Off, "element is a JSON "+e.Kind.String(), "a string")
			}
			out[i] = e.S
		}
		return out, nil
	}
	return nil, ef.Invalid(path, v.Off, "value is a JSON "+v.Kind.String(), "a string or an array of strings")
}

// ScalarList accepts a scalar (string, number, boolean) or a non-empty
// array of scalars; numbers and booleans keep their literal text.
func ScalarList(ef DocErrors, path string, v Value) ([]string, error) {
	const exp = "a string, number or boolean, or a non-empty array of them"
	switch v.Kind {
	case KindString, KindNumber, KindBool:
		return []string{v.S}, nil
	case KindArray:
		if len(v.Arr) == 0 {
			return nil, ef.Invalid(path, v.Off, "empty list", exp)
		}
		out := make([]string, len(v.Arr))
		for i, e := range v.Arr {
			if e.Kind != KindString && e.Kind != KindNumber && e.Kind != KindBool {
				return nil, ef.Invalid(JoinIndex(path, i), e.Off, "value is a JSON "+e.Kind.String(), "a string, number or boolean")
			}
			out[i] = e.S
		}
		return out, nil
	}
	return nil, ef.Invalid(path, v.Off, "value is a JSON "+v.Kind.String(), exp)
}

// Describe renders a value for an error: a quoted string, or its kind.
func Describe(v Value) string {
	if v.Kind == KindString {
		return strconv.Quote(v.S)
	}
	return "(a JSON " + v.Kind.String() + ")"
}

// ElemPath is the path of element i of v: p[i] for an array, p for a
// single value.
func ElemPath(p string, v Value, i int) string {
	if v.Kind == KindArray {
		return JoinIndex(p, i)
	}
	return p
}

// ElemOff is the offset of element i of v (see [ElemPath]).
func ElemOff(v Value, i int) int {
	if v.Kind == KindArray && i < len(v.Arr) {
		return v.Arr[i].Off
	}
	return v.Off
}

// MarshalJSON returns the policy in canonical form: every list as an array,
// elements in a fixed order, condition values as strings. Parsing the
// output yields an equivalent policy, and marshalling that again yields the
// same bytes.
func (p *Policy) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"Version":`)
	WriteJSONString(&b, p.doc.Version)
	b.WriteString(`,"Statement":[`)
	for i := range p.doc.Statements {
		if i > 0 {
			b.WriteByte(',')
		}
		writeStatement(&b, &p.doc.Statements[i])
	}
	b.WriteString("]}")
	return b.Bytes(), nil
}

// StatementJSON returns statement i in the canonical form of
// [Policy.MarshalJSON], or nil if there is no such statement.
func (p *Policy) StatementJSON(i int) []byte {
	if i < 0 || i >= len(p.doc.Statements) {
		return nil
	}
	var b bytes.Buffer
	writeStatement(&b, &p.doc.Statements[i])
	return b.Bytes()
}

func writeStatement(b *bytes.Buffer, s *StatementDoc) {
	b.WriteByte('{')
	if s.HasSid {
		b.WriteString(`"Sid":`)
		WriteJSONString(b, s.Sid)
		b.WriteByte(',')
	}
	b.WriteString(`"Effect":`)
	WriteJSONString(b, s.Effect)
	b.WriteString(`,"` + s.ActionElem() + `":`)
	WriteJSONStrings(b, s.Actions)
	if s.Principals != nil {
		b.WriteString(`,"Principal":{`)
		WriteJSONString(b, s.PrincipalOf)
		b.WriteByte(':')
		WriteJSONStrings(b, s.Principals)
		b.WriteByte('}')
	}
	if s.HasResource {
		b.WriteString(`,"` + s.ResourceElem() + `":`)
		WriteJSONStrings(b, s.Resources)
	}
	if len(s.Conds) > 0 {
		b.WriteString(`,"Condition":{`)
		for i, c := range s.Conds {
			if i == 0 || s.Conds[i-1].Op != c.Op {
				if i > 0 {
					b.WriteString("},")
				}
				WriteJSONString(b, c.Op)
				b.WriteString(":{")
			} else {
				b.WriteByte(',')
			}
			WriteJSONString(b, c.Key)
			b.WriteByte(':')
			WriteJSONStrings(b, c.Values)
		}
		b.WriteString("}}")
	}
	b.WriteByte('}')
}

// WriteJSONString writes s as a JSON string.
func WriteJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // cannot fail for a string
	b.Write(enc)
}

// WriteJSONStrings writes list as a JSON array of strings.
func WriteJSONStrings(b *bytes.Buffer, list []string) {
	b.WriteByte('[')
	for i, s := range list {
		if i > 0 {
			b.WriteByte(',')
		}
		WriteJSONString(b, s)
	}
	b.WriteByte(']')
}

// Closest returns the candidate nearest to s by case-insensitive edit
// distance, if that distance is at most max; "" otherwise. It makes the
// "did you mean" of error messages and lint findings.
func Closest(s string, candidates []string, max int) string {
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
