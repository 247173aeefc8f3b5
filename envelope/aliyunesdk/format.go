package aliyunesdk

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/kmsenvelope/kmsenvelope/envelope"
)

// Algorithm is an algorithm id of the Alibaba Cloud Encryption SDK
// (J/model/CryptoAlgorithm.java:26-75; P/model.py:41-48).
type Algorithm int

// The SDK's algorithms. Only the GCM ones authenticate the body; the CBC
// and CTR ones are read only when [Config.AllowUnauthenticated] names them,
// and never written.
const (
	AESGCM128 Algorithm = 1 // AES_GCM_NOPADDING_128
	AESGCM256 Algorithm = 2 // AES_GCM_NOPADDING_256, the SDKs' default

	AESCBCNoPadding128 Algorithm = 3 // AES_CBC_NOPADDING_128: UNAUTHENTICATED
	AESCBCNoPadding256 Algorithm = 4 // AES_CBC_NOPADDING_256: UNAUTHENTICATED
	AESCBCPKCS5128     Algorithm = 5 // AES_CBC_PKCS5_128: UNAUTHENTICATED, padding oracle
	AESCBCPKCS5256     Algorithm = 6 // AES_CBC_PKCS5_256: UNAUTHENTICATED, padding oracle
	AESCTR128          Algorithm = 7 // AES_CTR_NOPADDING_128: UNAUTHENTICATED
	AESCTR256          Algorithm = 8 // AES_CTR_NOPADDING_256: UNAUTHENTICATED

	SM4GCM Algorithm = 9 // SM4_GCM_NOPADDING_128 (Java only)

	SM4CBCNoPadding Algorithm = 10 // SM4_CBC_NOPADDING_128: UNAUTHENTICATED (Java only)
	SM4CBCPKCS5     Algorithm = 11 // SM4_CBC_PKCS5_128: UNAUTHENTICATED, padding oracle (Java only)
	SM4CTR          Algorithm = 12 // SM4_CTR_NOPADDING_128: UNAUTHENTICATED (Java only)
)

type mode uint8

const (
	modeGCM mode = iota
	modeCBC
	modeCBCPKCS5
	modeCTR
)

// algInfo is one row of the SDK's algorithm table.
type algInfo struct {
	name    string
	keySize int
	ivSize  int
	tagSize int // body tag: 16 for GCM, 0 otherwise
	sm4     bool
	mode    mode
}

var algorithms = map[Algorithm]algInfo{
	AESGCM128:          {"AES_GCM_NOPADDING_128", 16, 12, 16, false, modeGCM},
	AESGCM256:          {"AES_GCM_NOPADDING_256", 32, 12, 16, false, modeGCM},
	AESCBCNoPadding128: {"AES_CBC_NOPADDING_128", 16, 16, 0, false, modeCBC},
	AESCBCNoPadding256: {"AES_CBC_NOPADDING_256", 32, 16, 0, false, modeCBC},
	AESCBCPKCS5128:     {"AES_CBC_PKCS5_128", 16, 16, 0, false, modeCBCPKCS5},
	AESCBCPKCS5256:     {"AES_CBC_PKCS5_256", 32, 16, 0, false, modeCBCPKCS5},
	AESCTR128:          {"AES_CTR_NOPADDING_128", 16, 16, 0, false, modeCTR},
	AESCTR256:          {"AES_CTR_NOPADDING_256", 32, 16, 0, false, modeCTR},
	SM4GCM:             {"SM4_GCM_NOPADDING_128", 16, 12, 16, true, modeGCM},
	SM4CBCNoPadding:    {"SM4_CBC_NOPADDING_128", 16, 16, 0, true, modeCBC},
	SM4CBCPKCS5:        {"SM4_CBC_PKCS5_128", 16, 16, 0, true, modeCBCPKCS5},
	SM4CTR:             {"SM4_CTR_NOPADDING_128", 16, 16, 0, true, modeCTR},
}

