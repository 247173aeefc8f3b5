package testkms_test

import (
	"encoding/base64"
	"net/http"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func encryptReq(keyID, plaintext, ctx string) *kms.EncryptRequest {
	r := kms.CreateEncryptRequest()
	r.KeyId, r.Plaintext, r.EncryptionContext = keyID, plaintext, ctx
	return r
}

func decryptReq(blob, ctx string) *kms.DecryptRequest {
	r := kms.CreateDecryptRequest()
	r.CiphertextBlob, r.EncryptionContext = blob, ctx
	return r
}

func TestGenerateDataKey(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	tests := []struct {
		name    string
		spec    string
		nbytes  int // 0 = unset
		wantLen int
		code    string
	}{
		{name: "default", wantLen: 32},
		{name: "AES_256", spec: "AES_256", wantLen: 32},
		{name: "AES_128", spec: "AES_128", wantLen: 16},
		{name: "NumberOfBytes 1", nbytes: 1, wantLen: 1},
		{name: "NumberOfBytes 1024 wins over spec", spec: "AES_128", nbytes: 1024, wantLen: 1024},
		{name: "NumberOfBytes 1025", nbytes: 1025, code: "InvalidParameter"},
		{name: "bad spec", spec: "AES_512", code: "InvalidParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := kms.CreateGenerateDataKeyRequest()
			req.KeyId, req.KeySpec = keyID, tt.spec
			req.EncryptionContext = `{"tenant":"a b","purpose":"test"}`
			if tt.nbytes != 0 {
				req.NumberOfBytes = requests.NewInteger(tt.nbytes)
			}
			resp, err := f.client.GenerateDataKey(req)
			if tt.code != "" {
				requireAPIError(t, err, http.StatusBadRequest, tt.code)
				return
			}
			require.NoError(t, err)
			dk, err := base64.StdEncoding.DecodeString(resp.Plaintext)
			require.NoError(t, err)
			assert.Len(t, dk, tt.wantLen)
			assert.Equal(t, keyID, resp.KeyId)
			assert.NotEmpty(t, resp.KeyVersionId)

			// Decrypt returns the same base64 text; the context order does
			// not matter.
			dec, err := f.client.Decrypt(decryptReq(resp.CiphertextBlob, `{"purpose":"test","tenant":"a b"}`))
			require.NoError(t, err)
			assert.Equal(t, resp.Plaintext, dec.Plaintext)
			assert.Equal(t, keyID, dec.KeyId)
			assert.Equal(t, resp.KeyVersionId, dec.KeyVersionId)
		})
	}
}

func TestGenerateDataKeyWithoutPlaintext(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	req := kms.CreateGenerateDataKeyWithoutPlaintextRequest()
	req.KeyId = keyID
	resp, err := f.client.GenerateDataKeyWithoutPlaintext(req)
	require.NoError(t, err)
	assert.NotEmpty(t, resp.CiphertextBlob)
	assert.Equal(t, keyID, resp.KeyId)
	assert.Equal(t, 1, f.srv.Calls("GenerateDataKeyWithoutPlaintext"))

	dec, err := f.client.Decrypt(decryptReq(resp.CiphertextBlob, ""))
	require.NoError(t, err)
	dk, err := base64.StdEncoding.DecodeString(dec.Plaintext)
	require.NoError(t, err)
	assert.Len(t, dk, 32)
}

func TestEncryptDecrypt(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	pt := base64.StdEncoding.EncodeToString([]byte("hello, world"))

	enc, err := f.client.Encrypt(encryptReq(keyID, pt, `{"k":"v"}`))
	require.NoError(t, err)
	assert.Equal(t, keyID, enc.KeyId)
	assert.NotContains(t, enc.CiphertextBlob, pt)

	dec, err := f.client.Decrypt(decryptReq(enc.CiphertextBlob, `{"k":"v"}`))
	require.NoError(t, err)
	assert.Equal(t, pt, dec.Plaintext)

	// Plaintext is opaque: not-base64 strings round-trip unchanged.
	enc2, err := f.client.Encrypt(encryptReq(keyID, "plain text *~+ /", ""))
	require.NoError(t, err)
	dec2, err := f.client.Decrypt(decryptReq(enc2.CiphertextBlob, ""))
	require.NoError(t, err)
	assert.Equal(t, "plain text *~+ /", dec2.Plaintext)

	// Two encryptions of one plaintext differ.
	enc3, err := f.client.Encrypt(encryptReq(keyID, pt, `{"k":"v"}`))
	require.NoError(t, err)
	assert.NotEqual(t, enc.CiphertextBlob, enc3.CiphertextBlob)
}

