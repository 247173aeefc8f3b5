package aliyunesdk

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"strconv"

	"golang.org/x/crypto/cryptobyte"
)

// ParseJavaStream parses a message of the Java SDK's stream API (§8 of the
// format notes; J/model/CipherHeader.java:169-221,
// DefaultEncryptHandler.java:95-155):
//
//	version ‖ alg ‖ len(ctxBytes) ‖ ctxBytes ‖ M ‖ {len keyId, keyId, len b64, b64}ᴹ ‖
//	len(headerIv) ‖ headerIv ‖ len(tag) ‖ tag ‖ LE32 len(iv) ‖ iv ‖ ciphertext ‖ [16-byte GCM tag]
//
// with big-endian uint32 lengths except the little-endian IV length. The
// whole stream is one cipher operation, so the body is everything after the
// IV. It is as strict as ParseMessage: every length is checked against the
// bytes present (nothing is allocated for a claimed length), ctxBytes must
// be canonical (sorted, unique keys, exact), the blob's Base64 must be the
// standard padded encoding, and key ids unique.
func ParseJavaStream(msg []byte) (*Message, error) {
	p := &parser{msg: msg}
	s := cryptobyte.String(msg)
	m := &Message{Format: FormatJavaStream}
	var v, alg uint32
	if !s.ReadUint32(&v) {
		return nil, p.truncated(s, "version")
	}
	if v != version {
		return nil, &FormatError{Offset: 0, Field: "version", Reason: "version " + strconv.FormatUint(uint64(v), 10) + " is not supported (want 1)", Err: ErrUnsupported}
	}
	m.Version = version
	if !s.ReadUint32(&alg) {
		return nil, p.truncated(s, "algorithm")
	}
	if _, ok := algorithms[Algorithm(alg)]; !ok {
		return nil, &FormatError{Offset: 4, Field: "algorithm", Reason: "algorithm " + strconv.FormatUint(uint64(alg), 10) + " is not one of the SDK's (1 to 12)", Err: ErrUnsupported}
	}
	m.Algorithm = Algorithm(alg)
	ctxBytes, err := p.lenPrefixed(&s, "context", MaxContextBytes)
	if err != nil {
		return nil, err
	}
	if err := p.parseCtxBytes(m, ctxBytes); err != nil {
		return nil, err
	}
	var count uint32
	at := s
	if !s.ReadUint32(&count) {
		return nil, p.truncated(s, "encryptedDataKey count")
	}
	if count == 0 || count > MaxWrappedKeys {
		return nil, &FormatError{Offset: p.off(at), Field: "encryptedDataKey count", Reason: strconv.FormatUint(uint64(count), 10) + " is outside [1, 16]", Err: ErrMalformed}
	}
	for i := range int(count) {
		f := "encryptedDataKey " + strconv.Itoa(i)
		at := s
		id, err := p.lenPrefixed(&s, f+" keyId", maxKeyIDLen)
		if err != nil {
			return nil, err
		}
		text, err := p.lenPrefixed(&s, f+" blob", base64.StdEncoding.EncodedLen(maxBlobLen))
		if err != nil {
			return nil, err
		}
		blob, err := base64.StdEncoding.Strict().DecodeString(string(text))
		if err != nil || base64.StdEncoding.EncodeToString(blob) != string(text) {
			return nil, p.fail(at, f+" blob", "not standard padded Base64")
		}
		if err := addWrappedKey(m, id, blob, func(reason string) error { return p.fail(at, f, reason) }); err != nil {
			return nil, err
		}
	}
	at = s
	if m.headerIV, err = p.lenPrefixed(&s, "headerIv", 1024); err != nil {
		return nil, err
	}
	if len(m.headerIV) != headerIVSize {
		return nil, p.fail(at, "headerIv", "length "+strconv.Itoa(len(m.headerIV))+", want 12")
	}
	at = s
	if m.headerTag, err = p.lenPrefixed(&s, "headerAuthTag", 1024); err != nil {
		return nil, err
	}
	if len(m.headerTag) != tagSize {
		return nil, p.fail(at, "headerAuthTag", "length "+strconv.Itoa(len(m.headerTag))+", want 16")
	}
	if err := p.streamBody(m, s); err != nil {
		return nil, err
	}
	return m, nil
}

