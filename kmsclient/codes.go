package kmsclient

import "strings"

// isCiphertextCode reports whether code says a ciphertext blob could not be
// decrypted (corrupt, truncated, or under another encryption context). No
// Alibaba document names such a code (Decrypt documents
// UnsupportedOperation, Forbidden.AliasNotFound, Forbidden.KeyNotFound and
// the Rejected.* key states), so every plausible spelling is accepted:
// InvalidCiphertext and InvalidCiphertext.* (the emulator's),
// Rejected.InvalidCiphertext, InvalidCiphertextBlob and
// InvalidCiphertextException (the spelling of KMS-compatible gateways).
func isCiphertextCode(code string) bool {
	switch code {
	case "InvalidCiphertext", "Rejected.InvalidCiphertext", "InvalidCiphertextBlob", "InvalidCiphertextException":
		return true
	}
	return strings.HasPrefix(code, "InvalidCiphertext.")
}

// blobOperations take a ciphertext blob and an encryption context to
// decrypt it with.
var blobOperations = map[string]bool{"Decrypt": true, "ReEncrypt": true}

// classifyOp is classify for an answer to operation op, and returns a
// second sentinel that errors.Is also matches, or nil. An InvalidParameter
// answer (or InvalidParameter.CiphertextBlob, .EncryptionContext,
// .SourceEncryptionContext) to Decrypt or ReEncrypt is read as
// [ErrInvalidCiphertext] and also matches [ErrInvalidParameter]: kmsclient
// validates every other parameter of those calls before sending, so the
// blob or its context is what KMS found invalid, and the common error table
// (InvalidParameter, 400) is the only documented code that fits. This is an
// assumption; see the package documentation's Compatibility section.
func classifyOp(op, code string, status int) (kind, also error) {
	kind = classify(code, status)
	if kind == ErrInvalidParameter && blobOperations[op] {
		switch code {
		case "InvalidParameter", "InvalidParameter.CiphertextBlob", "InvalidParameter.EncryptionContext",
			"InvalidParameter.SourceEncryptionContext":
			return ErrInvalidCiphertext, ErrInvalidParameter
		}
	}
	return kind, nil
}
