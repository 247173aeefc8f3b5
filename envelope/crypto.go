package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"

	"golang.org/x/crypto/hkdf"
)

// DataKeySize is the data key length: AES-256.
const DataKeySize = 32

// Key schedule (see the package documentation):
//
//	PRK = HKDF-Extract(SHA-256, salt = "kmsenvelope v1 data key", IKM = data key)
//	OKM = HKDF-Expand(PRK, info = "kmsenvelope v1 message keys" ‖ message id, 64)
//	payload key = OKM[0:32], commitment = OKM[32:64]
//
// The PRK depends only on the data key, so it is computed once per data key
// and cached in its place; each message then costs one HKDF-Expand and one
// AES key schedule. The header tag is AES-GCM under the payload key with a
// nonce no frame can have (see headerNonce).
const (
	prkSalt   = "kmsenvelope v1 data key"
	infoLabel = "kmsenvelope v1 message keys"
)

// prkFromDataKey computes the cached per-data-key secret.
func prkFromDataKey(dataKey []byte) ([]byte, error) {
	if len(dataKey) != DataKeySize {
		return nil, errors.New("envelope: data key must be 32 bytes")
	}
	return hkdf.Extract(sha256.New, dataKey, []byte(prkSalt)), nil
}

// messageKeys are the per-message values derived from a data key. One
// value serves one message and is not safe for concurrent use.
type messageKeys struct {
	aead       cipher.AEAD
	commitment [commitmentSize]byte
	nonce      [12]byte // scratch, so frames do not allocate one each
	// derivation scratch, kept here so it does not escape to the heap on
	// its own; okm is wiped after use
	info [len(infoLabel) + messageIDSize]byte
	okm  [64]byte
}

// deriveKeys derives a message's keys from the PRK of its data key and its
// message id, into mk. The key bytes are wiped before it returns.
func deriveKeys(mk *messageKeys, prk []byte, msgID *[messageIDSize]byte) error {
	info, okm := mk.info[:], mk.okm[:]
	copy(info, infoLabel)
	copy(info[len(infoLabel):], msgID[:])
	defer clear(okm)
	if _, err := io.ReadFull(hkdf.Expand(sha256.New, prk, info), okm); err != nil {
		return err
	}
	block, err := aes.NewCipher(okm[:32])
	if err != nil {
		return err
	}
	if mk.aead, err = cipher.NewGCM(block); err != nil {
		return err
	}
	copy(mk.commitment[:], okm[32:])
	return nil
}

// checkCommitment compares in constant time.
func (mk *messageKeys) checkCommitment(c []byte) bool {
	return subtle.ConstantTimeCompare(mk.commitment[:], c) == 1
}

// headerNonce is the header tag's nonce: all ones. Frame nonces have zero
// bytes 8 to 10, so no frame can ever use it.
var headerNonce = [12]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// headerTag appends the tag over the authenticated header bytes.
func (mk *messageKeys) headerTag(dst, authed []byte) []byte {
	return mk.aead.Seal(dst, headerNonce[:], nil, authed)
}

// verifyHeader checks the header tag.
func (mk *messageKeys) verifyHeader(authed, tag []byte) bool {
	_, err := mk.aead.Open(nil, headerNonce[:], tag, authed)
	return err == nil
}

// setNonce sets mk.nonce to uint64(i) ‖ 0x000000 ‖ final.
func (mk *messageKeys) setNonce(i uint64, final bool) []byte {
	binary.BigEndian.PutUint64(mk.nonce[:8], i)
	mk.nonce[8], mk.nonce[9], mk.nonce[10], mk.nonce[11] = 0, 0, 0, 0
	if final {
		mk.nonce[11] = 1
	}
	return mk.nonce[:]
}

// sealFrame appends frame i.
func (mk *messageKeys) sealFrame(dst []byte, i uint64, final bool, plaintext []byte) []byte {
	return mk.aead.Seal(dst, mk.setNonce(i, final), plaintext, nil)
}

// openFrame appends the plaintext of frame i.
func (mk *messageKeys) openFrame(dst []byte, i uint64, final bool, frame []byte) ([]byte, error) {
	return mk.aead.Open(dst, mk.setNonce(i, final), frame, nil)
}
