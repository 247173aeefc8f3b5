package kmsclient

import (
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Sensitive holds plaintext, data-key or secret bytes. It prints, logs and
// marshals as a redaction marker, never as its contents, and compares in
// constant time. Convert explicitly ([]byte(s)) to use the bytes.
type Sensitive []byte

const redacted = "[REDACTED]"

// String returns a redaction marker with the length.
func (s Sensitive) String() string { return "[REDACTED " + strconv.Itoa(len(s)) + " bytes]" }

// GoString redacts like String.
func (s Sensitive) GoString() string { return s.String() }

// Format redacts for every verb, including %x and %q.
func (s Sensitive) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue redacts in structured logs.
func (s Sensitive) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON redacts in JSON.
func (s Sensitive) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText redacts in text encodings.
func (s Sensitive) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Equal reports whether s and b hold the same bytes, in time that depends
// only on their lengths.
func (s Sensitive) Equal(b []byte) bool { return subtle.ConstantTimeCompare(s, b) == 1 }

// Wipe overwrites the bytes with zeros. Copies made elsewhere are not
// affected.
func (s Sensitive) Wipe() { clear(s) }