// String returns the SDK's name of the algorithm.
func (a Algorithm) String() string {
	if in, ok := algorithms[a]; ok {
		return in.name
	}
	return "unknown algorithm " + strconv.Itoa(int(a))
}

// MarshalText returns the SDK's name, for reports.
func (a Algorithm) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// ParseAlgorithm returns the algorithm of the SDK's name (as
// CryptoAlgorithm names it, "AES_CBC_PKCS5_256"), for flags such as a
// CLI's list of unauthenticated algorithms to allow.
func ParseAlgorithm(name string) (Algorithm, error) {
	for a, in := range algorithms {
		if in.name == name {
			return a, nil
		}
	}
	return 0, fmt.Errorf("aliyunesdk: unknown algorithm %q (want a CryptoAlgorithm name such as AES_GCM_NOPADDING_256)", name)
}

// Authenticated reports whether the algorithm authenticates the body (the
// GCM ones).
func (a Algorithm) Authenticated() bool {
	in, ok := algorithms[a]
	return ok && in.mode == modeGCM
}

// KeySize returns the data key length of the algorithm, 0 if unknown.
func (a Algorithm) KeySize() int { return algorithms[a].keySize }

// Format is the shape a message came in.
type Format int

const (
	// FormatASN1 is the full DER EncryptionMessage (header and body), what
	// the SDKs' encrypt calls return.
	FormatASN1 Format = iota + 1
	// FormatJavaStream is the Java SDK's stream API output: a binary
	// header and one GCM (or CBC/CTR) operation over the whole stream.
	FormatJavaStream
	// FormatSecretManager is a SecretManagerDataKeyProvider message: the
	// header is kept in a secret, the message is only the body (DER
	// EncryptionBody, or the Java stream body).
	FormatSecretManager
)

// MarshalText returns the format's name, for reports.
func (f Format) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

func (f Format) String() string {
	switch f {
	case FormatASN1:
		return "ASN.1 message"
	case FormatJavaStream:
		return "Java stream"
	case FormatSecretManager:
		return "SecretManager body"
	}
	return "unknown format"
}

// Format limits. They apply while parsing, before any KMS call.
const (
	// MaxContextBytes bounds the serialised encryption context (ctxBytes):
	// the Java SDK serialises it into a buffer of Short.MAX_VALUE bytes
	// (J/model/CipherHeader.java:224-264).
	MaxContextBytes = 32767
	// MaxWrappedKeys is the most wrapped keys (EncryptedDataKey) a message
	// may carry for the parser to accept it; the Client's
	// envelope.Config.MaxWrappedKeys (3 by default) then applies too.
	MaxWrappedKeys = 16
	maxKeyIDLen    = 2048
	maxBlobLen     = 4096
	headerIVSize   = 12
	tagSize        = 16
	version        = 1
)

// Message is a parsed message. Nothing in it is authenticated until a
// Decrypter has verified its header tag; nothing in it is secret.
type Message struct {
	Format    Format
	Version   int
	Algorithm Algorithm
	// WrappedKeys are the EncryptedDataKeys, in message order, each named
	// by the key ARN the message gives (ProviderAliyunKMS).
	WrappedKeys []envelope.WrappedKey
	// Context is the encryption context (nil when empty).
	Context map[string]string

	headerIV, headerTag []byte
	iv, ciphertext, tag []byte
	ctxBytes            []byte // the serialised context (§3), the GCM AAD
}

// FormatError reports a structural problem, naming the byte offset and the
// field. It unwraps to ErrMalformed, ErrUnsupported or ErrTooLarge.
type FormatError struct {
	Offset int
	Field  string
	Reason string
	Err    error
}

