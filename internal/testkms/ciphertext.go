package testkms

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
)

// Ciphertext blobs are the emulator's own format: self-describing (Decrypt
// needs no KeyId) and authenticated. CiphertextBlob is the standard base64
// encoding of:
//
//	offset  size  field
//	0       3     magic "TKM"
//	3       1     format version, 0x01
//	4       1     n = length of the key id (1..255)
//	5       n     key id (ASCII)
//	5+n     1     m = length of the key version id (1..255)
//	6+n     m     key version id (ASCII)
//	6+n+m   12    random AES-GCM nonce
//	18+n+m  ...   AES-256-GCM ciphertext of the plaintext, then the 16-byte tag
//
// The GCM key is the key version's material and the additional data is the
// header (bytes 0 .. 6+n+m, magic through version id) followed by the
// canonical encryption context: the JSON object of the context with keys
// sorted (encoding/json's map order), "{}" when there is none. A wrong or
// missing context, a flipped bit, truncation or trailing bytes all fail
// authentication and are reported as InvalidCiphertext.
//
// The plaintext sealed by Encrypt is the Plaintext parameter exactly as sent
// (an opaque string, returned unchanged by Decrypt); GenerateDataKey seals the
// base64 text of the data key, so Decrypt returns the same base64 string that
// GenerateDataKey returned as Plaintext.

const (
	blobMagic     = "TKM"
	blobVersion   = 0x01
	blobNonceSize = 12
	blobTagSize   = 16
	// maxBlobLen caps the base64 text accepted by Decrypt and ReEncrypt.
	maxBlobLen = 64 << 10
)

var errBadBlob = errors.New("testkms: invalid ciphertext blob")

// blob is a parsed ciphertext blob.
type blob struct {
	header    []byte // magic .. key version id, the AAD prefix
	keyID     string
	versionID string
	nonce     []byte
	sealed    []byte // ciphertext || tag
}

// canonicalContext returns the canonical JSON of an encryption context.
func canonicalContext(ctx map[string]string) []byte {
	if ctx == nil {
		ctx = map[string]string{}
	}
	b, err := json.Marshal(ctx) // map keys are sorted by encoding/json
	if err != nil {
		panic("testkms: marshal encryption context: " + err.Error()) // cannot happen for map[string]string
	}
	return b
}

func blobHeader(keyID, versionID string) ([]byte, error) {
	if len(keyID) == 0 || len(keyID) > 255 || len(versionID) == 0 || len(versionID) > 255 {
		return nil, errBadBlob
	}
	h := make([]byte, 0, 6+len(keyID)+len(versionID))
	h = append(h, blobMagic...)
	h = append(h, blobVersion, byte(len(keyID)))
	h = append(h, keyID...)
	h = append(h, byte(len(versionID)))
	h = append(h, versionID...)
	return h, nil
}

func newGCM(material []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(material)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func additionalData(header []byte, ctx map[string]string) []byte {
	return append(slices.Clip(header), canonicalContext(ctx)...)
}

// seal encrypts plaintext under one key version and returns the base64 blob.
func seal(keyID, versionID string, material, plaintext []byte, ctx map[string]string) (string, error) {
	header, err := blobHeader(keyID, versionID)
	if err != nil {
		return "", err
	}
	aead, err := newGCM(material)
	if err != nil {
		return "", err
	}
	nonce := make([]byte, blobNonceSize)
	randomBytes(nonce)
	out := slices.Concat(header, nonce)
	out = aead.Seal(out, nonce, plaintext, additionalData(header, ctx))
	return base64.StdEncoding.EncodeToString(out), nil
}

// parseBlob decodes the framing of a blob without authenticating it.
func parseBlob(s string) (*blob, error) {
	if len(s) == 0 || len(s) > maxBlobLen {
		return nil, errBadBlob
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errBadBlob
	}
	if len(raw) < 5 || string(raw[:3]) != blobMagic || raw[3] != blobVersion {
		return nil, errBadBlob
	}
	n := int(raw[4])
	if n == 0 || len(raw) < 6+n {
		return nil, errBadBlob
	}
	m := int(raw[5+n])
	end := 6 + n + m
	if m == 0 || len(raw) < end+blobNonceSize+blobTagSize {
		return nil, errBadBlob
	}
	return &blob{
		header:    raw[:end],
		keyID:     string(raw[5 : 5+n]),
		versionID: string(raw[6+n : end]),
		nonce:     raw[end : end+blobNonceSize],
		sealed:    raw[end+blobNonceSize:],
	}, nil
}

// open authenticates and decrypts b with material and ctx.
func open(b *blob, material []byte, ctx map[string]string) ([]byte, error) {
	aead, err := newGCM(material)
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, b.nonce, b.sealed, additionalData(b.header, ctx))
	if err != nil {
		return nil, errBadBlob
	}
	return pt, nil
}