func TestInvalidCiphertext(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	enc, err := f.client.Encrypt(encryptReq(keyID, "c2VjcmV0", `{"k":"v"}`))
	require.NoError(t, err)
	raw, err := base64.StdEncoding.DecodeString(enc.CiphertextBlob)
	require.NoError(t, err)

	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 0x01
		return base64.StdEncoding.EncodeToString(b)
	}
	tests := []struct {
		name string
		blob string
		ctx  string
	}{
		{"wrong context value", enc.CiphertextBlob, `{"k":"w"}`},
		{"missing context", enc.CiphertextBlob, ""},
		{"extra context", enc.CiphertextBlob, `{"k":"v","x":"y"}`},
		{"bit flip in magic", flip(0), `{"k":"v"}`},
		{"bit flip in key id", flip(6), `{"k":"v"}`},
		{"bit flip in nonce", flip(len(raw) - 30), `{"k":"v"}`},
		{"bit flip in tag", flip(len(raw) - 1), `{"k":"v"}`},
		{"truncated", base64.StdEncoding.EncodeToString(raw[:len(raw)-1]), `{"k":"v"}`},
		{"trailing byte", base64.StdEncoding.EncodeToString(append(append([]byte(nil), raw...), 0)), `{"k":"v"}`},
		{"garbage", "bm90IGEgYmxvYg==", ""},
		{"not base64", "!!!", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.client.Decrypt(decryptReq(tt.blob, tt.ctx))
			se := requireAPIError(t, err, http.StatusBadRequest, "InvalidCiphertext")
			assert.Equal(t, "The specified ciphertext is invalid or its encryption context does not match", se.Message())
		})
	}
}

func TestEncryptionContextValidation(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	for _, ctx := range []string{`[1]`, `"s"`, `null`, `{"a":1}`, `{"a":null}`, `{"a":{}}`, `{"a":`, `42`, `{} {}`} {
		t.Run(ctx, func(t *testing.T) {
			_, err := f.client.Encrypt(encryptReq(keyID, "eA==", ctx))
			se := requireAPIError(t, err, http.StatusBadRequest, "InvalidParameter")
			assert.Contains(t, se.Message(), "EncryptionContext")
		})
	}
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	enc1, err := f.client.Encrypt(encryptReq(keyID, "djE=", ""))
	require.NoError(t, err)

	rot := kms.CreateCreateKeyVersionRequest()
	rot.KeyId = keyID
	v2, err := f.client.CreateKeyVersion(rot)
	require.NoError(t, err)

	enc2, err := f.client.Encrypt(encryptReq(keyID, "djI=", ""))
	require.NoError(t, err)
	assert.NotEqual(t, enc1.KeyVersionId, enc2.KeyVersionId)
	assert.Equal(t, v2.KeyVersion.KeyVersionId, enc2.KeyVersionId)

	for blob, want := range map[string]struct{ pt, version string }{
		enc1.CiphertextBlob: {"djE=", enc1.KeyVersionId},
		enc2.CiphertextBlob: {"djI=", enc2.KeyVersionId},
	} {
		dec, err := f.client.Decrypt(decryptReq(blob, ""))
		require.NoError(t, err)
		assert.Equal(t, want.pt, dec.Plaintext)
		assert.Equal(t, want.version, dec.KeyVersionId)
	}
}