func (e *FormatError) Error() string {
	return "aliyunesdk: " + e.Field + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

// Unwrap returns the sentinel.
func (e *FormatError) Unwrap() error { return e.Err }

// parser parses one message held in memory. Offsets are computed from the
// capacity of the cryptobyte slices, which all share msg's array.
type parser struct {
	msg []byte
}

func (p *parser) off(s []byte) int { return cap(p.msg) - cap(s) }

func (p *parser) fail(at []byte, field, reason string) error {
	return &FormatError{Offset: p.off(at), Field: field, Reason: reason, Err: ErrMalformed}
}

// ParseMessage parses a full DER EncryptionMessage strictly: exactly the
// documented elements (2, 6 and 3), definite minimal lengths, primitive
// OCTET STRINGs, SET elements in DER order, no trailing bytes, version 1, a
// known algorithm, the algorithm's IV and tag lengths, valid UTF-8, no
// duplicate key ids or context keys, the caps above. It checks no tag.
func ParseMessage(msg []byte) (*Message, error) {
	p := &parser{msg: msg}
	in := cryptobyte.String(msg)
	var message, head, body cryptobyte.String
	if !in.ReadASN1(&message, asn1.SEQUENCE) {
		return nil, p.fail(msg, "EncryptionMessage", "not a DER SEQUENCE with a definite, minimal length that fits the message")
	}
	if !in.Empty() {
		return nil, p.fail(in, "EncryptionMessage", "bytes after the message")
	}
	if !message.ReadASN1(&head, asn1.SEQUENCE) {
		return nil, p.fail(message, "EncryptionHead", "not a DER SEQUENCE")
	}
	m := &Message{Format: FormatASN1}
	if err := p.head(m, head); err != nil {
		return nil, err
	}
	if !message.ReadASN1(&body, asn1.SEQUENCE) {
		return nil, p.fail(message, "EncryptionBody", "not a DER SEQUENCE")
	}
	if !message.Empty() {
		return nil, p.fail(message, "EncryptionMessage", "more than 2 elements")
	}
	if err := p.body(m, body); err != nil {
		return nil, err
	}
	return m, nil
}

// ParseSecretHeader parses a SecretManager header: the DER EncryptionHead
// (the secret's value is its standard Base64; pass the decoded bytes).
func ParseSecretHeader(head []byte) (*Message, error) {
	p := &parser{msg: head}
	in := cryptobyte.String(head)
	var h cryptobyte.String
	if !in.ReadASN1(&h, asn1.SEQUENCE) {
		return nil, p.fail(head, "EncryptionHead", "not a DER SEQUENCE with a definite, minimal length that fits")
	}
	if !in.Empty() {
		return nil, p.fail(in, "EncryptionHead", "bytes after the header")
	}
	m := &Message{Format: FormatSecretManager}
	if err := p.head(m, h); err != nil {
		return nil, err
	}
	return m, nil
}

// head parses the six elements of an EncryptionHead into m.
func (p *parser) head(m *Message, head cryptobyte.String) error {
	var v, alg int64
	start := head
	if !head.ReadASN1Integer(&v) {
		return p.fail(head, "version", "not a minimal DER INTEGER")
	}
	if v != version {
		return &FormatError{Offset: p.off(start), Field: "version", Reason: "version " + strconv.FormatInt(v, 10) + " is not supported (want 1)", Err: ErrUnsupported}
	}
	m.Version = version
	at := head
	if !head.ReadASN1Integer(&alg) {
		return p.fail(head, "algorithm", "not a minimal DER INTEGER")
	}
	if _, ok := algorithms[Algorithm(alg)]; !ok || alg != int64(int(alg)) {
		return &FormatError{Offset: p.off(at), Field: "algorithm", Reason: "algorithm " + strconv.FormatInt(alg, 10) + " is not one of the SDK's (1 to 12)", Err: ErrUnsupported}
	}
	m.Algorithm = Algorithm(alg)
	var edks, ctxSet cryptobyte.String
	if !head.ReadASN1(&edks, asn1.SET) {
		return p.fail(head, "encryptedDataKeys", "not a DER SET")
	}
	if err := p.wrappedKeys(m, edks); err != nil {
		return err
	}
	if !head.ReadASN1(&ctxSet, asn1.SET) {
		return p.fail(head, "encryptionContext", "not a DER SET")
	}
	if err := p.context(m, ctxSet); err != nil {
		return err
	}
	at = head
	if !head.ReadASN1Bytes(&m.headerIV, asn1.OCTET_STRING) {
		return p.fail(head, "headerIv", "not a primitive OCTET STRING")
	}
	if len(m.headerIV) != headerIVSize {
		return p.fail(at, "headerIv", "length "+strconv.Itoa(len(m.headerIV))+", want 12")
	}
	at = head
	if !head.ReadASN1Bytes(&m.headerTag, asn1.OCTET_STRING) {
		return p.fail(head, "headerAuthTag", "not a primitive OCTET STRING")
	}
	if len(m.headerTag) != tagSize {
		return p.fail(at, "headerAuthTag", "length "+strconv.Itoa(len(m.headerTag))+", want 16")
	}
	if !head.Empty() {
		return p.fail(head, "EncryptionHead", "more than 6 elements")
	}
	return nil
}

// setElements reads the elements of a DER SET OF SEQUENCE, checking DER
// order (ascending encodings, hence no two equal), and calls each with the
// element's content.
func (p *parser) setElements(set cryptobyte.String, field string, max int, each func(i int, at, content cryptobyte.String) error) error {
	var prev []byte
	for i := 0; !set.Empty(); i++ {
		if i == max {
			return &FormatError{Offset: p.off(set), Field: field, Reason: "more than " + strconv.Itoa(max) + " elements", Err: ErrTooLarge}
		}
		at := set
		var elem cryptobyte.String
		if !set.ReadASN1Element(&elem, asn1.SEQUENCE) {
			return p.fail(set, field+" "+strconv.Itoa(i), "not a DER SEQUENCE")
		}
		if prev != nil && bytes.Compare(prev, elem) >= 0 {
			return p.fail(at, field+" "+strconv.Itoa(i), "SET elements not in DER order (ascending encodings, no duplicates)")
		}
		prev = elem
		var content cryptobyte.String
		elem.ReadASN1(&content, asn1.SEQUENCE) // just read as an element
		if err := each(i, at, content); err != nil {
			return err
		}
	}
	return nil
}

// pair reads the two OCTET STRINGs of a SEQUENCE exactly.
func (p *parser) pair(content cryptobyte.String, field, first, second string) (a, b []byte, err error) {
	if !content.ReadASN1Bytes(&a, asn1.OCTET_STRING) {
		return nil, nil, p.fail(content, field+" "+first, "not a primitive OCTET STRING")
	}
	if !content.ReadASN1Bytes(&b, asn1.OCTET_STRING) {
		return nil, nil, p.fail(content, field+" "+second, "not a primitive OCTET STRING")
	}
	if !content.Empty() {
		return nil, nil, p.fail(content, field, "more than 2 elements")
	}
	return a, b, nil
}

func (p *parser) wrappedKeys(m *Message, set cryptobyte.String) error {
	err := p.setElements(set, "encryptedDataKey", MaxWrappedKeys, func(i int, at, content cryptobyte.String) error {
		f := "encryptedDataKey " + strconv.Itoa(i)
		id, blob, err := p.pair(content, f, "keyId", "blob")
		if err != nil {
			return err
		}
		return addWrappedKey(m, id, blob, func(reason string) error { return p.fail(at, f, reason) })
	})
	if err != nil {
		return err
	}
	if len(m.WrappedKeys) == 0 {
		return p.fail(set, "encryptedDataKeys", "no wrapped key")
	}
	return nil
}

// addWrappedKey validates one EncryptedDataKey and appends it.
func addWrappedKey(m *Message, id, blob []byte, fail func(string) error) error {
	switch {
	case len(id) == 0 || len(id) > maxKeyIDLen:
		return fail("keyId length " + strconv.Itoa(len(id)) + " is outside [1, 2048]")
	case !utf8.Valid(id):
		return fail("keyId is not valid UTF-8")
	case len(blob) == 0 || len(blob) > maxBlobLen:
		return fail("blob length " + strconv.Itoa(len(blob)) + " is outside [1, 4096]")
	}
	for _, k := range m.WrappedKeys {
		if k.KeyARN == string(id) {
			return fail("duplicate keyId")
		}
	}
	m.WrappedKeys = append(m.WrappedKeys, envelope.WrappedKey{Provider: envelope.ProviderAliyunKMS, KeyARN: string(id), Blob: blob})
	return nil
}

func (p *parser) context(m *Message, set cryptobyte.String) error {
	if len(set) > MaxContextBytes*2 { // a DER element costs at most 2x ctxBytes (tags, lengths)
		return &FormatError{Offset: p.off(set), Field: "encryptionContext", Reason: "larger than the SDK allows", Err: ErrTooLarge}
	}
	var pairs [][2][]byte
	err := p.setElements(set, "encryptionContext entry", MaxContextBytes/8, func(i int, at, content cryptobyte.String) error {
		f := "encryptionContext entry " + strconv.Itoa(i)
		k, v, err := p.pair(content, f, "key", "value")
		if err != nil {
			return err
		}
		if err := checkPair(k, v); err != "" {
			return p.fail(at, f, err)
		}
		pairs = append(pairs, [2][]byte{k, v})
		return nil
	})
	if err != nil {
		return err
	}
	// Sorted by key bytes (unsigned, as the SDKs sort for ctxBytes); a
	// repeated key is refused (Java would keep the last, Python all).
	slices.SortFunc(pairs, func(a, b [2][]byte) int { return bytes.Compare(a[0], b[0]) })
	for i := 1; i < len(pairs); i++ {
		if bytes.Equal(pairs[i-1][0], pairs[i][0]) {
			return p.fail(set, "encryptionContext", "duplicate key")
		}
	}
	m.ctxBytes = serialiseContext(pairs)
	if len(m.ctxBytes) > MaxContextBytes {
		return &FormatError{Offset: p.off(set), Field: "encryptionContext", Reason: "serialises to more than 32767 bytes", Err: ErrTooLarge}
	}
	m.Context = contextMap(pairs)
	return nil
}

// checkPair validates one context entry; "" if valid.
func checkPair(k, v []byte) string {
	switch {
	case len(k) == 0:
		// Assumption (the sources are silent): an empty key is refused.
		return "empty key"
	case !utf8.Valid(k) || !utf8.Valid(v):
		return "not valid UTF-8"
	}
	return ""
}

func contextMap(pairs [][2][]byte) map[string]string {
	if len(pairs) == 0 {
		return nil
	}
	m := make(map[string]string, len(pairs))
	for _, kv := range pairs {
		m[string(kv[0])] = string(kv[1])
	}
	return m
}

// serialiseContext is ctxBytes (§3): nothing for an empty context;
// otherwise N, then each entry sorted by key bytes as len(k) k len(v) v,
// every integer a big-endian uint32. pairs must be sorted.
func serialiseContext(pairs [][2][]byte) []byte {
	if len(pairs) == 0 {
		return nil
	}
	n := 4
	for _, kv := range pairs {
		n += 8 + len(kv[0]) + len(kv[1])
	}
	out := make([]byte, 0, n)
	out = binary.BigEndian.AppendUint32(out, uint32(len(pairs)))
	for _, kv := range pairs {
		out = binary.BigEndian.AppendUint32(out, uint32(len(kv[0])))
		out = append(out, kv[0]...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(kv[1])))
		out = append(out, kv[1]...)
	}
	return out
}

