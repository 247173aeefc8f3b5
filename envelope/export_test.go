package envelope

// Test-only bridges for the external test package.

// sealWithDataKey builds a message from a data key and wrapped keys the
// caller chooses, as Encrypt would: what anyone holding a data key (an
// attacker who generated it, or a test vector) can make.
func sealWithDataKey(dk, msgID []byte, fs int, ec map[string]string, wrapped []WrappedKey, pt []byte) ([]byte, error) {
	return sealWithSuite(SuiteAES256GCMHKDFCommit, dk, msgID, fs, ec, wrapped, pt)
}

// sealWithSuite is sealWithDataKey for a message of suite s.
func sealWithSuite(s Suite, dk, msgID []byte, fs int, ec map[string]string, wrapped []WrappedKey, pt []byte) ([]byte, error) {
	var id [messageIDSize]byte
	copy(id[:], msgID)
	schedule, err := scheduleFor(s, dk)
	if err != nil {
		return nil, err
	}
	var mk messageKeys
	if err := deriveFor(s, &mk, schedule, nil, &id); err != nil {
		return nil, err
	}
	ctxBytes, err := encodeContext(ec)
	if err != nil {
		return nil, err
	}
	section, err := encodeWrappedKeys(wrapped)
	if err != nil {
		return nil, err
	}
	m := &message{keys: &mk, msgID: id, fs: fs, suite: s, wrapped: section, big: ctxBytes}
	return sealBody(m.appendHeader(nil), m.keys, fs, pt), nil
}

// SealWithDataKey is sealWithDataKey with a fixed message id.
func SealWithDataKey(dk []byte, fs int, ec map[string]string, wrapped []WrappedKey, pt []byte) ([]byte, error) {
	return sealWithDataKey(dk, make([]byte, messageIDSize), fs, ec, wrapped, pt)
}

// SealWithSuite is SealWithDataKey for suite s.
func SealWithSuite(s Suite, dk []byte, fs int, ec map[string]string, wrapped []WrappedKey, pt []byte) ([]byte, error) {
	return sealWithSuite(s, dk, make([]byte, messageIDSize), fs, ec, wrapped, pt)
}

// EncodeContext is the canonical context encoding.
var EncodeContext = encodeContext

// WithWrappedKeys returns msg with its wrapped-key section replaced (the
// section is outside the header tag, so anyone can do this).
func WithWrappedKeys(msg []byte, keys []WrappedKey) ([]byte, error) {
	h, err := ParseHeader(msg)
	if err != nil {
		return nil, err
	}
	section, err := encodeWrappedKeys(keys)
	if err != nil {
		return nil, err
	}
	out := append(append([]byte(nil), msg[:len(h.authed)+tagSize]...), section...)
	return append(out, msg[h.length:]...), nil
}
