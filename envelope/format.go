package envelope

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Format constants of version 1 (see the package documentation).
const (
	magic           = "KMEV"
	formatVersion   = 1
	suiteCommitted  = 0x0001
	suiteSM4        = 0x0002
	messageIDSize   = 32
	commitmentSize  = 32
	tagSize         = 16
	fixedHeaderSize = 4 + 1 + 2 + messageIDSize + 4 + 2 // up to the context

	// MinFrameSize and MaxFrameSize bound the plaintext bytes per frame.
	MinFrameSize = 64
	MaxFrameSize = 4 << 20
	// DefaultFrameSize is the frame size when Config.FrameSize is zero.
	DefaultFrameSize = 64 << 10

	// MaxContextBytes bounds the encoded encryption context.
	MaxContextBytes = 8192
	// MaxWrappedKeysFormat is the most wrapped keys a message can carry.
	MaxWrappedKeysFormat = 16
	maxProviderLen       = 64
	maxKeyARNLen         = 2048
	maxBlobLen           = 4096

	// ReservedContextPrefix starts encryption context keys that belong to
	// this library; callers may not use them.
	ReservedContextPrefix = "kmsenvelope:"

	// ProviderAliyunKMS names Alibaba Cloud KMS as the wrapper of a data key.
	ProviderAliyunKMS = "aliyun-kms"
)

// maxFrames is the most frames a message may have (2^32: frame indices are
// 32-bit, see the package documentation). It is a variable only so tests
// can lower it (export_limits_test.go); nothing else writes it.
var maxFrames uint64 = 1 << 32

// frameFits reports whether frame i can be part of a message: every path
// (Encrypt, Writer, Decrypt, Reader) checks it before it seals, opens,
// sends or releases frame i. The final frame must have an index below
// maxFrames; a frame that is not final needs room for the final frame
// after it, so its index must be below maxFrames-1.
func frameFits(i uint64, final bool) bool {
	if final {
		return i < maxFrames
	}
	return i < maxFrames-1
}

// errFrameLimit is the error of every path for frame i, at message offset
// off, that frameFits refuses.
func errFrameLimit(i uint64, off int64) error {
	return &FrameError{Frame: i, Offset: off, Err: ErrTooLarge}
}

// Suite identifies the algorithms of a message.
type Suite uint16

// The suites of version 1 (see the package documentation).
const (
	// SuiteAES256GCMHKDFCommit: AES-256-GCM frames, HKDF-SHA256 key
	// derivation, key commitment; 32-byte data keys. The default.
	SuiteAES256GCMHKDFCommit Suite = suiteCommitted
	// SuiteSM4GCMHKDFSM3Commit: SM4-GCM frames (GB/T 32907), HKDF over SM3
	// (GB/T 32905) key derivation, key commitment; 16-byte data keys. For
	// deployments that must use the Chinese commercial cryptography
	// algorithms (GM/T).
	SuiteSM4GCMHKDFSM3Commit Suite = suiteSM4
)

func (s Suite) String() string {
	switch s {
	case SuiteAES256GCMHKDFCommit:
		return "AES-256-GCM/HKDF-SHA256/commit"
	case SuiteSM4GCMHKDFSM3Commit:
		return "SM4-GCM/HKDF-SM3/commit"
	}
	return "unknown suite"
}

// known reports whether s is a suite of version 1.
func (s Suite) known() bool {
	return s == SuiteAES256GCMHKDFCommit || s == SuiteSM4GCMHKDFSM3Commit
}

// WrappedKey is one KMS-wrapped copy of a message's data key.
type WrappedKey struct {
	Provider string // ProviderAliyunKMS
	KeyARN   string // the KMS key that wrapped it
	Blob     []byte // the KMS CiphertextBlob
}

// Format prints the provider and key ARN but only the length of the blob,
// for every verb: the wrapped data key has no business in logs.
func (k WrappedKey) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{%s %s blob:%d bytes}", k.Provider, k.KeyARN, len(k.Blob))
}

// Header is the parsed header of a message. It can be inspected without
// decrypting (see [ParseHeader]); nothing in it is secret.
type Header struct {
	Version     int
	Suite       Suite
	MessageID   [messageIDSize]byte
	FrameSize   int
	Context     map[string]string
	WrappedKeys []WrappedKey

	authed     []byte // bytes [0, end of commitment): what the header tag covers
	commitment []byte
	tag        []byte
	ctxBytes   []byte // the encoded context section
	length     int    // header plus wrapped keys: where the body starts
}

