package envelope

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// Rewrap moves a message to the KMS key newKeyID (id, ARN or alias in the
// same region as one of the message's wrapped keys) with KMS ReEncrypt. The
// authenticated header and the body are copied unchanged; the result carries
// one wrapped key, under newKeyID (other wrapped keys, say in other regions,
// are dropped: wrap again for redundancy).
//
// Before re-encrypting, Rewrap authenticates the header exactly as Decrypt
// does: it unwraps a wrapped key with KMS Decrypt (through the cache),
// checks that KMS used the key the message names and that it is allowed
// ([Config.AllowedKeys]), checks the key commitment and the header tag, and
// then re-encrypts that wrapped key and no other. Without this, a wrapped
// key relabelled with an allowed ARN but made under another key would be
// re-encrypted under newKeyID (KMS ReEncrypt does not say which key it
// decrypted with), laundering it past AllowedKeys; and a bogus wrapped key
// placed first would produce a message that no longer decrypts. So Rewrap
// needs kms:Decrypt and kms:ReEncryptFrom on the old key and
// kms:ReEncryptTo on the new one, and the data key passes through this
// process (wiped after use) as it does for Decrypt. The body is neither
// decrypted nor checked: a damaged body stays damaged.
//
// Rewrap takes the options Decrypt takes and applies them, with
// [Config.RequiredContext] and key trust, exactly as Decrypt does: a message
// Decrypt would refuse is not moved.
func (c *Client) Rewrap(ctx context.Context, msg []byte, newKeyID string, opts ...DecryptOption) ([]byte, error) {
	// The context map is built only if KMS needs it (rewrapSection).
	h, err := parseHeader(&source{b: msg}, false)
	if err != nil {
		return nil, err
	}
	section, err := c.rewrapSection(ctx, h, newKeyID, opts)
	if err != nil {
		return nil, err
	}
	authedEnd := len(h.authed) + tagSize
	out := make([]byte, 0, authedEnd+len(section)+len(msg)-h.length)
	out = append(out, msg[:authedEnd]...)
	out = append(out, section...)
	return append(out, msg[h.length:]...), nil
}

// RewrapStream is Rewrap for a message read from src and written to dst;
// the body is copied through without being held in memory. If src or dst
// fails midway the error is returned and dst holds a partial message that
// will not decrypt.
func (c *Client) RewrapStream(ctx context.Context, dst io.Writer, src io.Reader, newKeyID string, opts ...DecryptOption) (int64, error) {
	h, err := parseHeader(&source{r: src}, false)
	if err != nil {
		return 0, err
	}
	section, err := c.rewrapSection(ctx, h, newKeyID, opts)
	if err != nil {
		return 0, err
	}
	head := append(append(append([]byte(nil), h.authed...), h.tag...), section...)
	n, err := dst.Write(head)
	if err != nil {
		return int64(n), err
	}
	m, err := io.Copy(dst, src)
	return int64(n) + m, err
}

// rewrapSection authenticates the header with the first wrapped key that
// unwraps (as Decrypt does), re-encrypts that wrapped key under newKeyID and
// returns the new wrapped-key section.
func (c *Client) rewrapSection(ctx context.Context, h *Header, newKeyID string, opts []DecryptOption) ([]byte, error) {
	if newKeyID == "" {
		return nil, errors.New("envelope: Rewrap: newKeyID is required")
	}
	o, err := c.requirements(h, opts)
	if err != nil {
		return nil, err
	}
	var section []byte
	_, err = c.authenticate(ctx, h, o, func(wk WrappedKey) error {
		region, _, _, _ := splitKeyARN(wk.KeyARN) // unwrap parsed it
		k := c.clients[c.clientIndex(region)]
		h.ensureContext()
		out, err := k.ReEncrypt(ctx, &kmsclient.ReEncryptInput{
			CiphertextBlob:               wk.Blob,
			SourceEncryptionContext:      h.Context,
			DestinationKeyID:             newKeyID,
			DestinationEncryptionContext: h.Context,
			SourceKeyARN:                 wk.KeyARN,
		})
		if errors.Is(err, kmsclient.ErrUnsupportedOperation) {
			out, err = c.rewrapThroughProcess(ctx, k, h, wk, newKeyID)
		}
		if err != nil {
			return err
		}
		arn, err := c.wrappingKeyARN(ctx, WrappingKey{KeyID: newKeyID, KMS: k}, out.KeyID)
		if err != nil {
			return err
		}
		section, err = encodeWrappedKeys([]WrappedKey{{Provider: ProviderAliyunKMS, KeyARN: arn, Blob: out.CiphertextBlob}})
		return err
	})
	return section, err
}

// rewrapThroughProcess is Rewrap's fallback where KMS ReEncrypt is not
// served (a KMS 3.0 instance gateway): the data key of wk is decrypted with
// KMS Decrypt, checked against the message's key commitment, encrypted
// under newKeyID with KMS Encrypt (same encryption context), and wiped. The
// data key passes through this process, as it already does for the
// authentication Rewrap does first; it needs kms:Decrypt on the old key and
// kms:Encrypt on the new one.
func (c *Client) rewrapThroughProcess(ctx context.Context, k KMS, h *Header, wk WrappedKey, newKeyID string) (*kmsclient.EncryptOutput, error) {
	_, _, keyID, _ := splitKeyARN(wk.KeyARN)
	dk, err := k.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: wk.Blob, EncryptionContext: h.Context, KeyARN: wk.KeyARN})
	if err != nil {
		return nil, err
	}
	defer dk.Plaintext.Wipe()
	if _, err := c.checkUnwrappingKey(wk.KeyARN, keyID, dk.KeyID); err != nil {
		return nil, err
	}
	// The same data key authenticated the header a moment ago; check the
	// commitment again so that nothing but that key is ever re-encrypted.
	if len(dk.Plaintext) != h.Suite.DataKeySize() {
		return nil, ErrCommitmentMismatch
	}
	schedule, err := scheduleFor(h.Suite, dk.Plaintext)
	if err != nil {
		return nil, err
	}
	defer clear(schedule)
	if subtle.ConstantTimeCompare(schedule[32:], h.commitment) != 1 {
		return nil, ErrCommitmentMismatch
	}
	return k.Encrypt(ctx, &kmsclient.EncryptInput{KeyID: newKeyID, Plaintext: dk.Plaintext, EncryptionContext: h.Context})
}
