package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"sync"
	"sync/atomic"
	"unsafe"
)

// DataKeySize is the data key length: AES-256.
const DataKeySize = 32

// Key schedule (see the package documentation):
//
//	PRK         = HKDF-Extract(SHA-256, salt = "kmsenvelope v1 data key", IKM = data key)
//	commitment  = HKDF-Expand(PRK, info = "kmsenvelope v1 commitment", 32)
//	payload key = HKDF-Expand(PRK, info = "kmsenvelope v1 payload" ‖ message id, 32)
//
// The PRK and the commitment depend only on the data key, so they are
// computed once per data key (the "schedule", PRK ‖ commitment, is what the
// cache holds and wipes in place of the data key). Each message then costs
// one HKDF-Expand of one block and one AES key schedule. The header tag is
// AES-GCM under the payload key with a nonce no frame can have (see
// headerNonce).
const (
	prkSalt         = "kmsenvelope v1 data key"
	commitmentLabel = "kmsenvelope v1 commitment"
	// payloadLabel is 22 bytes so that label ‖ message id ‖ 0x01 is 55
	// bytes and, after HMAC's key block, fits one SHA-256 block.
	payloadLabel = "kmsenvelope v1 payload"

	// scheduleSize is the length of a data key's cached schedule.
	scheduleSize = 32 + commitmentSize
)

// scheduleFromDataKey computes the cached per-data-key secrets: PRK ‖
// commitment, with the standard library's crypto/hkdf (RFC 5869). The
// caller wipes the result.
func scheduleFromDataKey(dataKey []byte) ([]byte, error) {
	if len(dataKey) != DataKeySize {
		return nil, errors.New("envelope: data key must be 32 bytes")
	}
	prk, err := hkdf.Extract(sha256.New, dataKey, []byte(prkSalt))
	if err != nil {
		return nil, err
	}
	defer clear(prk)
	commitment, err := hkdf.Expand(sha256.New, prk, commitmentLabel, commitmentSize)
	if err != nil {
		return nil, err
	}
	defer clear(commitment)
	schedule := make([]byte, scheduleSize)
	copy(schedule, prk)
	copy(schedule[32:], commitment)
	return schedule, nil
}

// keyState is what the cache keeps for a data key besides its schedule
// bytes: the PRK's keyed HMAC and, for encryption, the wrapped keys.
type keyState struct {
	// prf is crypto/hmac HMAC-SHA256 keyed with the PRK, its pads already
	// absorbed: the precomputation FIPS 198-1 §6 describes, which
	// crypto/hmac itself does on Reset. It is never written after
	// newKeyState, only cloned (hash.Cloner), so messages share it safely
	// and each skips HMAC's two key-block compressions and its allocations.
	// nil when the hash cannot be cloned (GOFIPS140=v1.0.0): then each
	// message runs crypto/hkdf.Expand on the PRK bytes instead.
	//
	// Like an AES key schedule inside a cipher.AEAD, this state is derived
	// key material that Go gives no way to wipe; it is dropped with the
	// cache entry. The schedule bytes it came from are wiped.
	prf hash.Hash
	// prfs pools clones of prf between messages: a clone is Reset after
	// each use, which restores its keyed state from prf's marshaled pads
	// without allocating (crypto/hmac), so a message in steady state
	// allocates no HMAC. A pooled clone holds nothing prf does not: the
	// pads, and the last message's inner hash in its outer buffer, which
	// prf and the public message id reproduce anyway.
	prfs    sync.Pool
	wrapped []byte // encryption: the encoded wrapped-key section
	arn     string // decryption: the wrapping key's ARN as KMS confirmed it
	// trustedBy is the last Client for which arn (the confirmed,
	// account-less ARN) passed that Client's key trust (configured keys,
	// AllowedKeys, Discovery; not a call's RequireKeys, which each call
	// checks again), so later messages under this cached key skip the
	// second check. Trust of a Client only grows (learned keys are added,
	// aliases resolve once), so a pass stays valid for that Client.
	trustedBy atomic.Pointer[Client]
}

// expand is expandBlock with a pooled clone of st.prf.
func (st *keyState) expand(out *[32]byte, infoAndCounter []byte) error {
	mac, _ := st.prfs.Get().(hash.Hash)
	if mac == nil {
		c, err := st.prf.(hash.Cloner).Clone()
		if err != nil {
			return err
		}
		mac = c
	}
	mac.Write(infoAndCounter)
	mac.Sum(out[:0])
	mac.Reset()
	st.prfs.Put(mac)
	return nil
}

// hmacClones reports whether crypto/hmac over crypto/sha256 can be cloned
// here (not under GOFIPS140=v1.0.0). It is probed once, with a fixed key.
var hmacClones = sync.OnceValue(func() bool {
	c, ok := hmac.New(sha256.New, []byte("kmsenvelope clone probe")).(hash.Cloner)
	if !ok {
		return false
	}
	_, err := c.Clone()
	return err == nil
})

// newKeyState prepares the keyed HMAC of a schedule's PRK.
func newKeyState(schedule, wrapped []byte) *keyState {
	st := &keyState{wrapped: wrapped}
	if hmacClones() {
		mac := hmac.New(sha256.New, schedule[:32])
		mac.Reset() // absorbs both pads and keeps the two states (crypto/hmac)
		st.prf = mac
	}
	return st
}