// Len returns the length of the header including the wrapped keys: the
// offset of the body in the message.
func (h *Header) Len() int { return h.length }

// ParseHeader parses the header at the start of msg without decrypting
// anything or checking its authenticity (that needs the data key). It
// reports structural problems as a *FormatError.
func ParseHeader(msg []byte) (*Header, error) {
	return parseHeader(&source{b: msg}, true)
}

// ReadHeader reads and parses a header from r, consuming exactly the header.
func ReadHeader(r io.Reader) (*Header, error) {
	return parseHeader(&source{r: r}, true)
}

// field names a header field for errors. It is built lazily (String runs
// only when an error is reported) so parsing a valid header allocates no
// names: "wrapped key 2 blob length" is field{"wrapped key", 2, "blob",
// "length"}.
type field struct {
	name      string
	idx       int // -1: no index
	part, sub string
}

func fieldName(name string) field { return field{name: name, idx: -1} }

func (f field) String() string {
	s := f.name
	if f.idx >= 0 {
		s += " " + itoa(f.idx)
	}
	for _, p := range [...]string{f.part, f.sub} {
		if p != "" {
			s += " " + p
		}
	}
	return s
}

// with names a part of f; a part of a part goes in sub, and deeper parts
// (none today) are joined there.
func (f field) with(part string) field {
	switch {
	case f.part == "":
		f.part = part
	case f.sub == "":
		f.sub = part
	default:
		f.sub += " " + part
	}
	return f
}

// source yields the next n bytes of a header, from a message in memory (r
// nil: b is the message) or from a reader (b is everything read so far, so
// the header can reference it). It is a concrete type, not an interface, so
// a source on the caller's stack stays there.
type source struct {
	b   []byte
	off int
	r   io.Reader
}

func (s *source) next(n int, f field) ([]byte, error) {
	if s.r == nil {
		if len(s.b)-s.off < n {
			return nil, formatErr(s.off, f.String(), ErrTruncated, "message ends inside the header")
		}
		out := s.b[s.off : s.off+n]
		s.off += n
		return out, nil
	}
	// A length comes from the header itself, so the bytes are read in
	// bounded chunks and the buffer grows only as they arrive: a stream that
	// claims 8 KiB of context and ends after a few bytes costs a few bytes,
	// not the claim.
	start := len(s.b)
	for got := 0; got < n; {
		k := min(n-got, readChunk)
		s.b = growSource(s.b, k)
		m, err := io.ReadFull(s.r, s.b[len(s.b):len(s.b)+k])
		s.b = s.b[:len(s.b)+m]
		got += m
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, formatErr(s.off, f.String(), ErrTruncated, "stream ends inside the header")
			}
			return nil, &FormatError{Offset: s.off, Field: f.String(), Reason: "reading the header failed", Err: err}
		}
	}
	s.off += n
	return s.b[start:], nil
}

// readChunk is the most a stream source reads (and grows its buffer by) at
// once for one field.
const readChunk = 512

// growSource returns b with room for k more bytes, doubling its capacity
// (from 256) when it must grow: all the buffers a header ever allocates add
// up to less than twice the final one plus a chunk, so to a small multiple
// of the bytes actually read. Slices the header took from the old buffer
// stay valid: growing copies, it never writes the old array.
func growSource(b []byte, k int) []byte {
	if cap(b)-len(b) >= k {
		return b
	}
	nb := make([]byte, len(b), max(2*cap(b), len(b)+k, 256))
	copy(nb, b)
	return nb
}

func (s *source) offset() int { return s.off }

// authed returns the first n bytes the source has yielded.
func (s *source) authed(n int) []byte { return s.b[:n] }

// ensureContext decodes h.Context if parseHeader left it out. The section
// was validated then, so decoding cannot fail.
func (h *Header) ensureContext() {
	if h.Context == nil && len(h.ctxBytes) > 2 {
		h.Context = buildContext(h.ctxBytes, int(binary.BigEndian.Uint16(h.ctxBytes)))
	}
}

// parseHeader parses and validates a header. With decodeCtx false the
// context is validated but Context is left nil (see Header.ensureContext),
// which saves its allocations when decryption never needs the map.
func parseHeader(src *source, decodeCtx bool) (*Header, error) {
	h := &Header{}
	if err := parseHeaderInto(h, nil, src, decodeCtx, nil); err != nil {
		return nil, err
	}
	return h, nil
}

