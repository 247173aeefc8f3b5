package aliyunesdk

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/emmansun/gmsm/sm4"

	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// Sentinel errors; *FormatError and the errors below unwrap to them.
var (
	// ErrMalformed: not a well-formed message of the format.
	ErrMalformed = errors.New("aliyunesdk: malformed message")
	// ErrUnsupported: an unknown version or algorithm.
	ErrUnsupported = errors.New("aliyunesdk: unsupported version or algorithm")
	// ErrTooLarge: the message, its context or its wrapped keys exceed a
	// cap (Config.MaxMessageSize, MaxContextBytes, MaxWrappedKeys).
	ErrTooLarge = errors.New("aliyunesdk: message exceeds a limit")
	// ErrAlgorithmNotAllowed: the message uses an unauthenticated algorithm
	// (CBC, CTR) that Config.AllowUnauthenticated does not name. Nothing was
	// sent to KMS.
	ErrAlgorithmNotAllowed = errors.New("aliyunesdk: unauthenticated algorithm not allowed")
	// ErrAuthentication: the header tag or the body's GCM tag did not
	// verify: the message was modified, or is not for this data key.
	ErrAuthentication = errors.New("aliyunesdk: message authentication failed")
	// ErrBadPadding: a CBC-PKCS5 body does not end in valid padding (which,
	// the body being unauthenticated, says nothing about who changed it).
	ErrBadPadding = errors.New("aliyunesdk: bad CBC padding")
)

// DefaultMaxMessageSize is Config.MaxMessageSize when zero: 64 MiB.
const DefaultMaxMessageSize = 64 << 20

// Config configures a [Decrypter].
type Config struct {
	// Client unwraps the data keys, with its KMS clients, key trust
	// (envelope.Config Keys, AllowedKeys, Discovery), required context and
	// MaxWrappedKeys, exactly as for its own messages
	// (envelope.Client.UnwrapForeignDataKey). Required.
	Client *envelope.Client

	// AllowUnauthenticated names the CBC and CTR algorithms to read.
	//
	// UNSAFE: their bodies carry no integrity at all. Anyone who can change
	// a message can change its plaintext undetected (CTR: bit for bit; CBC:
	// block-wise), splice bodies between messages under one data key, and,
	// with CBC-PKCS5, use the padding error as an oracle to decrypt. Name an
	// algorithm here only to migrate data at rest that you trust was not
	// modified, and only for as long as the migration takes. They are never
	// written. Nil (the default) reads only the GCM algorithms.
	AllowUnauthenticated []Algorithm

	// MaxMessageSize is the largest message Decrypt accepts, checked
	// before parsing and before any KMS call. Zero means
	// DefaultMaxMessageSize.
	MaxMessageSize int64
}

// Decrypter reads Alibaba Cloud Encryption SDK messages. It is safe for
// concurrent use.
type Decrypter struct {
	cfg Config
}

// NewDecrypter validates cfg and returns a Decrypter.
func NewDecrypter(cfg Config) (*Decrypter, error) {
	if cfg.Client == nil {
		return nil, errors.New("aliyunesdk: Config.Client is required")
	}
	for i, a := range cfg.AllowUnauthenticated {
		in, ok := algorithms[a]
		if !ok || in.mode == modeGCM {
			return nil, fmt.Errorf("aliyunesdk: Config.AllowUnauthenticated[%d]: %v is not an unauthenticated algorithm (CBC or CTR)", i, a)
		}
	}
	switch {
	case cfg.MaxMessageSize == 0:
		cfg.MaxMessageSize = DefaultMaxMessageSize
	case cfg.MaxMessageSize < 0:
		return nil, errors.New("aliyunesdk: Config.MaxMessageSize is negative")
	}
	cfg.AllowUnauthenticated = slices.Clone(cfg.AllowUnauthenticated)
	return &Decrypter{cfg: cfg}, nil
}

// Decrypt authenticates and decrypts a full message: the ASN.1
// EncryptionMessage (leading byte 0x30) or the Java stream format (leading
// bytes 00 00 00 01). It returns the plaintext and the parsed message.
//
// In order: the size cap, the strict parse (see ParseMessage and
// ParseJavaStream), the algorithm (an unauthenticated one must be allowed),
// then KMS: every trusted wrapped key is unwrapped and all must give the
// same data key, of the algorithm's length; then the header tag is
// recomputed and compared in constant time; then the body is opened, and
// for GCM nothing is returned unless its tag verifies. opts are envelope's
// DecryptOptions (RequireContext, RequireKeys), applied as envelope applies
// them.
func (d *Decrypter) Decrypt(ctx context.Context, msg []byte, opts ...envelope.DecryptOption) ([]byte, *Message, error) {
	if int64(len(msg)) > d.cfg.MaxMessageSize {
		return nil, nil, fmt.Errorf("%w: the message has %d bytes, Config.MaxMessageSize is %d", ErrTooLarge, len(msg), d.cfg.MaxMessageSize)
	}
	var m *Message
	var err error
	switch {
	case len(msg) > 0 && msg[0] == 0x30:
		m, err = ParseMessage(msg)
	case len(msg) >= 4 && msg[0] == 0 && msg[1] == 0 && msg[2] == 0 && msg[3] == 1:
		m, err = ParseJavaStream(msg)
	default:
		err = &FormatError{Field: "message", Reason: "neither an ASN.1 message (0x30) nor a Java stream (00 00 00 01)", Err: ErrMalformed}
	}
	if err != nil {
		return nil, nil, err
	}
	pt, err := d.open(ctx, m, opts)
	if err != nil {
		return nil, nil, err
	}
	return pt, m, nil
}

