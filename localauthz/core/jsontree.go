package core

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
)

// maxJSONDepth bounds nesting; policy documents are at most five levels deep.
const maxJSONDepth = 32

// ValueKind is the kind of a JSON value.
type ValueKind uint8

const (
	KindNull ValueKind = iota
	KindBool
	KindNumber
	KindString
	KindArray
	KindObject
)

// String names the kind as in "a JSON string".
func (k ValueKind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindBool:
		return "boolean"
	case KindNumber:
		return "number"
	case KindString:
		return "string"
	case KindArray:
		return "array"
	default:
		return "object"
	}
}

// Value is an ordered JSON tree that remembers where each value starts, so
// that errors can name a line and column. Object members keep their order
// and duplicates are rejected (encoding/json would silently keep the last).
type Value struct {
	Kind ValueKind
	S    string   // string value, number literal, or "true"/"false"
	Arr  []Value  // array elements
	Obj  []Member // object members, in document order
	Off  int      // byte offset of the value in the document
}

// Member is one member of a JSON object.
type Member struct {
	Key    string
	KeyOff int // byte offset of the key
	Val    Value
}

type jparser struct {
	dec *json.Decoder
	doc []byte
	ef  DocErrors
}

// ParseJSON decodes one JSON value into a tree; trailing data, duplicate
// keys and nesting beyond 32 levels are errors (*PolicyError).
func ParseJSON(doc []byte) (Value, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	p := &jparser{dec: dec, doc: doc, ef: NewDocErrors(doc)}
	v, err := p.value("", 0)
	if err != nil {
		return Value{}, err
	}
	off := p.pos()
	if _, err := dec.Token(); err != io.EOF {
		return Value{}, p.ef.At(ErrSyntax, "", off, "unexpected data after the policy document", "end of input")
	}
	return v, nil
}

// pos returns the offset of the next token: InputOffset skips past the
// previous token only, so separators and white space are skipped here.
func (p *jparser) pos() int {
	off := int(p.dec.InputOffset())
	for off < len(p.doc) {
		switch p.doc[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	return off
}

func (p *jparser) syntax(err error, path string) error {
	off := len(p.doc)
	var se *json.SyntaxError
	problem := "unexpected end of input"
	if errors.As(err, &se) {
		off = int(se.Offset)
		if off > 0 {
			off-- // Offset counts the offending byte
		}
		problem = se.Error()
	} else if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		problem = err.Error()
	}
	e := p.ef.At(ErrSyntax, path, off, problem, "")
	e.Err = err
	return e
}

func (p *jparser) value(path string, depth int) (Value, error) {
	off := p.pos()
	tok, err := p.dec.Token()
	if err != nil {
		return Value{}, p.syntax(err, path)
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxJSONDepth {
			return Value{}, p.ef.Invalid(path, off, "nesting too deep", "at most "+strconv.Itoa(maxJSONDepth)+" levels")
		}
		switch t {
		case '{':
			v := Value{Kind: KindObject, Off: off}
			var seen map[string]bool // duplicate detection; allocated for large objects only
			for p.dec.More() {
				keyOff := p.pos()
				kt, err := p.dec.Token()
				if err != nil {
					return Value{}, p.syntax(err, path)
				}
				key, ok := kt.(string)
				if !ok {
					return Value{}, p.ef.At(ErrSyntax, path, keyOff, "object key is not a string", "")
				}
				if p.duplicate(&v, &seen, key) {
					return Value{}, p.ef.Invalid(JoinKey(path, key), keyOff, "duplicate element "+strconv.Quote(key), "each element at most once")
				}
				val, err := p.value(JoinKey(path, key), depth+1)
				if err != nil {
					return Value{}, err
				}
				v.Obj = append(v.Obj, Member{Key: key, KeyOff: keyOff, Val: val})
			}
			if _, err := p.dec.Token(); err != nil {
				return Value{}, p.syntax(err, path)
			}
			return v, nil
		case '[':
			v := Value{Kind: KindArray, Off: off}
			for p.dec.More() {
				val, err := p.value(JoinIndex(path, len(v.Arr)), depth+1)
				if err != nil {
					return Value{}, err
				}
				v.Arr = append(v.Arr, val)
			}
			if _, err := p.dec.Token(); err != nil {
				return Value{}, p.syntax(err, path)
			}
			return v, nil
		default:
			return Value{}, p.ef.At(ErrSyntax, path, off, "unexpected "+t.String(), "")
		}
	case string:
		return Value{Kind: KindString, S: t, Off: off}, nil
	case json.Number:
		return Value{Kind: KindNumber, S: string(t), Off: off}, nil
	case bool:
		return Value{Kind: KindBool, S: strconv.FormatBool(t), Off: off}, nil
	default:
		return Value{Kind: KindNull, Off: off}, nil
	}
}

// duplicate reports whether key is already a member of v: a linear scan
// for the small objects of real policies, a set beyond that.
func (p *jparser) duplicate(v *Value, seen *map[string]bool, key string) bool {
	const linear = 16
	if len(v.Obj) < linear {
		for _, m := range v.Obj {
			if m.Key == key {
				return true
			}
		}
		return false
	}
	if *seen == nil {
		*seen = make(map[string]bool, 2*len(v.Obj))
		for _, m := range v.Obj {
			(*seen)[m.Key] = true
		}
	}
	if (*seen)[key] {
		return true
	}
	(*seen)[key] = true
	return false
}

// JoinKey appends an object key to a JSON path: plain identifiers as .Key,
// anything else as ["key"].
func JoinKey(path, key string) string {
	plain := key != ""
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			plain = false
			break
		}
	}
	if !plain {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// JoinIndex appends an array index to a JSON path.
func JoinIndex(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}
