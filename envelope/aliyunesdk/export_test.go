package aliyunesdk

import "io"

// Test-only hooks.

// NewEncrypterForTest is NewEncrypter with the IVs read from rand (header
// IV, then body IV) and any GCM algorithm, AES-GCM-128 included, so that
// tests reproduce the SDK vectors byte for byte.
func NewEncrypterForTest(e *Encrypter, alg Algorithm, rand io.Reader) *Encrypter {
	c := *e
	c.alg, c.rand = alg, rand
	return &c
}

// MarshalMessage is the DER encoder the Encrypter uses.
var MarshalMessage = marshalMessage

// OpenWithKey verifies and decrypts a parsed message with a known data key.
var OpenWithKey = openWithKey
