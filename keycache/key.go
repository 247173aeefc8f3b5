package keycache

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"strconv"
)

// Key holds secret key bytes.
//
// Every way of printing or encoding a Key redacts it: String, GoString,
// Format (for every verb, so %v, %+v, %#v, %s, %x and %q alike), LogValue
// (log/slog), MarshalJSON and MarshalText all produce
// "keycache.Key[REDACTED n bytes]", or "keycache.Key[WIPED]" once wiped. The
// bytes sit behind two pointers, so even fmt's reflection-based printing of
// a struct that holds a Key in an unexported field (where fmt cannot call
// methods) shows addresses, not the bytes. Printers that follow pointers
// and ignore methods do reach the bytes: go-spew with DisableMethods, as
// testify uses for its diffs, is one. Do not dump values holding keys with
// such tools.
//
// A Key is not safe for concurrent use with [Key.Wipe]. Keys held by a
// [Cache] are guarded by the cache: read them with [Handle.WithKey].
type Key struct {
	p *keyBytes
}

// keyBytes is the storage of a Key. b is a pointer because fmt, printing a
// pointer with a verb it does not support (%s, %q), dereferences it once and
// prints the fields of what it points to; a second pointer stops it there.
// wiped distinguishes a wiped key from an empty one.
type keyBytes struct {
	b     *[]byte
	wiped bool
}

// NewKey returns a Key holding a copy of b. The caller should wipe its own
// copy (for example with clear(b)) once it no longer needs it.
func NewKey(b []byte) *Key {
	c := append(make([]byte, 0, len(b)), b...)
	return &Key{p: &keyBytes{b: &c}}
}

// Len returns the number of key bytes, 0 once the key is wiped.
func (k Key) Len() int {
	if k.p == nil {
		return 0
	}
	return len(*k.p.b)
}

// Equal reports whether the key bytes equal b, in time that depends only on
// the lengths (crypto/subtle). A wiped key equals nothing.
func (k Key) Equal(b []byte) bool {
	if k.p == nil || k.p.wiped {
		return false
	}
	return subtle.ConstantTimeCompare(*k.p.b, b) == 1
}

// Wipe overwrites the key bytes with zeros and forgets them: afterwards Len
// is 0, Bytes is nil and Equal is false. Wipe is idempotent.
func (k Key) Wipe() {
	if k.p == nil || k.p.wiped {
		return
	}
	clear(*k.p.b)
	*k.p.b = nil
	k.p.wiped = true
}

// Bytes returns the live key bytes, not a copy, or nil once wiped.
//
// Do not retain the slice, do not modify it, and do not use it after the key
// may have been wiped. For a key held by a [Cache], use [Handle.WithKey],
// which guarantees the bytes stay intact while it runs.
func (k Key) Bytes() []byte {
	if k.p == nil {
		return nil
	}
	return *k.p.b
}

// String returns a redacted description: the length, never the bytes.
func (k Key) String() string {
	if k.p != nil && k.p.wiped {
		return "keycache.Key[WIPED]"
	}
	return "keycache.Key[REDACTED " + strconv.Itoa(k.Len()) + " bytes]"
}

// GoString returns the same redacted description as String (for %#v).
func (k Key) GoString() string { return k.String() }

// Format writes the redacted description for every verb and flag, so no fmt
// verb (%x and %q included) can reveal the bytes.
func (k Key) Format(f fmt.State, _ rune) {
	_, _ = f.Write([]byte(k.String()))
}

// LogValue makes log/slog print the redacted description.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalJSON encodes the redacted description as a JSON string.
func (k Key) MarshalJSON() ([]byte, error) { return strconv.AppendQuote(nil, k.String()), nil }

// MarshalText returns the redacted description, so encoders that use
// encoding.TextMarshaler (JSON map keys, XML, slog's text handler) redact too.
func (k Key) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

var (
	_ fmt.Stringer   = Key{}
	_ fmt.GoStringer = Key{}
	_ fmt.Formatter  = Key{}
	_ slog.LogValuer = Key{}
)
