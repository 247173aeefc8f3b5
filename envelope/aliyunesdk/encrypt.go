package aliyunesdk

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/kmsenvelope/kmsenvelope/envelope"
)

// Encrypter writes messages in the SDK's full ASN.1 format, which the Java
// (1.0.7 to 1.1.x) and Python (0.1.x) SDKs read. It is safe for concurrent
// use.
type Encrypter struct {
	env *envelope.Client
	alg Algorithm
	// rand supplies the header and body IVs, in that order; tests replace
	// it to reproduce vectors (export_test.go).
	rand io.Reader
}

// NewEncrypter returns an Encrypter writing alg, AESGCM256 (the SDKs'
// default) or SM4GCM (which only the Java SDK reads), with data keys from
// env: KMS GenerateDataKey under the first of its envelope.Config.Keys (16
// or 32 bytes, as alg needs), KMS Encrypt of the same key under each
// further one, one EncryptedDataKey per key. The SDK's readers find their
// wrapped key by its full ARN, so every key must resolve to an ARN with its
// account (a key ARN in Keys, WrappingKey.ARN, or envelope.Config.Account).
// No data key is cached or reused: each message has its own.
func NewEncrypter(env *envelope.Client, alg Algorithm) (*Encrypter, error) {
	if env == nil {
		return nil, errors.New("aliyunesdk: NewEncrypter: an envelope.Client is required")
	}
	if alg != AESGCM256 && alg != SM4GCM {
		return nil, fmt.Errorf("aliyunesdk: NewEncrypter: %v cannot be written; only AES_GCM_NOPADDING_256 and SM4_GCM_NOPADDING_128", alg)
	}
	return &Encrypter{env: env, alg: alg, rand: rand.Reader}, nil
}

// Encrypt encrypts plaintext under the encryption context ec (nil for
// none) into a full DER EncryptionMessage, byte for byte what the Java and
// Python SDKs write for the same data key, IVs and wrapped keys.
func (e *Encrypter) Encrypt(ctx context.Context, plaintext []byte, ec map[string]string) ([]byte, error) {
	pairs, err := contextPairs(ec)
	if err != nil {
		return nil, err
	}
	in := algorithms[e.alg]
	dk, wrapped, err := e.env.GenerateForeignDataKey(ctx, ec, in.keySize)
	if err != nil {
		return nil, err
	}
	defer dk.Wipe()
	for _, wk := range wrapped {
		if !fullARN(wk.KeyARN) {
			return nil, fmt.Errorf("aliyunesdk: the wrapping key %q has no account in its ARN, and the SDKs' readers match the full ARN: name it by ARN, or set envelope.Config.Account", wk.KeyARN)
		}
	}
	return e.seal(dk, wrapped, pairs, plaintext)
}

// seal builds the message from a data key, its wrapped keys and the
// context; the IVs come from e.rand.
func (e *Encrypter) seal(dk []byte, wrapped []envelope.WrappedKey, pairs [][2][]byte, plaintext []byte) ([]byte, error) {
	in := algorithms[e.alg]
	m := &Message{Format: FormatASN1, Version: version, Algorithm: e.alg, WrappedKeys: wrapped, Context: contextMap(pairs), ctxBytes: serialiseContext(pairs)}
	if len(m.ctxBytes) > MaxContextBytes {
		return nil, fmt.Errorf("%w: the encryption context serialises to more than %d bytes", ErrTooLarge, MaxContextBytes)
	}
	if len(wrapped) == 0 || len(wrapped) > MaxWrappedKeys {
		return nil, fmt.Errorf("aliyunesdk: %d wrapped keys, want 1 to %d", len(wrapped), MaxWrappedKeys)
	}
	for i, wk := range wrapped {
		if len(wk.KeyARN) == 0 || len(wk.KeyARN) > maxKeyIDLen || len(wk.Blob) == 0 || len(wk.Blob) > maxBlobLen {
			return nil, fmt.Errorf("aliyunesdk: wrapped key %d: key ARN or blob length out of range", i)
		}
		for _, o := range wrapped[:i] {
			if o.KeyARN == wk.KeyARN {
				return nil, fmt.Errorf("aliyunesdk: two wrapped keys under one key ARN")
			}
		}
	}
	m.headerIV = make([]byte, headerIVSize)
	m.iv = make([]byte, in.ivSize)
	if _, err := io.ReadFull(e.rand, m.headerIV); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(e.rand, m.iv); err != nil {
		return nil, err
	}
	block, err := newBlock(in.sm4, dk)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	m.headerTag = gcm.Seal(nil, m.headerIV, nil, authFields(m))
	sealed := gcm.Seal(nil, m.iv, plaintext, m.ctxBytes)
	m.ciphertext, m.tag = sealed[:len(plaintext)], sealed[len(plaintext):]
	return marshalMessage(m)
}

// marshalMessage is the DER encoding of m: SET elements sorted by their
// encodings, as BouncyCastle's DERSet and asn1crypto's SetOf write them.
func marshalMessage(m *Message) ([]byte, error) {
	edks := make([][]byte, 0, len(m.WrappedKeys))
	for _, wk := range m.WrappedKeys {
		edks = append(edks, derPair([]byte(wk.KeyARN), wk.Blob))
	}
	keys := make([]string, 0, len(m.Context))
	for k := range m.Context {
		keys = append(keys, k)
	}
	entries := make([][]byte, 0, len(keys))
	for _, k := range keys {
		entries = append(entries, derPair([]byte(k), []byte(m.Context[k])))
	}
	slices.SortFunc(edks, bytes.Compare)
	slices.SortFunc(entries, bytes.Compare)
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1Int64(int64(m.Version))
			b.AddASN1Int64(int64(m.Algorithm))
			b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) {
				for _, e := range edks {
					b.AddBytes(e)
				}
			})
			b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) {
				for _, e := range entries {
					b.AddBytes(e)
				}
			})
			b.AddASN1OctetString(m.headerIV)
			b.AddASN1OctetString(m.headerTag)
		})
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1OctetString(m.iv)
			b.AddASN1OctetString(m.ciphertext)
			b.AddASN1OctetString(m.tag)
		})
	})
	return b.Bytes()
}

func derPair(a, b []byte) []byte {
	var x cryptobyte.Builder
	x.AddASN1(asn1.SEQUENCE, func(x *cryptobyte.Builder) {
		x.AddASN1OctetString(a)
		x.AddASN1OctetString(b)
	})
	return x.BytesOrPanic() // lengths are bounded by the checks before
}

// contextPairs validates ec for the format and returns it sorted by key.
func contextPairs(ec map[string]string) ([][2][]byte, error) {
	pairs := make([][2][]byte, 0, len(ec))
	for k, v := range ec {
		if reason := checkPair([]byte(k), []byte(v)); reason != "" {
			return nil, fmt.Errorf("aliyunesdk: encryption context: %s", reason)
		}
		pairs = append(pairs, [2][]byte{[]byte(k), []byte(v)})
	}
	slices.SortFunc(pairs, func(a, b [2][]byte) int { return bytes.Compare(a[0], b[0]) })
	return pairs, nil
}

// fullARN reports whether arn is acs:kms:<region>:<account>:key/<id> with
// every part present.
func fullARN(arn string) bool {
	rest, ok := strings.CutPrefix(arn, "acs:kms:")
	if !ok || !utf8.ValidString(arn) {
		return false
	}
	parts := strings.SplitN(rest, ":", 3)
	return len(parts) == 3 && parts[0] != "" && parts[1] != "" && strings.HasPrefix(parts[2], "key/") && len(parts[2]) > 4
}