// parseHeaderInto is parseHeader into h, which it fills only on success.
// The wrapped keys go into wkBuf when they fit (the decryption path passes
// room for one, inside the allocation that holds h); intern, if not nil,
// returns the key ARN labels as strings (a Client's known ARNs without
// allocating).
func parseHeaderInto(h *Header, wkBuf []WrappedKey, src *source, decodeCtx bool, intern func([]byte) string) error {
	if _, err := parseHeaderFields(h, wkBuf, src, decodeCtx, intern); err != nil {
		*h = Header{}
		return err
	}
	return nil
}

// parseHeaderFields does parseHeaderInto's work; it returns h or the first
// error.
func parseHeaderFields(h *Header, wkBuf []WrappedKey, src *source, decodeCtx bool, intern func([]byte) string) (*Header, error) {
	b, err := src.next(4, fieldName("magic"))
	if err != nil {
		return nil, err
	}
	if string(b) != magic {
		if lf := legacyFormat(b); lf != nil {
			return nil, &FormatError{Offset: 0, Field: "magic", Reason: lf.Error(), Err: lf}
		}
		return nil, formatErr(0, "magic", ErrMalformed, "not a kmsenvelope message (bad magic)")
	}
	if b, err = src.next(1, fieldName("version")); err != nil {
		return nil, err
	}
	if b[0] != formatVersion {
		return nil, formatErr(4, "version", ErrUnsupported, "version "+itoa(int(b[0]))+" is not supported (want 1)")
	}
	h.Version = formatVersion
	if b, err = src.next(2, fieldName("suite")); err != nil {
		return nil, err
	}
	h.Suite = Suite(binary.BigEndian.Uint16(b))
	if !h.Suite.known() {
		return nil, formatErr(5, "suite", ErrUnsupported, "suite "+itoa(int(h.Suite))+" is not supported")
	}
	if b, err = src.next(messageIDSize, fieldName("message id")); err != nil {
		return nil, err
	}
	copy(h.MessageID[:], b)
	if b, err = src.next(4, fieldName("frame size")); err != nil {
		return nil, err
	}
	fs := binary.BigEndian.Uint32(b)
	if fs < MinFrameSize || fs > MaxFrameSize {
		return nil, formatErr(39, "frame size", ErrMalformed, "frame size "+itoa(int(fs))+" is outside [64, 4 MiB]")
	}
	h.FrameSize = int(fs)
	if b, err = src.next(2, fieldName("context length")); err != nil {
		return nil, err
	}
	clen := int(binary.BigEndian.Uint16(b))
	if clen > MaxContextBytes {
		return nil, formatErr(43, "context length", ErrMalformed, "context of "+itoa(clen)+" bytes exceeds 8192")
	}
	ctxStart := src.offset()
	if h.ctxBytes, err = src.next(clen, fieldName("encryption context")); err != nil {
		return nil, err
	}
	// The context is only validated here; its map is built once the whole
	// header has parsed, so a header that fails later costs no map.
	pairs, err := checkContext(h.ctxBytes, ctxStart)
	if err != nil {
		return nil, err
	}
	if h.commitment, err = src.next(commitmentSize, fieldName("commitment")); err != nil {
		return nil, err
	}
	authedLen := src.offset()
	if h.tag, err = src.next(tagSize, fieldName("header tag")); err != nil {
		return nil, err
	}
	if h.WrappedKeys, err = parseWrappedKeys(src, wkBuf, intern); err != nil {
		return nil, err
	}
	h.length = src.offset()
	h.authed = src.authed(authedLen)
	if decodeCtx && pairs > 0 {
		h.Context = buildContext(h.ctxBytes, pairs)
	}
	return h, nil
}