// DecryptSecretManager decrypts a SecretManagerDataKeyProvider message:
// secretValue is the value of the secret that holds the header (standard
// Base64 of the DER EncryptionHead, as the SDKs store it), body the message
// (a DER EncryptionBody, leading byte 0x30, or the Java stream body, LE32
// IV length first). The body is opened with the stored header's context as
// AAD (as the Python SDK does; see the package documentation for the Java
// SDK's quirk).
func (d *Decrypter) DecryptSecretManager(ctx context.Context, secretValue, body []byte, opts ...envelope.DecryptOption) ([]byte, *Message, error) {
	if int64(len(body))+int64(len(secretValue)) > d.cfg.MaxMessageSize {
		return nil, nil, fmt.Errorf("%w: header and body exceed Config.MaxMessageSize %d", ErrTooLarge, d.cfg.MaxMessageSize)
	}
	head, err := base64.StdEncoding.Strict().DecodeString(string(secretValue))
	if err != nil {
		return nil, nil, &FormatError{Field: "secret value", Reason: "not standard padded Base64", Err: ErrMalformed}
	}
	m, err := ParseSecretHeader(head)
	if err != nil {
		return nil, nil, err
	}
	if len(body) > 0 && body[0] == 0x30 {
		err = parseBody(m, body)
	} else {
		err = parseStreamBody(m, body)
	}
	if err != nil {
		return nil, nil, err
	}
	pt, err := d.open(ctx, m, opts)
	if err != nil {
		return nil, nil, err
	}
	return pt, m, nil
}

func (d *Decrypter) allowed(a Algorithm) bool {
	return a.Authenticated() || slices.Contains(d.cfg.AllowUnauthenticated, a)
}

// open unwraps, authenticates and decrypts a parsed message.
func (d *Decrypter) open(ctx context.Context, m *Message, opts []envelope.DecryptOption) ([]byte, error) {
	if !d.allowed(m.Algorithm) {
		return nil, fmt.Errorf("%w: %v (name it in Config.AllowUnauthenticated to read it; see its warning)", ErrAlgorithmNotAllowed, m.Algorithm)
	}
	in := algorithms[m.Algorithm]
	dk, err := d.cfg.Client.UnwrapForeignDataKey(ctx, m.WrappedKeys, m.Context, in.keySize, opts...)
	if err != nil {
		return nil, err
	}
	defer dk.Wipe()
	return openWithKey(m, dk)
}

// openWithKey verifies the header tag and decrypts the body with the data
// key dk.
func openWithKey(m *Message, dk []byte) ([]byte, error) {
	in := algorithms[m.Algorithm]
	if len(dk) != in.keySize {
		return nil, fmt.Errorf("aliyunesdk: a %d-byte data key for %v, want %d", len(dk), m.Algorithm, in.keySize)
	}
	block, gcm, err := ciphers(in.sm4, dk)
	if err != nil {
		return nil, err
	}
	if err := checkHeaderTag(m, gcm); err != nil {
		return nil, err
	}
	switch in.mode {
	case modeGCM:
		sealed := make([]byte, 0, len(m.ciphertext)+tagSize)
		sealed = append(append(sealed, m.ciphertext...), m.tag...)
		pt, err := gcm.Open(sealed[:0], m.iv, sealed, m.ctxBytes)
		if err != nil {
			clear(sealed)
			return nil, &FormatError{Field: "authTag", Reason: "body authentication failed", Err: ErrAuthentication}
		}
		return pt, nil
	case modeCTR:
		pt := make([]byte, len(m.ciphertext))
		cipher.NewCTR(block, m.iv).XORKeyStream(pt, m.ciphertext)
		return pt, nil
	default: // CBC
		pt := make([]byte, len(m.ciphertext))
		cipher.NewCBCDecrypter(block, m.iv).CryptBlocks(pt, m.ciphertext)
		if in.mode == modeCBC {
			return pt, nil
		}
		n, ok := unpad(pt)
		if !ok {
			clear(pt)
			return nil, ErrBadPadding
		}
		return pt[:n], nil
	}
}

