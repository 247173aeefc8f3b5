package envelope

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// Rewrap moves a message to the KMS key newKeyID (id, ARN or alias in the
// same region as one of the message's wrapped keys) with KMS ReEncrypt: the
// data key never leaves KMS in plaintext, and the authenticated header and
// the body are copied unchanged. The result carries one wrapped key, under
// newKeyID. It needs kms:ReEncryptFrom on the old key and kms:ReEncryptTo on
// the new one. Use it to retire a key or move data between accounts.
func (c *Client) Rewrap(ctx context.Context, msg []byte, newKeyID string) ([]byte, error) {
	h, err := ParseHeader(msg)
	if err != nil {
		return nil, err
	}
	section, err := c.rewrapSection(ctx, h, newKeyID)
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
// the body is copied through without being held in memory.
func (c *Client) RewrapStream(ctx context.Context, dst io.Writer, src io.Reader, newKeyID string) (int64, error) {
	h, err := ReadHeader(src)
	if err != nil {
		return 0, err
	}
	section, err := c.rewrapSection(ctx, h, newKeyID)
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

// rewrapSection re-encrypts the first wrapped key that can be re-encrypted
// and returns the new wrapped-key section.
func (c *Client) rewrapSection(ctx context.Context, h *Header, newKeyID string) ([]byte, error) {
	if newKeyID == "" {
		return nil, errors.New("envelope: Rewrap: newKeyID is required")
	}
	if len(h.WrappedKeys) > c.cfg.MaxWrappedKeys {
		return nil, fmt.Errorf("%w: the message has %d, the limit is %d", ErrTooManyWrappedKeys, len(h.WrappedKeys), c.cfg.MaxWrappedKeys)
	}
	var attempts []UnwrapAttempt
	for _, wk := range h.WrappedKeys {
		region, _, _, ok := splitKeyARN(wk.KeyARN)
		if !ok || wk.Provider != ProviderAliyunKMS {
			attempts = append(attempts, UnwrapAttempt{KeyARN: wk.KeyARN, Err: errors.New("not an Alibaba KMS key")})
			continue
		}
		if !c.allowed(wk.KeyARN) {
			attempts = append(attempts, UnwrapAttempt{KeyARN: wk.KeyARN, Err: errors.New("key not in Config.AllowedKeys")})
			continue
		}
		k := c.clientFor(region)
		if k == nil {
			attempts = append(attempts, UnwrapAttempt{KeyARN: wk.KeyARN, Err: fmt.Errorf("no KMS client for region %q", safeKey(region))})
			continue
		}
		out, err := k.ReEncrypt(ctx, &kmsclient.ReEncryptInput{
			CiphertextBlob:               wk.Blob,
			SourceEncryptionContext:      h.Context,
			DestinationKeyID:             newKeyID,
			DestinationEncryptionContext: h.Context,
			SourceKeyARN:                 wk.KeyARN,
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			attempts = append(attempts, UnwrapAttempt{KeyARN: wk.KeyARN, Err: err})
			continue
		}
		arn, err := c.keyARN(ctx, k, newKeyID, out.KeyID)
		if err != nil {
			return nil, err
		}
		return encodeWrappedKeys([]WrappedKey{{Provider: ProviderAliyunKMS, KeyARN: arn, Blob: out.CiphertextBlob}})
	}
	return nil, &UnwrapError{Attempts: attempts}
}