// body parses the three elements of an EncryptionBody into m.
func (p *parser) body(m *Message, body cryptobyte.String) error {
	in := algorithms[m.Algorithm]
	at := body
	if !body.ReadASN1Bytes(&m.iv, asn1.OCTET_STRING) {
		return p.fail(body, "iv", "not a primitive OCTET STRING")
	}
	if len(m.iv) != in.ivSize {
		return p.fail(at, "iv", "length "+strconv.Itoa(len(m.iv))+", "+in.name+" needs "+strconv.Itoa(in.ivSize))
	}
	if !body.ReadASN1Bytes(&m.ciphertext, asn1.OCTET_STRING) {
		return p.fail(body, "cipherText", "not a primitive OCTET STRING")
	}
	at = body
	if !body.ReadASN1Bytes(&m.tag, asn1.OCTET_STRING) {
		return p.fail(body, "authTag", "not a primitive OCTET STRING")
	}
	if len(m.tag) != in.tagSize {
		return p.fail(at, "authTag", "length "+strconv.Itoa(len(m.tag))+", "+in.name+" needs "+strconv.Itoa(in.tagSize))
	}
	if !body.Empty() {
		return p.fail(body, "EncryptionBody", "more than 3 elements")
	}
	return checkCiphertextLen(p, at, m)
}

