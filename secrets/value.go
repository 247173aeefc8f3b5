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
}

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
// [json.Unmarshal] does. A decoding error names the secret and the position
// (line, column and byte offset) and, for a type mismatch, the field and Go
// type, but never contains any part of the secret: encoding/json's own
// messages may quote it, so they are not wrapped.
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
		return &jsonError{name: v.name, what: "is not valid JSON", pos: "at " + position(v.data.bytes(), syn.Offset-1)}
	case errors.As(err, &typ):
		what := "holds a JSON value that cannot be stored in Go type " + typeName(typ.Type)
		if typ.Field != "" {
			what += " (field " + strconv.Quote(typ.Field) + ")"
		}
		return &jsonError{name: v.name, what: what, pos: "near " + position(v.data.bytes(), typ.Offset)}
	case errors.As(err, &inv):
		// A programmer error (nil or non-pointer dst); the message holds
		// only the Go type.
		return fmt.Errorf("secrets: %s: %w", v.name, err)
	default:
		// An UnmarshalJSON method of dst failed; its message may quote the
		// input, so only its Go type is reported.
		return &jsonError{name: v.name, what: "could not be decoded into " + typeName(reflect.TypeOf(dst)) +
			" (a custom decoder failed with " + typeName(reflect.TypeOf(err)) + ")", pos: ""}
	}
}

// jsonError is a JSON decoding error that carries no part of the secret.
type jsonError struct {
	name string
	what string
	pos  string
}

func (e *jsonError) Error() string {
	s := "secrets: " + e.name + ": secret value " + e.what
	if e.pos != "" {
		s += " " + e.pos
	}
	return s
}

func typeName(t reflect.Type) string {
	if t == nil {
		return "nil"
	}
	return t.String()
}

// position describes byte offset off of data as line and column (1-based),
// counting newlines only.
func position(data []byte, off int64) string {
	if off < 0 {
		off = 0
	}
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	col := int(off) - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return "line " + strconv.Itoa(line) + ", column " + strconv.Itoa(col) + " (byte offset " + strconv.FormatInt(off, 10) + ")"
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
