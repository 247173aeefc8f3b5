package testkms

import (
	"encoding/base64"
)

// cryptoResponse is the answer of GenerateDataKey (with Plaintext),
// GenerateDataKeyWithoutPlaintext, Encrypt and ReEncrypt.
type cryptoResponse struct {
	RequestID      string `json:"RequestId"`
	KeyID          string `json:"KeyId"`
	KeyVersionID   string `json:"KeyVersionId"`
	CiphertextBlob string `json:"CiphertextBlob"`
	Plaintext      string `json:"Plaintext,omitempty"`
}

// dataKeySize returns the data key length: NumberOfBytes (1..1024) when
// given, which takes precedence, else KeySpec AES_256 (default, 32 bytes)
// or AES_128 (16 bytes).
func (c *call) dataKeySize() (int, *apiError) {
	if c.param("NumberOfBytes") != "" {
		return c.intParam("NumberOfBytes", 0, 1, maxDataKeyBytes)
	}
	switch c.param("KeySpec") {
	case "", "AES_256":
		return 32, nil
	case "AES_128":
		return 16, nil
	default:
		return 0, errInvalidParam("KeySpec", "must be AES_256 or AES_128")
	}
}

// generateDataKey serves GenerateDataKey and GenerateDataKeyWithoutPlaintext:
// checks kms:<Action> on the key (and alias). The blob seals the base64 text
// of the data key, so Decrypt returns what GenerateDataKey returned as
// Plaintext.
func generateDataKey(c *call, withPlaintext bool) (any, *apiError) {
	ctx, err := c.contextParam("EncryptionContext")
	if err != nil {
		return nil, err
	}
	n, err := c.dataKeySize()
	if err != nil {
		return nil, err
	}
	dry, err := c.dryRun()
	if err != nil {
		return nil, err
	}
	ref, err := c.lookupKey("KeyId", true)
	if err != nil {
		return nil, err
	}
	if err := c.authorizeKey(permission(c.action), ref); err != nil {
		return nil, err
	}
	if err := ref.usable(); err != nil {
		return nil, err
	}
	if dry {
		return nil, errDryRun()
	}
	dk := make([]byte, n)
	randomBytes(dk)
	pt := base64.StdEncoding.EncodeToString(dk)
	clear(dk)
	kv := ref.primary()
	blob, serr := seal(ref.id, kv.id, kv.material, []byte(pt), ctx)
	if serr != nil {
		return nil, errInternal()
	}
	resp := cryptoResponse{RequestID: c.requestID, KeyID: ref.id, KeyVersionID: kv.id, CiphertextBlob: blob}
	if withPlaintext {
		resp.Plaintext = pt
	}
	return resp, nil
}

// handleGenerateDataKey: checks kms:GenerateDataKey on the key (and alias).
func handleGenerateDataKey(c *call) (any, *apiError) { return generateDataKey(c, true) }

// handleGenerateDataKeyWithoutPlaintext: checks
// kms:GenerateDataKeyWithoutPlaintext on the key (and alias).
func handleGenerateDataKeyWithoutPlaintext(c *call) (any, *apiError) {
	return generateDataKey(c, false)
}

// handleEncrypt: checks kms:Encrypt on the key (and alias). Plaintext is an
// opaque string (clients send base64) that Decrypt returns unchanged.
func handleEncrypt(c *call) (any, *apiError) {
	pt, err := c.required("Plaintext")
	if err != nil {
		return nil, err
	}
	if len(pt) > maxPlaintextBytes {
		return nil, errInvalidParam("Plaintext", "longer than 6144 bytes")
	}
	ctx, err := c.contextParam("EncryptionContext")
	if err != nil {
		return nil, err
	}
	dry, err := c.dryRun()
	if err != nil {
		return nil, err
	}
	ref, err := c.lookupKey("KeyId", true)
	if err != nil {
		return nil, err
	}
	if err := c.authorizeKey("kms:Encrypt", ref); err != nil {
		return nil, err
	}
	if err := ref.usable(); err != nil {
		return nil, err
	}
	if dry {
		return nil, errDryRun()
	}
	kv := ref.primary()
	blob, serr := seal(ref.id, kv.id, kv.material, []byte(pt), ctx)
	if serr != nil {
		return nil, errInternal()
	}
	return cryptoResponse{RequestID: c.requestID, KeyID: ref.id, KeyVersionID: kv.id, CiphertextBlob: blob}, nil
}

