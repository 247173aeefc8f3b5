package localauthz

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
)

// maxJSONDepth bounds nesting; policy documents are at most five levels deep.
const maxJSONDepth = 32

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

func (k jkind) String() string {
	switch k {
	case jNull:
		return "null"
	case jBool:
		return "boolean"
	case jNumber:
		return "number"
	case jString:
		return "string"
	case jArray:
		return "array"
	default:
		return "object"
	}
}

// jvalue is an ordered JSON tree that remembers where each value starts, so
// that errors can name a line and column. Object members keep their order
// and duplicates are rejected (encoding/json would silently keep the last).
type jvalue struct {
	kind jkind
	s    string // string value, number literal, or "true"/"false"
	arr  []jvalue
	obj  []jmember
	off  int
}

type jmember struct {
	key    string
	keyOff int
	val    jvalue
}

type jparser struct {
	dec *json.Decoder
	doc []byte
	ef  errorf
}

// parseJSON decodes one JSON value; trailing data is an error.
func parseJSON(doc []byte) (jvalue, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	p := &jparser{dec: dec, doc: doc, ef: errorf{doc: doc}}
	v, err := p.value("", 0)
	if err != nil {
		return jvalue{}, err
	}
	off := p.pos()
	if _, err := dec.Token(); err != io.EOF {
		return jvalue{}, p.ef.at(ErrSyntax, "", off, "unexpected data after the policy document", "end of input")
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
	e := p.ef.at(ErrSyntax, path, off, problem, "")
	e.Err = err
	return e
}

func (p *jparser) value(path string, depth int) (jvalue, error) {
	off := p.pos()
	tok, err := p.dec.Token()
	if err != nil {
		return jvalue{}, p.syntax(err, path)
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxJSONDepth {
			return jvalue{}, p.ef.invalid(path, off, "nesting too deep", "at most "+strconv.Itoa(maxJSONDepth)+" levels")
		}
		switch t {
		case '{':
			v := jvalue{kind: jObject, off: off}
			var seen map[string]bool // duplicate detection; allocated for large objects only
			for p.dec.More() {
				keyOff := p.pos()
				kt, err := p.dec.Token()
				if err != nil {
					return jvalue{}, p.syntax(err, path)
				}
				key, ok := kt.(string)
				if !ok {
					return jvalue{}, p.ef.at(ErrSyntax, path, keyOff, "object key is not a string", "")
				}
				if p.duplicate(&v, &seen, key) {
					return jvalue{}, p.ef.invalid(joinKey(path, key), keyOff, "duplicate element "+strconv.Quote(key), "each element at most once")
				}
				val, err := p.value(joinKey(path, key), depth+1)
				if err != nil {
					return jvalue{}, err
				}
				v.obj = append(v.obj, jmember{key: key, keyOff: keyOff, val: val})
			}
			if _, err := p.dec.Token(); err != nil {
				return jvalue{}, p.syntax(err, path)
			}
			return v, nil
		case '[':
			v := jvalue{kind: jArray, off: off}
			for p.dec.More() {
				val, err := p.value(joinIndex(path, len(v.arr)), depth+1)
				if err != nil {
					return jvalue{}, err
				}
				v.arr = append(v.arr, val)
			}
			if _, err := p.dec.Token(); err != nil {
				return jvalue{}, p.syntax(err, path)
			}
			return v, nil
		default:
			return jvalue{}, p.ef.at(ErrSyntax, path, off, "unexpected "+t.String(), "")
		}
	case string:
		return jvalue{kind: jString, s: t, off: off}, nil
	case json.Number:
		return jvalue{kind: jNumber, s: string(t), off: off}, nil
	case bool:
		return jvalue{kind: jBool, s: strconv.FormatBool(t), off: off}, nil
	default:
		return jvalue{kind: jNull, off: off}, nil
	}
}

// duplicate reports whether key is already a member of v: a linear scan
// for the small objects of real policies, a set beyond that.
func (p *jparser) duplicate(v *jvalue, seen *map[string]bool, key string) bool {
	const linear = 16
	if len(v.obj) < linear {
		for _, m := range v.obj {
			if m.key == key {
				return true
			}
		}
		return false
	}
	if *seen == nil {
		*seen = make(map[string]bool, 2*len(v.obj))
		for _, m := range v.obj {
			(*seen)[m.key] = true
		}
	}
	if (*seen)[key] {
		return true
	}
	(*seen)[key] = true
	return false
}

// joinKey appends an object key to a JSON path: plain identifiers as .Key,
// anything else as ["key"].
func joinKey(path, key string) string {
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

func joinIndex(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}