func checkCiphertextLen(p *parser, at []byte, m *Message) error {
	switch in := algorithms[m.Algorithm]; in.mode {
	case modeCBC:
		if len(m.ciphertext)%16 != 0 {
			return p.fail(at, "cipherText", "length is not a multiple of 16 ("+in.name+")")
		}
	case modeCBCPKCS5:
		if len(m.ciphertext) == 0 || len(m.ciphertext)%16 != 0 {
			return p.fail(at, "cipherText", "length is not a positive multiple of 16 ("+in.name+")")
		}
	}
	return nil
}

// parseBody parses a SecretManager body (DER EncryptionBody) for the
// algorithm of its header.
func parseBody(m *Message, b []byte) error {
	p := &parser{msg: b}
	in := cryptobyte.String(b)
	var body cryptobyte.String
	if !in.ReadASN1(&body, asn1.SEQUENCE) {
		return p.fail(b, "EncryptionBody", "not a DER SEQUENCE with a definite, minimal length that fits")
	}
	if !in.Empty() {
		return p.fail(in, "EncryptionBody", "bytes after the body")
	}
	return p.body(m, body)
}

// authFields is what the header tag authenticates (§4):
//
//	version ‖ algId ‖ N ‖ ctxBytes ‖ M ‖ for each EDK sorted by keyId bytes:
//	    len(keyId) ‖ keyId ‖ len(b64) ‖ b64
//
// b64 is the standard padded Base64 of the blob (the KMS CiphertextBlob
// text); ctxBytes starts with N again when the context is not empty.
func authFields(m *Message) []byte {
	keys := slices.Clone(m.WrappedKeys)
	slices.SortFunc(keys, func(a, b envelope.WrappedKey) int { return bytes.Compare([]byte(a.KeyARN), []byte(b.KeyARN)) })
	n := 16 + len(m.ctxBytes)
	for _, k := range keys {
		n += 8 + len(k.KeyARN) + base64.StdEncoding.EncodedLen(len(k.Blob))
	}
	out := make([]byte, 0, n)
	out = binary.BigEndian.AppendUint32(out, uint32(m.Version))
	out = binary.BigEndian.AppendUint32(out, uint32(m.Algorithm))
	out = binary.BigEndian.AppendUint32(out, uint32(len(m.Context)))
	out = append(out, m.ctxBytes...)
	out = binary.BigEndian.AppendUint32(out, uint32(len(keys)))
	for _, k := range keys {
		out = binary.BigEndian.AppendUint32(out, uint32(len(k.KeyARN)))
		out = append(out, k.KeyARN...)
		out = binary.BigEndian.AppendUint32(out, uint32(base64.StdEncoding.EncodedLen(len(k.Blob))))
		out = base64.StdEncoding.AppendEncode(out, k.Blob)
	}
	return out
}
