package secrets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"time"
)

// Value is one version of a secret, as returned by [Client.Get]. It is
// immutable and shared by every caller that reads the same cache entry: do
// not modify the slice [Value.Bytes] returns.
//
// A Value redacts itself wherever it might be printed by accident: fmt (every
// verb, %v %+v %#v %s %q %x included), slog, encoding/json and
// encoding.TextMarshaler users all see its name, version and length only.
// Read the secret explicitly with [Value.Bytes], [Value.Text] or
// [Value.JSON]. The redacting methods have value receivers so that a copy
// (*v) redacts too, and the bytes sit behind a pointer so that even a copy
// in an unexported struct field, which fmt prints field by field, shows only
// an address.
type Value struct {
	name      string
	versionID string
	stages    []string
	binary    bool
	data      *secretBytes
	stale     bool
	fetchedAt time.Time
	meta      *valueMeta // never nil for a Value the package made
}

// valueMeta is what KMS says about a secret version besides its value.
type valueMeta struct {
	secretType, extendedConfig             string
	createTime, lastRotation, nextRotation time.Time
	automaticRotation, rotationInterval    string
	fromFile                               bool
}

var noMeta = &valueMeta{}

func (v *Value) m() *valueMeta {
	if v.meta == nil {
		return noMeta
	}
	return v.meta
}

// SecretType returns the secret's type as KMS reports it: "Generic",
// "Rds", "RAMCredentials", "ECS", ...
func (v *Value) SecretType() string { return v.m().secretType }

// ExtendedConfig returns the raw JSON of a managed secret's extended
// configuration (for a RAM credential secret, its SecretSubType and
// UserName), "" for a generic secret. It holds no secret value.
func (v *Value) ExtendedConfig() string { return v.m().extendedConfig }

// CreateTime returns when this version was created, zero if KMS did not
// say.
func (v *Value) CreateTime() time.Time { return v.m().createTime }

// LastRotationDate returns when the secret was last rotated, zero if never
// or not reported.
func (v *Value) LastRotationDate() time.Time { return v.m().lastRotation }

// NextRotationDate returns when KMS will next rotate the secret, zero
// without automatic rotation. It drives refresh unless the secret's
// [Policy] says IgnoreRotationDate.
func (v *Value) NextRotationDate() time.Time { return v.m().nextRotation }

// AutomaticRotation returns KMS's AutomaticRotation: "Enabled",
// "Disabled" or "" when not reported.
func (v *Value) AutomaticRotation() string { return v.m().automaticRotation }

// RotationInterval returns KMS's RotationInterval, such as "604800s", ""
// without automatic rotation.
func (v *Value) RotationInterval() string { return v.m().rotationInterval }

// FromFileCache reports that the value was read from the [FileCache]
// because KMS could not be reached (it is then Stale as well).
func (v *Value) FromFileCache() bool { return v.m().fromFile }

// secretBytes holds a Value's bytes behind two pointers, so that printing a
// Value copy kept in an unexported struct field (where fmt cannot call its
// methods) shows addresses, not the secret: fmt, given a pointer and a verb
// it cannot apply to one (%s, %q), dereferences it once and prints the
// fields of what it points to; the second pointer stops it there.
type secretBytes struct{ p *[]byte }

func (s *secretBytes) bytes() []byte { return *s.p }

// newSecretBytes holds a copy of b (never nil).
func newSecretBytes(b []byte) *secretBytes {
	c := append([]byte{}, b...)
	return &secretBytes{p: &c}
}

// Name returns the secret's name, as passed to [Client.Get].
func (v *Value) Name() string { return v.name }

// VersionID returns the id of this version of the secret.
func (v *Value) VersionID() string { return v.versionID }

// Stages returns a copy of the version stages (for example "ACSCurrent")
// this version had when it was fetched.
func (v *Value) Stages() []string { return slices.Clone(v.stages) }

// Binary reports whether the secret is stored as binary data; [Value.Bytes]
// then returns the decoded bytes.
func (v *Value) Binary() bool { return v.binary }

// Bytes returns the secret: the decoded bytes of a binary secret, the UTF-8
// bytes of a text one. The slice is shared; do not modify it.
func (v *Value) Bytes() []byte { return v.data.bytes() }

// Text returns the secret as a string. Each call copies the bytes.
func (v *Value) Text() string { return string(v.data.bytes()) }

// Stale reports whether the value was served after its TTL because fetching
// it again failed with a retryable error (see Config.StaleIfError).
func (v *Value) Stale() bool { return v.stale }

// FetchedAt returns when the value was fetched from KMS, by the client's
// clock.
func (v *Value) FetchedAt() time.Time { return v.fetchedAt }