func TestKeyStateRejections(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	enc, err := f.client.Encrypt(encryptReq(keyID, "eA==", ""))
	require.NoError(t, err)
	acct := f.srv.DefaultAccount()

	for _, tt := range []struct{ state, code string }{
		{"Disabled", "Rejected.Disabled"},
		{"PendingDeletion", "Rejected.PendingDeletion"},
	} {
		t.Run(tt.state, func(t *testing.T) {
			require.NoError(t, f.srv.SetKeyState(acct, keyID, tt.state))
			t.Cleanup(func() { require.NoError(t, f.srv.SetKeyState(acct, keyID, "Enabled")) })

			_, err := f.client.Encrypt(encryptReq(keyID, "eA==", ""))
			requireAPIError(t, err, http.StatusConflict, tt.code)
			_, err = f.client.Decrypt(decryptReq(enc.CiphertextBlob, ""))
			requireAPIError(t, err, http.StatusConflict, tt.code)
			gdk := kms.CreateGenerateDataKeyRequest()
			gdk.KeyId = keyID
			_, err = f.client.GenerateDataKey(gdk)
			requireAPIError(t, err, http.StatusConflict, tt.code)
			// Describing still works.
			_, err = f.client.DescribeKey(describeKeyReq(keyID))
			require.NoError(t, err)
		})
	}
}

func TestAliasCrypto(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	require.NoError(t, f.srv.CreateAlias(f.srv.DefaultAccount(), "alias/app", keyID))
	aliasARN := "acs:kms:cn-hangzhou:" + f.srv.DefaultAccount() + ":alias/app"

	for _, ref := range []string{"alias/app", aliasARN, "acs:kms:cn-hangzhou:" + f.srv.DefaultAccount() + ":key/" + keyID} {
		t.Run(ref, func(t *testing.T) {
			enc, err := f.client.Encrypt(encryptReq(ref, "eA==", ""))
			require.NoError(t, err)
			assert.Equal(t, keyID, enc.KeyId)
			gdk := kms.CreateGenerateDataKeyRequest()
			gdk.KeyId = ref
			g, err := f.client.GenerateDataKey(gdk)
			require.NoError(t, err)
			assert.Equal(t, keyID, g.KeyId)
			dec, err := f.client.Decrypt(decryptReq(enc.CiphertextBlob, ""))
			require.NoError(t, err)
			assert.Equal(t, "eA==", dec.Plaintext)
		})
	}
}

func TestReEncrypt(t *testing.T) {
	f := newFixture(t)
	src, dst := f.createKey(t), f.createKey(t)
	require.NoError(t, f.srv.CreateAlias(f.srv.DefaultAccount(), "alias/dst", dst))
	enc, err := f.client.Encrypt(encryptReq(src, "cGF5bG9hZA==", `{"a":"1"}`))
	require.NoError(t, err)

	// SDK requests keep sent parameters even after a field is cleared, so
	// every call gets a fresh one.
	newReq := func(edit func(*kms.ReEncryptRequest)) *kms.ReEncryptRequest {
		req := kms.CreateReEncryptRequest()
		req.CiphertextBlob = enc.CiphertextBlob
		req.SourceEncryptionContext = `{"a":"1"}`
		req.DestinationKeyId = "alias/dst"
		req.DestinationEncryptionContext = `{"b":"2"}`
		if edit != nil {
			edit(req)
		}
		return req
	}
	re, err := f.client.ReEncrypt(newReq(nil))
	require.NoError(t, err)
	assert.Equal(t, dst, re.KeyId)
	assert.NotEmpty(t, re.KeyVersionId)

	dec, err := f.client.Decrypt(decryptReq(re.CiphertextBlob, `{"b":"2"}`))
	require.NoError(t, err)
	assert.Equal(t, "cGF5bG9hZA==", dec.Plaintext)
	assert.Equal(t, dst, dec.KeyId)

	_, err = f.client.ReEncrypt(newReq(func(r *kms.ReEncryptRequest) { r.SourceKeyId = src }))
	require.NoError(t, err)
	_, err = f.client.ReEncrypt(newReq(func(r *kms.ReEncryptRequest) { r.SourceEncryptionContext = `{"a":"2"}` }))
	requireAPIError(t, err, http.StatusBadRequest, "InvalidCiphertext")
	_, err = f.client.ReEncrypt(newReq(func(r *kms.ReEncryptRequest) { r.SourceKeyId = dst }))
	requireAPIError(t, err, http.StatusBadRequest, "InvalidParameter")
	_, err = f.client.ReEncrypt(newReq(func(r *kms.ReEncryptRequest) { r.DestinationKeyId = "key-missing" }))
	requireAPIError(t, err, http.StatusNotFound, "Forbidden.KeyNotFound")

	require.NoError(t, f.srv.SetKeyState(f.srv.DefaultAccount(), dst, "Disabled"))
	_, err = f.client.ReEncrypt(newReq(nil))
	requireAPIError(t, err, http.StatusConflict, "Rejected.Disabled")
}