// unpad checks PKCS#7 padding to 16 bytes and returns the unpadded length.
// (CBC-PKCS5 is unauthenticated, so this is no defence against an oracle;
// it is constant-time all the same.)
func unpad(b []byte) (int, bool) {
	if len(b) == 0 || len(b)%16 != 0 {
		return 0, false
	}
	last := b[len(b)-16:]
	p := int(last[15])
	good := subtle.ConstantTimeLessOrEq(1, p) & subtle.ConstantTimeLessOrEq(p, 16)
	for i := 0; i < 16; i++ {
		inPad := subtle.ConstantTimeLessOrEq(16-p, i) // byte i of the last block is padding
		good &= subtle.ConstantTimeSelect(inPad, subtle.ConstantTimeByteEq(last[i], byte(p)), 1)
	}
	if good != 1 {
		return 0, false
	}
	return len(b) - p, true
}

// ciphers returns the block cipher and its GCM for a data key.
func ciphers(isSM4 bool, dk []byte) (cipher.Block, cipher.AEAD, error) {
	block, err := newBlock(isSM4, dk)
	if err != nil {
		return nil, nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	return block, gcm, nil
}

// checkHeaderTag recomputes the header tag, GMAC (GCM over no plaintext
// with AuthFields as AAD, in SM4-GCM for the SM4 algorithms and AES-GCM for
// the others, whatever the body's mode), and compares it in constant time.
func checkHeaderTag(m *Message, gcm cipher.AEAD) error {
	want := gcm.Seal(nil, m.headerIV, nil, authFields(m))
	if subtle.ConstantTimeCompare(want, m.headerTag) != 1 {
		return &FormatError{Field: "headerAuthTag", Reason: "header authentication failed", Err: ErrAuthentication}
	}
	return nil
}

// verifyHeader checks the header tag of m under the data key dk.
func verifyHeader(m *Message, dk []byte) error {
	in := algorithms[m.Algorithm]
	if len(dk) != in.keySize {
		return fmt.Errorf("aliyunesdk: a %d-byte data key for %v, want %d", len(dk), m.Algorithm, in.keySize)
	}
	_, gcm, err := ciphers(in.sm4, dk)
	if err != nil {
		return err
	}
	return checkHeaderTag(m, gcm)
}

func newBlock(isSM4 bool, key []byte) (cipher.Block, error) {
	if isSM4 {
		return sm4.NewCipher(key)
	}
	return aes.NewCipher(key)
}

// SecretHeader is a SecretManager header whose data key has been unwrapped
// and whose header tag has been verified, for decrypting many bodies with
// one KMS call: the SDKs use one data key for every message of a
// SecretManager provider. It holds the data key in memory until Close,
// which wipes it. It is safe for concurrent use.
type SecretHeader struct {
	mu sync.RWMutex
	m  *Message
	dk kmsclient.Sensitive // nil after Close
}

// OpenSecretHeader parses the SecretManager header in secretValue (see
// DecryptSecretManager), checks its algorithm, unwraps its data key as
// Decrypt does (key trust, requirements, every trusted wrapped key agreeing)
// and verifies its header tag.
func (d *Decrypter) OpenSecretHeader(ctx context.Context, secretValue []byte, opts ...envelope.DecryptOption) (*SecretHeader, error) {
	if int64(len(secretValue)) > d.cfg.MaxMessageSize {
		return nil, fmt.Errorf("%w: the header exceeds Config.MaxMessageSize %d", ErrTooLarge, d.cfg.MaxMessageSize)
	}
	head, err := base64.StdEncoding.Strict().DecodeString(string(secretValue))
	if err != nil {
		return nil, &FormatError{Field: "secret value", Reason: "not standard padded Base64", Err: ErrMalformed}
	}
	m, err := ParseSecretHeader(head)
	if err != nil {
		return nil, err
	}
	if !d.allowed(m.Algorithm) {
		return nil, fmt.Errorf("%w: %v (name it in Config.AllowUnauthenticated to read it; see its warning)", ErrAlgorithmNotAllowed, m.Algorithm)
	}
	dk, err := d.cfg.Client.UnwrapForeignDataKey(ctx, m.WrappedKeys, m.Context, algorithms[m.Algorithm].keySize, opts...)
	if err != nil {
		return nil, err
	}
	if err := verifyHeader(m, dk); err != nil {
		dk.Wipe()
		return nil, err
	}
	return &SecretHeader{m: m, dk: dk}, nil
}

// Message returns the parsed header (Algorithm, Context, WrappedKeys).
func (s *SecretHeader) Message() *Message { return s.m }

// Decrypt decrypts one body (DER EncryptionBody or Java stream body) under
// the header, with no KMS call.
func (s *SecretHeader) Decrypt(body []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.dk == nil {
		return nil, errors.New("aliyunesdk: SecretHeader used after Close")
	}
	m := *s.m
	var err error
	if len(body) > 0 && body[0] == 0x30 {
		err = parseBody(&m, body)
	} else {
		err = parseStreamBody(&m, body)
	}
	if err != nil {
		return nil, err
	}
	return openWithKey(&m, s.dk)
}

// Close wipes the data key; Decrypt fails afterwards.
func (s *SecretHeader) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dk.Wipe()
	s.dk = nil
	return nil
}
