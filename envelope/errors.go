package envelope

import (
	"errors"
	"strconv"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/internal/safetext"
)

// Sentinel errors; the typed errors below unwrap to them.
var (
	// ErrMalformed: the message is not a well-formed version 1 message.
	ErrMalformed = errors.New("envelope: malformed message")
	// ErrUnsupported: the message uses an unknown version or suite.
	ErrUnsupported = errors.New("envelope: unsupported message version or suite")
	// ErrTruncated: the message ends early (inside the header, or without
	// its final frame).
	ErrTruncated = errors.New("envelope: message truncated")
	// ErrAuthentication: the header or a frame failed authentication: the
	// message was modified, reordered, or is not for this data key. It is
	// deliberately unspecific about why.
	ErrAuthentication = errors.New("envelope: message authentication failed")
	// ErrCommitmentMismatch: a wrapped key decrypted to a data key that does
	// not match the message's key commitment.
	ErrCommitmentMismatch = errors.New("envelope: data key does not match the message's key commitment")
	// ErrContextMismatch: the message's encryption context lacks a required
	// pair (see RequireContext).
	ErrContextMismatch = errors.New("envelope: encryption context mismatch")
	// ErrContextConflict: the requirements of one call cannot all hold: a
	// context key is required with two different values (by two
	// RequireContext options, or by an option and Config.RequiredContext),
	// or an Encrypt through the root client gives a configured key another
	// value. Nothing is sent to KMS.
	ErrContextConflict = errors.New("envelope: conflicting encryption context requirements")
	// ErrBadKeyPattern: a key ARN pattern in Config.AllowedKeys or
	// RequireKeys is invalid (see KeyPatternError).
	ErrBadKeyPattern = errors.New("envelope: invalid key ARN pattern")
	// ErrInvalidContext: an encryption context given to Encrypt is invalid.
	ErrInvalidContext = errors.New("envelope: invalid encryption context")
	// ErrTooManyWrappedKeys: the message carries more wrapped keys than
	// Config.MaxWrappedKeys allows.
	ErrTooManyWrappedKeys = errors.New("envelope: too many wrapped keys")
	// ErrNoUsableKey: no wrapped key of the message could be unwrapped.
	ErrNoUsableKey = errors.New("envelope: no wrapped key could be unwrapped")
	// ErrTooLarge: a message would need more than 2^32 frames. Encrypt, a
	// Writer, Decrypt and a Reader all refuse the frame past the limit with
	// a *FrameError wrapping it, before that frame is sealed, written,
	// opened or released.
	ErrTooLarge = errors.New("envelope: message too large")
	// ErrWriterClosed: Write on a Writer after its Close.
	ErrWriterClosed = errors.New("envelope: write after Close")
	// ErrInvalidBufferOverlap: the spare capacity of the dst given to
	// AppendEncrypt or AppendDecrypt overlaps the input other than exactly
	// (see their documentation). Nothing was written to dst.
	ErrInvalidBufferOverlap = errors.New("envelope: invalid buffer overlap")
	// ErrLegacyFormat: the message is not a kmsenvelope message but, by its
	// leading bytes, one of the Alibaba Cloud Encryption SDK (Java, Python):
	// the *LegacyFormatError wrapping it names the package and function
	// that read it. It also unwraps to ErrMalformed.
	ErrLegacyFormat = errors.New("envelope: message in the Alibaba Cloud Encryption SDK format")
)

// AliyunESDKPackage is the import path of the package that reads, writes
// and migrates Alibaba Cloud Encryption SDK messages.
const AliyunESDKPackage = "github.com/kmsenvelope/kmsenvelope/envelope/aliyunesdk"

// LegacyFormatError says that a message is in the Alibaba Cloud Encryption
// SDK's format and how to read it. Decrypt, NewReader, Rewrap, ParseHeader
// and ReadHeader return it inside a *FormatError (field "magic"), judged
// by the leading bytes alone: 0x30 (a DER SEQUENCE: the SDK's ASN.1
// message, or a SecretManager body) or 00 00 00 01 (the Java stream
// format's version). Nothing is sent to KMS.
type LegacyFormatError struct {
	Format   string // "Alibaba Cloud Encryption SDK ASN.1 message", "... Java stream"
	Package  string // AliyunESDKPackage
	Function string // what reads it, e.g. "aliyunesdk.Decrypter.Decrypt"
	Migrate  string // what converts it to a kmsenvelope message: "aliyunesdk.Migrator.Migrate"
}

func (e *LegacyFormatError) Error() string {
	return "not a kmsenvelope message: this is an " + e.Format + "; read it with " + e.Function +
		", or convert it to a kmsenvelope message with " + e.Migrate + " (package " + e.Package + ")"
}