// streamBody parses LE32 len(iv) ‖ iv ‖ ciphertext ‖ [tag] into m.
func (p *parser) streamBody(m *Message, s cryptobyte.String) error {
	in := algorithms[m.Algorithm]
	at := s
	var le []byte
	if !s.ReadBytes(&le, 4) {
		return p.truncated(s, "iv length")
	}
	if n := binary.LittleEndian.Uint32(le); n != uint32(in.ivSize) {
		return p.fail(at, "iv length", "length "+strconv.FormatUint(uint64(n), 10)+", "+in.name+" needs "+strconv.Itoa(in.ivSize))
	}
	if !s.ReadBytes(&m.iv, in.ivSize) {
		return p.truncated(s, "iv")
	}
	if len(s) < in.tagSize {
		return p.truncated(s, "authTag")
	}
	m.ciphertext, m.tag = s[:len(s)-in.tagSize], s[len(s)-in.tagSize:]
	return checkCiphertextLen(p, s, m)
}

// lenPrefixed reads a big-endian uint32 length, at most max, and that many
// bytes, which must be present.
func (p *parser) lenPrefixed(s *cryptobyte.String, field string, max int) ([]byte, error) {
	at := *s
	var n uint32
	if !s.ReadUint32(&n) {
		return nil, p.truncated(*s, field+" length")
	}
	if n > uint32(max) {
		return nil, &FormatError{Offset: p.off(at), Field: field + " length", Reason: strconv.FormatUint(uint64(n), 10) + " exceeds " + strconv.Itoa(max), Err: ErrMalformed}
	}
	var b []byte
	if !s.ReadBytes(&b, int(n)) {
		return nil, p.truncated(*s, field)
	}
	return b, nil
}

func (p *parser) truncated(at []byte, field string) error {
	return &FormatError{Offset: p.off(at), Field: field, Reason: "message ends inside it", Err: ErrMalformed}
}

// parseCtxBytes parses a serialised context (§3), which must be canonical:
// empty, or N and N entries sorted strictly by key bytes, nothing after.
func (p *parser) parseCtxBytes(m *Message, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	s := cryptobyte.String(b)
	var n uint32
	if !s.ReadUint32(&n) {
		return p.truncated(s, "context entry count")
	}
	if n == 0 {
		return p.fail(b, "context", "an empty context serialises to no bytes, not a zero count")
	}
	var pairs [][2][]byte
	for i := uint32(0); i < n; i++ {
		f := "context entry " + strconv.FormatUint(uint64(i), 10)
		at := s
		k, err := p.lenPrefixed(&s, f+" key", MaxContextBytes)
		if err != nil {
			return err
		}
		v, err := p.lenPrefixed(&s, f+" value", MaxContextBytes)
		if err != nil {
			return err
		}
		if reason := checkPair(k, v); reason != "" {
			return p.fail(at, f, reason)
		}
		if len(pairs) > 0 && bytes.Compare(pairs[len(pairs)-1][0], k) >= 0 {
			return p.fail(at, f, "keys not in strictly ascending order")
		}
		pairs = append(pairs, [2][]byte{k, v})
	}
	if !s.Empty() {
		return p.fail(s, "context", "bytes after the last entry")
	}
	m.ctxBytes = b
	m.Context = contextMap(pairs)
	return nil
}

// parseStreamBody parses a SecretManager stream body: LE32 len(iv) ‖ iv ‖
// ciphertext ‖ [tag].
func parseStreamBody(m *Message, b []byte) error {
	p := &parser{msg: b}
	return p.streamBody(m, cryptobyte.String(b))
}