// expandBlock is HKDF-Expand (RFC 5869 §2.3) for an output of one hash
// length: OKM = T(1) = HMAC-Hash(PRK, info ‖ 0x01), here with the keyed HMAC
// prf of the PRK, which it clones and never writes. info must end with the
// 0x01 counter byte. TestExpandBlock checks it against x/crypto/hkdf and the
// RFC 5869 vectors; it is the composition HKDF defines over crypto/hmac, not
// a new primitive.
func expandBlock(out *[32]byte, prf hash.Hash, infoAndCounter []byte) error {
	c, err := prf.(hash.Cloner).Clone()
	if err != nil {
		return err
	}
	c.Write(infoAndCounter)
	c.Sum(out[:0])
	return nil
}

// messageKeys are the per-message values derived from a data key. One
// value serves one message and is not safe for concurrent use.
type messageKeys struct {
	aead       cipher.AEAD
	commitment [commitmentSize]byte
	nonce      [12]byte // scratch, so frames do not allocate one each
	// derivation scratch, kept here so it does not escape to the heap on
	// its own; key is wiped after use
	info [len(payloadLabel) + messageIDSize + 1]byte
	key  [32]byte
}

// deriveKeys derives a message's keys from the schedule and state of its
// data key and its message id, into mk. The payload key bytes are wiped
// before it returns (the AES key schedule inside mk.aead cannot be).
func deriveKeys(mk *messageKeys, schedule []byte, st *keyState, msgID *[messageIDSize]byte) error {
	if len(schedule) != scheduleSize {
		return errors.New("envelope: bad key schedule length")
	}
	info := mk.info[:]
	copy(info, payloadLabel)
	copy(info[len(payloadLabel):], msgID[:])
	info[len(info)-1] = 0x01
	defer clear(mk.key[:])
	if st != nil && st.prf != nil {
		if err := st.expand(&mk.key, info); err != nil {
			return err
		}
	} else {
		key, err := hkdf.Expand(sha256.New, schedule[:32], string(info[:len(info)-1]), len(mk.key))
		if err != nil {
			return err
		}
		copy(mk.key[:], key)
		clear(key)
	}
	block, err := aes.NewCipher(mk.key[:])
	if err != nil {
		return err
	}
	if mk.aead, err = cipher.NewGCM(block); err != nil {
		return err
	}
	copy(mk.commitment[:], schedule[32:])
	return nil
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

// frameNonce sets nonce to uint64(i) ‖ 0x000000 ‖ final, as setNonce,
// in the caller's scratch: for frames sealed or opened concurrently.
func frameNonce(nonce *[12]byte, i uint64, final bool) []byte {
	binary.BigEndian.PutUint64(nonce[:8], i)
	nonce[8], nonce[9], nonce[10], nonce[11] = 0, 0, 0, 0
	if final {
		nonce[11] = 1
	}
	return nonce[:]
}

// sealFrameWith is sealFrame with the caller's nonce scratch; it is safe
// for concurrent use (cipher.AEAD's Seal keeps no state).
func (mk *messageKeys) sealFrameWith(nonce *[12]byte, dst []byte, i uint64, final bool, plaintext []byte) []byte {
	return mk.aead.Seal(dst, frameNonce(nonce, i, final), plaintext, nil)
}

// openFrameWith is openFrame with the caller's nonce scratch; it is safe
// for concurrent use.
func (mk *messageKeys) openFrameWith(nonce *[12]byte, dst []byte, i uint64, final bool, frame []byte) ([]byte, error) {
	return mk.aead.Open(dst, frameNonce(nonce, i, final), frame, nil)
}

// sealFrame appends frame i.
func (mk *messageKeys) sealFrame(dst []byte, i uint64, final bool, plaintext []byte) []byte {
	return mk.aead.Seal(dst, mk.setNonce(i, final), plaintext, nil)
}

// openFrame appends the plaintext of frame i.
func (mk *messageKeys) openFrame(dst []byte, i uint64, final bool, frame []byte) ([]byte, error) {
	return mk.aead.Open(dst, mk.setNonce(i, final), frame, nil)
}

// anyOverlap reports whether x and y share any byte of memory. It compares
// addresses only, as crypto/cipher's implementations do (see
// crypto/internal/alias); the pointers are never dereferenced.
func anyOverlap(x, y []byte) bool {
	return len(x) > 0 && len(y) > 0 &&
		uintptr(unsafe.Pointer(&x[0])) <= uintptr(unsafe.Pointer(&y[len(y)-1])) &&
		uintptr(unsafe.Pointer(&y[0])) <= uintptr(unsafe.Pointer(&x[len(x)-1]))
}

// spareAlias says how the spare capacity of dst, where an append writes,
// meets in: exactly (it starts at in's first byte: in-place use), not at
// all, or otherwise, which is ErrInvalidBufferOverlap.
func spareAlias(dst, in []byte) (exact bool, err error) {
	spare := dst[len(dst):cap(dst)]
	if !anyOverlap(spare, in) {
		return false, nil
	}
	if &spare[0] == &in[0] {
		return true, nil
	}
	return false, ErrInvalidBufferOverlap
}

// outputAtOrBefore reports whether out, where a decryption writes, overlaps
// in and starts at or before it: then frames can be opened in place front to
// back. Overlap with out starting after in is ErrInvalidBufferOverlap.
func outputAtOrBefore(out, in []byte) (bool, error) {
	if !anyOverlap(out, in) {
		return false, nil
	}
	if uintptr(unsafe.Pointer(&out[0])) > uintptr(unsafe.Pointer(&in[0])) {
		return false, ErrInvalidBufferOverlap
	}
	return true, nil
}
