// Package envelope implements local AES-256-GCM envelope encryption with
// KMS-wrapped data keys, key commitment and a framed, streamable message
// format.
//
// A data key comes from KMS GenerateDataKey; data is encrypted locally; the
// message carries the wrapped data key(s), the authenticated encryption
// context and framed ciphertext, so large inputs stream in constant memory
// and decryption releases only authenticated bytes.
package envelope
