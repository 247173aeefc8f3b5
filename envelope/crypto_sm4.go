package envelope

import (
	"crypto/cipher"
	"errors"
	"io"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
	"golang.org/x/crypto/hkdf"
)

// SM4DataKeySize is the data key length of [SuiteSM4GCMHKDFSM3Commit]: an
// SM4 key (GB/T 32907-2016), 128 bits. KMS GenerateDataKey is asked for
// exactly this many bytes (NumberOfBytes 16).
const SM4DataKeySize = 16

// Key schedule of the SM4 suite (see the package documentation), the AES
// suite's with SM3 in place of SHA-256, SM4 in place of AES and its own
// labels:
//
//	PRK         = HKDF-Extract(SM3, salt = "kmsenvelope v1 sm4 data key", IKM = data key)
//	commitment  = HKDF-Expand(SM3, PRK, info = "kmsenvelope v1 sm4 commitment", 32)
//	payload key = HKDF-Expand(SM3, PRK, info = "kmsenvelope v1 sm4 payload" ‖ message id, 16)
//
// SM3's output is 32 bytes, like SHA-256's, so the cached schedule (PRK ‖
// commitment) has the AES suite's size and layout. SM3 (gmsm) offers no
// hash.Cloner, so each message runs x/crypto/hkdf's Expand on the PRK
// instead of cloning a keyed HMAC: two more SM3 compressions and a few
// allocations per message, next to an SM4 key schedule.
const (
	sm4PRKSalt         = "kmsenvelope v1 sm4 data key"
	sm4CommitmentLabel = "kmsenvelope v1 sm4 commitment"
	sm4PayloadLabel    = "kmsenvelope v1 sm4 payload"
)

// sm4Schedule is scheduleFromDataKey for the SM4 suite.
func sm4Schedule(dataKey []byte) ([]byte, error) {
	if len(dataKey) != SM4DataKeySize {
		return nil, errors.New("envelope: an SM4 data key must be 16 bytes")
	}
	prk := hkdf.Extract(sm3.New, dataKey, []byte(sm4PRKSalt))
	defer clear(prk)
	schedule := make([]byte, scheduleSize)
	copy(schedule, prk)
	if _, err := io.ReadFull(hkdf.Expand(sm3.New, prk, []byte(sm4CommitmentLabel)), schedule[32:]); err != nil {
		clear(schedule)
		return nil, err
	}
	return schedule, nil
}

// deriveSM4Keys is deriveKeys for the SM4 suite: the payload key is
// HKDF-Expand over SM3, the AEAD SM4-GCM (gmsm; crypto/cipher.NewGCM takes
// gmsm's assembly GCM where the CPU has one).
func deriveSM4Keys(mk *messageKeys, schedule []byte, msgID *[messageIDSize]byte) error {
	if len(schedule) != scheduleSize {
		return errors.New("envelope: bad key schedule length")
	}
	var info [len(sm4PayloadLabel) + messageIDSize]byte
	copy(info[:], sm4PayloadLabel)
	copy(info[len(sm4PayloadLabel):], msgID[:])
	key := mk.key[:SM4DataKeySize]
	defer clear(mk.key[:])
	if _, err := io.ReadFull(hkdf.Expand(sm3.New, schedule[:32], info[:]), key); err != nil {
		return err
	}
	block, err := sm4.NewCipher(key)
	if err != nil {
		return err
	}
	if mk.aead, err = cipher.NewGCM(block); err != nil {
		return err
	}
	copy(mk.commitment[:], schedule[32:])
	return nil
}

// scheduleFor computes the cached schedule of a data key of suite s.
func scheduleFor(s Suite, dataKey []byte) ([]byte, error) {
	if s == SuiteSM4GCMHKDFSM3Commit {
		return sm4Schedule(dataKey)
	}
	return scheduleFromDataKey(dataKey)
}

// deriveFor derives the message keys of suite s.
func deriveFor(s Suite, mk *messageKeys, schedule []byte, st *keyState, msgID *[messageIDSize]byte) error {
	if s == SuiteSM4GCMHKDFSM3Commit {
		return deriveSM4Keys(mk, schedule, msgID)
	}
	return deriveKeys(mk, schedule, st, msgID)
}

// DataKeySize returns the length of the suite's data key: 32 bytes for
// AES-256-GCM, 16 for SM4-GCM; 0 for an unknown suite.
func (s Suite) DataKeySize() int {
	switch s {
	case SuiteAES256GCMHKDFCommit:
		return DataKeySize
	case SuiteSM4GCMHKDFSM3Commit:
		return SM4DataKeySize
	}
	return 0
}