func parseWrappedKeys(src *source, buf []WrappedKey, intern func([]byte) string) ([]WrappedKey, error) {
	off := src.offset()
	b, err := src.next(1, fieldName("wrapped key count"))
	if err != nil {
		return nil, err
	}
	n := int(b[0])
	if n < 1 || n > MaxWrappedKeysFormat {
		return nil, formatErr(off, "wrapped key count", ErrMalformed, "wrapped key count "+itoa(n)+" is outside [1, 16]")
	}
	// The keys are parsed into a fixed array and copied out once all of
	// them are present: nothing is allocated for a count the bytes do not
	// back.
	var keysBuf [MaxWrappedKeysFormat]WrappedKey
	keys := keysBuf[:n]
	for i := range keys {
		f := field{name: "wrapped key", idx: i}
		p, err := readLenPrefixed(src, 1, maxProviderLen, f.with("provider"))
		if err != nil {
			return nil, err
		}
		a, err := readLenPrefixed(src, 2, maxKeyARNLen, f.with("key ARN"))
		if err != nil {
			return nil, err
		}
		bl, err := readLenPrefixed(src, 2, maxBlobLen, f.with("blob"))
		if err != nil {
			return nil, err
		}
		arn := ""
		if intern != nil {
			arn = intern(a)
		} else {
			arn = string(a)
		}
		keys[i] = WrappedKey{Provider: internProvider(p), KeyARN: arn, Blob: bl}
	}
	if n <= len(buf) {
		return append(buf[:0], keys...), nil
	}
	return slices.Clone(keys), nil
}

// internProvider avoids allocating the (almost always identical) provider.
func internProvider(p []byte) string {
	if string(p) == ProviderAliyunKMS {
		return ProviderAliyunKMS
	}
	return string(p)
}

func readLenPrefixed(src *source, width, max int, f field) ([]byte, error) {
	off := src.offset()
	b, err := src.next(width, f.with("length"))
	if err != nil {
		return nil, err
	}
	n := int(b[0])
	if width == 2 {
		n = int(binary.BigEndian.Uint16(b))
	}
	if n < 1 || n > max {
		return nil, formatErr(off, f.String(), ErrMalformed, "length "+itoa(n)+" is outside [1, "+itoa(max)+"]")
	}
	return src.next(n, f)
}

// decodeContext parses the context section, enforcing the canonical form
// (ascending unique keys, valid UTF-8) so that every context has exactly one
// encoding. With build it returns the context as a map, built only once the
// whole section is valid, so the map is sized by pairs actually present,
// never by the section's claimed pair count.
func decodeContext(b []byte, base int, build bool) (map[string]string, error) {
	n, err := checkContext(b, base)
	if err != nil || !build || n == 0 {
		return nil, err
	}
	return buildContext(b, n), nil
}

// buildContext builds the map of a section checkContext accepted with n > 0
// pairs.
func buildContext(b []byte, n int) map[string]string {
	// One string holds every key and value (a pair is a substring of it),
	// so the map costs two allocations, not one per key and value.
	s := string(b)
	m := make(map[string]string, n) // n pairs were just checked to be there
	off := 2
	for range n {
		kl := int(binary.BigEndian.Uint16(b[off:]))
		k := s[off+2 : off+2+kl]
		off += 2 + kl
		vl := int(binary.BigEndian.Uint16(b[off:]))
		m[k] = s[off+2 : off+2+vl]
		off += 2 + vl
	}
	return m
}

// checkContext validates a context section and returns its pair count.
func checkContext(b []byte, base int) (int, error) {
	if len(b) == 0 {
		return 0, formatErr(base, "encryption context", ErrMalformed, "empty context section (want at least the pair count)")
	}
	if len(b) < 2 {
		return 0, formatErr(base, "encryption context", ErrMalformed, "context section too short")
	}
	n := int(binary.BigEndian.Uint16(b))
	off := 2
	if n == 0 {
		if len(b) != 2 {
			return 0, formatErr(base+2, "encryption context", ErrMalformed, "bytes after an empty context")
		}
		return 0, nil
	}
	var prev []byte
	for i := 0; i < n; i++ {
		f := field{name: "encryption context pair", idx: i}
		k, next, err := lenBytes(b, off, base, f.with("key"))
		if err != nil {
			return 0, err
		}
		v, next2, err := lenBytes(b, next, base, f.with("value"))
		if err != nil {
			return 0, err
		}
		switch {
		case len(k) == 0:
			return 0, formatErr(base+off, f.String(), ErrMalformed, "empty key")
		case i > 0 && bytes.Compare(k, prev) <= 0:
			return 0, formatErr(base+off, f.String(), ErrMalformed, "keys not in strictly ascending order")
		case !utf8.Valid(k) || !utf8.Valid(v):
			return 0, formatErr(base+off, f.String(), ErrMalformed, "not valid UTF-8")
		}
		prev = k
		off = next2
	}
	if off != len(b) {
		return 0, formatErr(base+off, "encryption context", ErrMalformed, "bytes after the last pair")
	}
	return n, nil
}

