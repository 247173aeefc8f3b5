package envelope

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strconv"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// Foreign formats. The two methods below serve packages that read or write
// another message format with this Client's KMS keys, key trust and
// requirements, such as the Alibaba Cloud Encryption SDK's (package
// aliyunesdk, see [AliyunESDKPackage]). Messages of this package never need
// them: they hand the raw data key to the caller, which must wipe it.

// ErrDataKeyMismatch: two wrapped keys of one message unwrapped to
// different data keys. A format without key commitment allows this (a
// writer can wrap a different data key for each recipient, so that each
// sees another plaintext); [Client.UnwrapForeignDataKey] unwraps every
// trusted wrapped key and refuses the message when they disagree.
var ErrDataKeyMismatch = errors.New("envelope: the message's wrapped keys unwrap to different data keys")

// GenerateForeignDataKey makes a new data key of size bytes (1 to 1024) for
// a message of another format: KMS GenerateDataKey with the first of
// [Config.Keys], then KMS Encrypt of the same data key with each further
// key, all under the encryption context ec, exactly as Encrypt obtains a
// data key. It returns the data key, which the caller must wipe, and one
// wrapped key per configured key, each named by its key ARN. Nothing is
// cached: each call is a new data key.
func (c *Client) GenerateForeignDataKey(ctx context.Context, ec map[string]string, size int) (kmsclient.Sensitive, []WrappedKey, error) {
	if size < 1 || size > 1024 {
		return nil, nil, fmt.Errorf("envelope: GenerateForeignDataKey: size %d is outside [1, 1024]", size)
	}
	return c.generateDataKey(ctx, ec, size)
}

// UnwrapForeignDataKey returns the data key of a message of another format
// that carries the wrapped keys keys under the encryption context ec, and
// whose algorithm has size-byte keys. The caller must wipe it.
//
// It applies what Decrypt applies: [Config.RequiredContext] and the call's
// options ([RequireContext], [RequireKeys]) against ec, [Config.MaxWrappedKeys]
// (ErrTooManyWrappedKeys), and key trust ([Config.Keys], [Config.AllowedKeys],
// [Config.Discovery]) to each wrapped key before it is sent to KMS; the key
// KMS reports after unwrapping must be the key the wrapped key names (and
// trusted as confirmed). All of this happens before any KMS call where it
// can.
//
// Unlike Decrypt, it sends every trusted wrapped key to KMS, not just the
// first that unwraps: such a format has no key commitment, so every data
// key obtained must be the same (compared in constant time), or the message
// is refused with ErrDataKeyMismatch. A wrapped key that fails (KMS refuses
// it, another region has no client) is skipped as in Decrypt; if none
// unwraps, the error is an *UnwrapError (ErrNoUsableKey) with the reason for
// each. A data key of another length than size is refused. The data key is
// not cached.
func (c *Client) UnwrapForeignDataKey(ctx context.Context, keys []WrappedKey, ec map[string]string, size int, opts ...DecryptOption) (kmsclient.Sensitive, error) {
	o, err := c.applyDecryptOptions(opts)
	if err != nil {
		return nil, err
	}
	defer o.release()
	required := []map[string]string{c.cfg.RequiredContext}
	if o != nil {
		required = o.required
	}
	for _, m := range required {
		for k, want := range m {
			got, ok := ec[k]
			switch {
			case !ok:
				return nil, &ContextError{Key: safeKey(k), Reason: "required but absent from the message", kind: ErrContextMismatch}
			case got != want:
				return nil, &ContextError{Key: safeKey(k), Reason: "has a different value than required", kind: ErrContextMismatch}
			}
		}
	}
	if len(keys) == 0 {
		return nil, &UnwrapError{}
	}
	if len(keys) > c.cfg.MaxWrappedKeys {
		return nil, fmt.Errorf("%w: the message has %d, the limit is %d", ErrTooManyWrappedKeys, len(keys), c.cfg.MaxWrappedKeys)
	}
	var dataKey kmsclient.Sensitive
	var attempts []UnwrapAttempt
	for _, wk := range keys {
		dk, err := c.unwrapForeign(ctx, wk, ec, size, o)
		if err != nil {
			if ctx.Err() != nil {
				dataKey.Wipe()
				return nil, err
			}
			attempts = append(attempts, UnwrapAttempt{KeyARN: wk.KeyARN, Err: err})
			continue
		}
		if dataKey == nil {
			dataKey = dk
			continue
		}
		same := subtle.ConstantTimeCompare(dataKey, dk) == 1
		dk.Wipe()
		if !same {
			dataKey.Wipe()
			return nil, ErrDataKeyMismatch
		}
	}
	if dataKey == nil {
		return nil, &UnwrapError{Attempts: attempts}
	}
	return dataKey, nil
}

// unwrapForeign is Client.unwrap for one wrapped key of a foreign message,
// without the cache (which holds schedules of this format, not data keys).
func (c *Client) unwrapForeign(ctx context.Context, wk WrappedKey, ec map[string]string, size int, o *decryptOptions) (kmsclient.Sensitive, error) {
	if wk.Provider != ProviderAliyunKMS {
		return nil, fmt.Errorf("unknown key provider %s", strconv.QuoteToASCII(safeKey(wk.Provider)))
	}
	region, _, keyID, ok := splitKeyARN(wk.KeyARN)
	if !ok {
		return nil, errors.New("not a KMS key ARN")
	}
	if len(wk.Blob) == 0 {
		return nil, errors.New("empty ciphertext blob")
	}
	if ok, why := c.trusted(ctx, wk.KeyARN, o); !ok {
		return nil, errors.New(why)
	}
	i := c.clientIndex(region)
	if i < 0 {
		return nil, fmt.Errorf("no KMS client for region %s", strconv.QuoteToASCII(safeKey(region)))
	}
	k := c.clients[i]
	out, err := k.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: wk.Blob, EncryptionContext: ec, KeyARN: wk.KeyARN})
	if err != nil {
		return nil, err
	}
	confirmed, err := c.checkUnwrappingKey(wk.KeyARN, keyID, out.KeyID)
	if err != nil {
		out.Plaintext.Wipe()
		return nil, err
	}
	if len(out.Plaintext) != size {
		out.Plaintext.Wipe()
		return nil, fmt.Errorf("KMS returned a %d-byte data key, the message's algorithm needs %d", len(out.Plaintext), size)
	}
	if confirmed != wk.KeyARN {
		if ok, _ := c.trusted(ctx, confirmed, o); !ok {
			if err := c.confirmAccount(ctx, k, wk.KeyARN, confirmed); err != nil {
				out.Plaintext.Wipe()
				return nil, err
			}
		}
	}
	return out.Plaintext, nil
}