func TestDryRun(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	enc, err := f.client.Encrypt(encryptReq(keyID, "eA==", ""))
	require.NoError(t, err)
	_, err = f.srv.CreateSecret(f.srv.DefaultAccount(), "db-password", []byte("hunter2"), secretOpts())
	require.NoError(t, err)

	calls := map[string]func(dry string) error{
		"GenerateDataKey": func(dry string) error {
			r := kms.CreateGenerateDataKeyRequest()
			r.KeyId, r.DryRun = keyID, dry
			_, err := f.client.GenerateDataKey(r)
			return err
		},
		"GenerateDataKeyWithoutPlaintext": func(dry string) error {
			r := kms.CreateGenerateDataKeyWithoutPlaintextRequest()
			r.KeyId, r.DryRun = keyID, dry
			_, err := f.client.GenerateDataKeyWithoutPlaintext(r)
			return err
		},
		"Encrypt": func(dry string) error {
			r := encryptReq(keyID, "eA==", "")
			r.DryRun = dry
			_, err := f.client.Encrypt(r)
			return err
		},
		"Decrypt": func(dry string) error {
			r := decryptReq(enc.CiphertextBlob, "")
			r.DryRun = dry
			_, err := f.client.Decrypt(r)
			return err
		},
		"ReEncrypt": func(dry string) error {
			r := kms.CreateReEncryptRequest()
			r.CiphertextBlob, r.DestinationKeyId, r.DryRun = enc.CiphertextBlob, keyID, dry
			_, err := f.client.ReEncrypt(r)
			return err
		},
		"GetSecretValue": func(dry string) error {
			r := kms.CreateGetSecretValueRequest()
			r.SecretName, r.DryRun = "db-password", dry
			_, err := f.client.GetSecretValue(r)
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, call("false"))
			se := requireAPIError(t, call("true"), http.StatusBadRequest, "DryRunOperationError")
			assert.Equal(t, "Request would have succeeded, but DryRun flag is set.", se.Message())
			requireAPIError(t, call("maybe"), http.StatusBadRequest, "InvalidParameter")

			// A failing check wins over DryRun.
			f.srv.Deny(f.root.Principal, name)
			t.Cleanup(f.srv.ClearFaults)
			if name == "GetSecretValue" {
				requireAPIError(t, call("true"), http.StatusForbidden, "Forbidden.NoPermission")
			} else {
				f.srv.ClearFaults()
				require.NoError(t, f.srv.SetKeyState(f.srv.DefaultAccount(), keyID, "Disabled"))
				t.Cleanup(func() { require.NoError(t, f.srv.SetKeyState(f.srv.DefaultAccount(), keyID, "Enabled")) })
				requireAPIError(t, call("true"), http.StatusConflict, "Rejected.Disabled")
			}
		})
	}
}

func TestCryptoMissingParameters(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	tests := []struct {
		name  string
		call  func() error
		param string
	}{
		{"Encrypt KeyId", func() error { _, err := f.client.Encrypt(encryptReq("", "eA==", "")); return err }, "KeyId"},
		{"Encrypt Plaintext", func() error { _, err := f.client.Encrypt(encryptReq(keyID, "", "")); return err }, "Plaintext"},
		{"Decrypt CiphertextBlob", func() error { _, err := f.client.Decrypt(decryptReq("", "")); return err }, "CiphertextBlob"},
		{"GenerateDataKey KeyId", func() error {
			_, err := f.client.GenerateDataKey(kms.CreateGenerateDataKeyRequest())
			return err
		}, "KeyId"},
		{"ReEncrypt DestinationKeyId", func() error {
			r := kms.CreateReEncryptRequest()
			r.CiphertextBlob = "eA=="
			_, err := f.client.ReEncrypt(r)
			return err
		}, "DestinationKeyId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			se := requireAPIError(t, tt.call(), http.StatusBadRequest, "MissingParameter")
			assert.Contains(t, se.Message(), tt.param)
		})
	}
}