// contextValue looks key up in a context section decodeContext accepted,
// without decoding it.
func contextValue(b []byte, key string) (value []byte, ok bool) {
	if len(b) < 2 {
		return nil, false
	}
	n, off := int(binary.BigEndian.Uint16(b)), 2
	for range n {
		k, next, err := lenBytes(b, off, 0, field{})
		if err != nil {
			return nil, false
		}
		v, next2, err := lenBytes(b, next, 0, field{})
		if err != nil {
			return nil, false
		}
		if string(k) == key {
			return v, true
		}
		off = next2
	}
	return nil, false
}

func lenBytes(b []byte, off, base int, f field) ([]byte, int, error) {
	if len(b)-off < 2 {
		return nil, 0, formatErr(base+off, f.String(), ErrMalformed, "truncated length")
	}
	n := int(binary.BigEndian.Uint16(b[off:]))
	off += 2
	if len(b)-off < n {
		return nil, 0, formatErr(base+off, f.String(), ErrMalformed, "length runs past the context section")
	}
	return b[off : off+n], off + n, nil
}

// encodeContext validates ec and returns its canonical encoding.
func encodeContext(ec map[string]string) ([]byte, error) {
	return appendContext(nil, ec)
}

// appendContext validates ec and appends its canonical encoding to dst.
func appendContext(dst []byte, ec map[string]string) ([]byte, error) {
	if len(ec) == 0 {
		return append(dst, 0, 0), nil
	}
	if len(ec) > 0xffff {
		return nil, &ContextError{Reason: "too many pairs"}
	}
	var keysBuf [8]string // most contexts have a few pairs: sort on the stack
	keys := keysBuf[:0]
	size := 2
	for k, v := range ec {
		switch {
		case k == "":
			return nil, &ContextError{Reason: "a key is empty"}
		case strings.HasPrefix(k, ReservedContextPrefix):
			return nil, &ContextError{Key: k, Reason: "keys starting " + ReservedContextPrefix + " are reserved"}
		case !utf8.ValidString(k) || !utf8.ValidString(v):
			return nil, &ContextError{Key: safeKey(k), Reason: "is not valid UTF-8"}
		}
		size += 4 + len(k) + len(v)
		if size > MaxContextBytes {
			return nil, &ContextError{Reason: "encodes to more than 8192 bytes"}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	dst = slices.Grow(dst, size)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(keys)))
	for _, k := range keys {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(k)))
		dst = append(dst, k...)
		v := ec[k]
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(v)))
		dst = append(dst, v...)
	}
	return dst, nil
}

// encodeWrappedKeys serialises the wrapped-key section.
func encodeWrappedKeys(keys []WrappedKey) ([]byte, error) {
	if len(keys) < 1 || len(keys) > MaxWrappedKeysFormat {
		return nil, &FormatError{Field: "wrapped key count", Reason: "must be 1 to 16, got " + itoa(len(keys)), Err: ErrMalformed}
	}
	out := []byte{byte(len(keys))}
	for i, k := range keys {
		if len(k.Provider) < 1 || len(k.Provider) > maxProviderLen || len(k.KeyARN) < 1 || len(k.KeyARN) > maxKeyARNLen ||
			len(k.Blob) < 1 || len(k.Blob) > maxBlobLen {
			return nil, &FormatError{Field: "wrapped key " + itoa(i), Reason: "provider, key ARN or blob length out of range", Err: ErrMalformed}
		}
		out = append(out, byte(len(k.Provider)))
		out = append(out, k.Provider...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(k.KeyARN)))
		out = append(out, k.KeyARN...)
		out = binary.BigEndian.AppendUint16(out, uint16(len(k.Blob)))
		out = append(out, k.Blob...)
	}
	return out, nil
}

// appendHeaderPrefix appends the authenticated part before the commitment.
func appendHeaderPrefix(dst []byte, suite Suite, msgID *[messageIDSize]byte, frameSize int, ctxBytes []byte) []byte {
	dst = append(dst, magic...)
	dst = append(dst, formatVersion)
	dst = binary.BigEndian.AppendUint16(dst, uint16(suite))
	dst = append(dst, msgID[:]...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(frameSize))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(ctxBytes)))
	return append(dst, ctxBytes...)
}

func itoa(n int) string { return strconv.Itoa(n) }