// openedBlob is a ciphertext blob with the key that can open it.
type openedBlob struct {
	ref *keyRef
	b   *blob
	kv  *keyVersion
}

// blobKey parses the blob in parameter param and finds its key, which must
// live in the request's region. Every failure is InvalidCiphertext: without
// the key nothing about the blob can be trusted.
func (c *call) blobKey(param string) (*openedBlob, *apiError) {
	text, err := c.required(param)
	if err != nil {
		return nil, err
	}
	b, perr := parseBlob(text)
	if perr != nil {
		return nil, errInvalidCiphertext()
	}
	c.s.mu.Lock()
	k := c.s.keyIndex[b.keyID]
	var ref *keyRef
	if k != nil && k.region == c.region {
		ref = &keyRef{k: k, keyView: k.view()}
	}
	c.s.mu.Unlock()
	if ref == nil {
		return nil, errInvalidCiphertext()
	}
	if !c.inScope(ref.instanceID) {
		return nil, errKeyNotFound(b.keyID) // an instance gateway serves its own keys only
	}
	kv := ref.version(b.versionID)
	if kv == nil {
		return nil, errInvalidCiphertext()
	}
	return &openedBlob{ref: ref, b: b, kv: kv}, nil
}

// handleDecrypt: checks kms:Decrypt on the key the ciphertext names.
func handleDecrypt(c *call) (any, *apiError) {
	ctx, err := c.contextParam("EncryptionContext")
	if err != nil {
		return nil, err
	}
	dry, err := c.dryRun()
	if err != nil {
		return nil, err
	}
	ob, err := c.blobKey("CiphertextBlob")
	if err != nil {
		return nil, err
	}
	if err := c.authorizeKey("kms:Decrypt", ob.ref); err != nil {
		return nil, err
	}
	if err := ob.ref.usable(); err != nil {
		return nil, err
	}
	pt, oerr := open(ob.b, ob.kv.material, ctx)
	if oerr != nil {
		return nil, errInvalidCiphertext()
	}
	if dry {
		return nil, errDryRun()
	}
	return struct {
		RequestID    string `json:"RequestId"`
		KeyID        string `json:"KeyId"`
		KeyVersionID string `json:"KeyVersionId"`
		Plaintext    string `json:"Plaintext"`
	}{c.requestID, ob.ref.id, ob.kv.id, string(pt)}, nil
}

// handleReEncrypt: checks kms:ReEncryptFrom on the source key and
// kms:ReEncryptTo on the destination key (and its alias). The plaintext never
// leaves the server.
func handleReEncrypt(c *call) (any, *apiError) {
	if _, err := c.required("DestinationKeyId"); err != nil {
		return nil, err
	}
	srcCtx, err := c.contextParam("SourceEncryptionContext")
	if err != nil {
		return nil, err
	}
	dstCtx, err := c.contextParam("DestinationEncryptionContext")
	if err != nil {
		return nil, err
	}
	dry, err := c.dryRun()
	if err != nil {
		return nil, err
	}
	ob, err := c.blobKey("CiphertextBlob")
	if err != nil {
		return nil, err
	}
	if c.param("SourceKeyId") != "" {
		src, err := c.lookupKey("SourceKeyId", true)
		if err != nil {
			return nil, err
		}
		if src.id != ob.ref.id {
			return nil, errInvalidParam("SourceKeyId", "does not match the key of the ciphertext")
		}
	}
	dst, err := c.lookupKey("DestinationKeyId", true)
	if err != nil {
		return nil, err
	}
	if err := c.authorizeKey("kms:ReEncryptFrom", ob.ref); err != nil {
		return nil, err
	}
	if err := c.authorizeKey("kms:ReEncryptTo", dst); err != nil {
		return nil, err
	}
	if err := ob.ref.usable(); err != nil {
		return nil, err
	}
	if err := dst.usable(); err != nil {
		return nil, err
	}
	pt, oerr := open(ob.b, ob.kv.material, srcCtx)
	if oerr != nil {
		return nil, errInvalidCiphertext()
	}
	defer clear(pt)
	if dry {
		return nil, errDryRun()
	}
	kv := dst.primary()
	blob, serr := seal(dst.id, kv.id, kv.material, pt, dstCtx)
	if serr != nil {
		return nil, errInternal()
	}
	return cryptoResponse{RequestID: c.requestID, KeyID: dst.id, KeyVersionID: kv.id, CiphertextBlob: blob}, nil
}