// Unwrap returns ErrLegacyFormat and ErrMalformed.
func (e *LegacyFormatError) Unwrap() []error { return []error{ErrLegacyFormat, ErrMalformed} }

// legacyFormat recognises the leading 4 bytes of an Alibaba Cloud
// Encryption SDK message, or returns nil.
func legacyFormat(b []byte) *LegacyFormatError {
	e := &LegacyFormatError{Package: AliyunESDKPackage, Migrate: "aliyunesdk.Migrator.Migrate"}
	switch {
	case len(b) >= 2 && b[0] == 0x30 && (b[1] < 0x80 || b[1] >= 0x81 && b[1] <= 0x84):
		e.Format = "Alibaba Cloud Encryption SDK ASN.1 message (DER SEQUENCE; if it is a SecretManager body, aliyunesdk.Decrypter.DecryptSecretManager reads it)"
		e.Function = "aliyunesdk.Decrypter.Decrypt"
	case len(b) >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 1:
		e.Format = "Alibaba Cloud Encryption SDK Java stream message (version 00000001)"
		e.Function = "aliyunesdk.Decrypter.Decrypt"
	default:
		return nil
	}
	return e
}

// FormatError reports a structural problem with a message, naming the byte
// offset and the field.
type FormatError struct {
	Offset int    // byte offset in the message where the problem was found
	Field  string // e.g. "frame size", "wrapped key 1 blob"
	Reason string
	Err    error // ErrMalformed, ErrUnsupported, ErrTruncated, or an I/O error
}

func (e *FormatError) Error() string {
	return "envelope: " + e.Field + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Unwrap returns the sentinel or I/O error.
func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(off int, field string, kind error, reason string) error {
	return &FormatError{Offset: off, Field: field, Reason: reason, Err: kind}
}

// FrameError reports a body frame that failed: authentication, a body that
// ends without its final frame, or a frame past the 2^32 limit.
type FrameError struct {
	Frame  uint64 // index of the frame, from 0
	Offset int64  // byte offset of the frame in the message
	Err    error  // ErrAuthentication, ErrTruncated, or ErrTooLarge (the frame limit)
}

func (e *FrameError) Error() string {
	return "envelope: frame " + strconv.FormatUint(e.Frame, 10) + " at offset " +
		strconv.FormatInt(e.Offset, 10) + ": " + strings.TrimPrefix(e.Err.Error(), "envelope: ")
}

// Unwrap returns ErrAuthentication, ErrTruncated or ErrTooLarge.
func (e *FrameError) Unwrap() error { return e.Err }

// ContextError reports an encryption context problem: an invalid context
// given to Encrypt (unwraps to ErrInvalidContext), a message whose context
// lacks a required pair (ErrContextMismatch), or requirements that
// contradict each other (ErrContextConflict). It names the key but never
// echoes values.
type ContextError struct {
	Key    string
	Reason string
	kind   error
}

func (e *ContextError) Error() string {
	s := "envelope: encryption context"
	if e.Key != "" {
		s += " key " + strconv.Quote(e.Key)
	}
	return s + ": " + e.Reason
}

// Unwrap returns ErrInvalidContext, ErrContextMismatch or
// ErrContextConflict.
func (e *ContextError) Unwrap() error {
	if e.kind != nil {
		return e.kind
	}
	return ErrInvalidContext
}

// safeKey bounds a context key for inclusion in an error.
func safeKey(k string) string {
	if len(k) > 64 {
		k = k[:64]
	}
	return strings.ToValidUTF8(k, "\uFFFD")
}

// safeARN is a key ARN from a message header or a KMS answer, fit for an
// error string (see safetext.Field).
func safeARN(arn string) string { return safetext.Field(arn) }

// UnwrapError reports why no wrapped key of a message could be unwrapped,
// one reason per wrapped key, in order. It unwraps to ErrNoUsableKey and to
// each attempt's error (so errors.Is(err, kmsclient.ErrAccessDenied) works).
type UnwrapError struct {
	Attempts []UnwrapAttempt
}

// UnwrapAttempt is what happened to one wrapped key.
type UnwrapAttempt struct {
	KeyARN string
	Err    error
}

func (e *UnwrapError) Error() string {
	var b strings.Builder
	b.WriteString("envelope: no wrapped key could be unwrapped")
	for i, a := range e.Attempts {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(safeARN(a.KeyARN))
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(a.Err.Error(), "envelope: "))
	}
	return b.String()
}

// Unwrap returns ErrNoUsableKey and every attempt's error.
func (e *UnwrapError) Unwrap() []error {
	out := []error{ErrNoUsableKey}
	for _, a := range e.Attempts {
		out = append(out, a.Err)
	}
	return out
}