// JSON decodes the secret, which must hold one JSON value, into dst as
// [json.Unmarshal] does. A decoding error is a [*JSONError] (which unwraps to
// [ErrInvalidJSON]) naming the secret and the position (line, column and
// byte offset) and, for a type mismatch, the field and Go type, but never
// containing any part of the secret: encoding/json's own messages may quote
// it, so they are not wrapped. A nil or non-pointer dst, a programmer error,
// returns encoding/json's *json.InvalidUnmarshalError, wrapped.
func (v *Value) JSON(dst any) error {
	err := json.Unmarshal(v.data.bytes(), dst)
	if err == nil {
		return nil
	}
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		inv *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, the offending one included.
		e := &JSONError{Name: v.name, Kind: JSONSyntax, Reason: "is not valid JSON"}
		e.at(v.data.bytes(), syn.Offset-1)
		return e
	case errors.As(err, &typ):
		e := &JSONError{Name: v.name, Kind: JSONType, GoType: typeName(typ.Type), Field: typ.Field,
			Reason: "holds a JSON value that cannot be stored in Go type " + typeName(typ.Type)}
		if typ.Field != "" {
			e.Reason += " (field " + strconv.Quote(typ.Field) + ")"
		}
		e.at(v.data.bytes(), typ.Offset)
		return e
	case errors.As(err, &inv):
		// A programmer error (nil or non-pointer dst); the message holds
		// only the Go type.
		return fmt.Errorf("secrets: %s: %w", v.name, err)
	default:
		// An UnmarshalJSON method of dst failed; its message may quote the
		// input, so only its Go type is reported.
		return &JSONError{Name: v.name, Kind: JSONDecoder, GoType: typeName(reflect.TypeOf(dst)), Offset: -1,
			Reason: "could not be decoded into " + typeName(reflect.TypeOf(dst)) +
				" (a custom decoder failed with " + typeName(reflect.TypeOf(err)) + ")"}
	}
}

// ErrInvalidJSON is what every [*JSONError] unwraps to: the secret's value
// could not be decoded as the JSON the caller asked for.
var ErrInvalidJSON = errors.New("secrets: secret value is not the JSON expected")

// JSONErrorKind says why [Value.JSON] failed.
type JSONErrorKind int

// JSON error kinds.
const (
	// JSONSyntax: the value is not valid JSON.
	JSONSyntax JSONErrorKind = iota + 1
	// JSONType: a JSON value does not fit the Go type (JSONError.GoType)
	// of the destination or one of its fields (JSONError.Field).
	JSONType
	// JSONDecoder: an UnmarshalJSON method of the destination failed.
	JSONDecoder
)

func (k JSONErrorKind) String() string {
	switch k {
	case JSONSyntax:
		return "syntax"
	case JSONType:
		return "type"
	case JSONDecoder:
		return "decoder"
	}
	return "JSONErrorKind(" + strconv.Itoa(int(k)) + ")"
}

// JSONError is a JSON decoding error of [Value.JSON]. It carries no part of
// the secret: only its name, the position and Go types. It unwraps to
// [ErrInvalidJSON].
type JSONError struct {
	Name   string        // the secret's name
	Kind   JSONErrorKind // why decoding failed
	Reason string        // what is wrong, in words
	// Field is the dotted path of the destination field, for JSONType ("" at
	// the top level); GoType is the Go type that could not hold the value.
	Field, GoType string
	// Line and Column (1-based, columns in bytes) and Offset (0-based) are
	// where decoding failed; Offset is -1 and Line and Column 0 when a
	// custom decoder failed and the position is unknown.
	Line, Column int
	Offset       int64
}

// at sets the position of byte offset off of data (clamped to data),
// counting newlines only.
func (e *JSONError) at(data []byte, off int64) {
	off = max(0, min(off, int64(len(data))))
	before := data[:off]
	e.Line = bytes.Count(before, []byte{'\n'}) + 1
	e.Column = int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	e.Offset = off
}

func (e *JSONError) Error() string {
	s := "secrets: " + e.Name + ": secret value " + e.Reason
	if e.Offset >= 0 {
		prep := "near "
		if e.Kind == JSONSyntax {
			prep = "at "
		}
		s += " " + prep + "line " + strconv.Itoa(e.Line) + ", column " + strconv.Itoa(e.Column) +
			" (byte offset " + strconv.FormatInt(e.Offset, 10) + ")"
	}
	return s
}

// Unwrap returns [ErrInvalidJSON].
func (e *JSONError) Unwrap() error { return ErrInvalidJSON }

func typeName(t reflect.Type) string {
	if t == nil {
		return "nil"
	}
	return t.String()
}

// String returns a redacted description, e.g.
// "secrets.Value{name=db-password version=v2 [REDACTED 7 bytes]}".
func (v Value) String() string {
	s := "secrets.Value{name=" + v.name + " version=" + v.versionID
	if v.stale {
		s += " stale"
	}
	return s + " [REDACTED " + strconv.Itoa(len(v.data.bytes())) + " bytes]}"
}

// GoString redacts like String.
func (v Value) GoString() string { return v.String() }

// Format redacts like String for every verb and flag.
func (v Value) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, v.String()) }

// LogValue redacts in structured logs: name, version, stale and length.
func (v Value) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", v.name),
		slog.String("version", v.versionID),
		slog.Bool("stale", v.stale),
		slog.String("value", "[REDACTED "+strconv.Itoa(len(v.data.bytes()))+" bytes]"),
	)
}

// MarshalJSON redacts in JSON: {"name":…,"version":…,"value":"[REDACTED]"}.
func (v Value) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		Value   string `json:"value"`
	}{v.name, v.versionID, "[REDACTED]"})
}

// MarshalText redacts in text encodings, as String.
func (v Value) MarshalText() ([]byte, error) { return []byte(v.String()), nil }
