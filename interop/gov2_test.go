package interop

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	kms "github.com/alibabacloud-go/kms-20160120/v3/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// goV2Client is Alibaba's Go V2 KMS client (signature v3, ACS3-HMAC-SHA256)
// for the emulator e, signing with the given credential.
func goV2Client(t *testing.T, e *emulator, id, secret, token string, hc http.RoundTripper) *kms.Client {
	t.Helper()
	cfg := &openapi.Config{
		AccessKeyId:     tea.String(id),
		AccessKeySecret: tea.String(secret),
		RegionId:        tea.String(e.env["ALIBABA_CLOUD_REGION_ID"]),
		Endpoint:        tea.String(e.env["KMS_ENDPOINT"]),
		Protocol:        tea.String(e.env["KMS_PROTOCOL"]),
	}
	if token != "" {
		cfg.SecurityToken = tea.String(token)
	}
	if ca := e.env["KMS_CA_FILE"]; ca != "" {
		pem, err := os.ReadFile(ca)
		require.NoError(t, err)
		cfg.Ca = tea.String(string(pem))
	}
	if hc != nil {
		cfg.HttpClient = &daraClient{rt: hc}
	}
	c, err := kms.NewClient(cfg)
	require.NoError(t, err)
	return c
}

// daraClient lets a test see or repeat the SDK's HTTP requests (the
// darabonba HttpClient hook).
type daraClient struct{ rt http.RoundTripper }

func (d *daraClient) Call(r *http.Request, tr *http.Transport) (*http.Response, error) {
	if d.rt != nil {
		if c, ok := d.rt.(interface{ setBase(*http.Transport) }); ok {
			c.setBase(tr)
		}
		return d.rt.RoundTrip(r)
	}
	return tr.RoundTrip(r)
}

// replayer sends every request twice and answers with the second answer:
// a replay of a request exactly as the SDK signed it.
type replayer struct {
	base  *http.Transport
	seen  atomic.Int32
	first atomic.Int32 // HTTP status of the first send
	auth  atomic.Value // the Authorization header the SDK sent
}

func (r *replayer) setBase(tr *http.Transport) { r.base = tr }

func (r *replayer) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
	}
	r.auth.Store(req.Header.Get("Authorization"))
	send := func() (*http.Response, error) {
		c := req.Clone(req.Context())
		c.Body = io.NopCloser(bytes.NewReader(body))
		return r.base.RoundTrip(c)
	}
	resp, err := send()
	if err != nil {
		return nil, err
	}
	r.first.Store(int32(resp.StatusCode))
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	r.seen.Add(1)
	return send()
}

// sdkCode is the error code of a darabonba SDK error.
func sdkCode(t *testing.T, err error) string {
	t.Helper()
	require.Error(t, err)
	var se *tea.SDKError
	require.Truef(t, errors.As(err, &se), "want *tea.SDKError, got %T: %v", err, err)
	return tea.StringValue(se.Code)
}

func TestGoV2SDK(t *testing.T) {
	for _, tlsMode := range []bool{false, true} {
		name := "HTTP"
		args := []string{"--seed", seedFile, "--enforce", "--credential", appKeyID}
		if tlsMode {
			name = "HTTPS"
			args = append(args, "--tls", "--ca-out", filepath.Join(t.TempDir(), "ca.pem"))
		}
		t.Run(name, func(t *testing.T) {
			e := startEmulator(t, args...)
			require.Equal(t, appKeyID, e.env["ALIBABA_CLOUD_ACCESS_KEY_ID"])
			c := goV2Client(t, e, e.env["ALIBABA_CLOUD_ACCESS_KEY_ID"], e.env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"], "", nil)
			ctx := map[string]interface{}{"tenant": "a", "purpose": "interop"}

			gdk, err := c.GenerateDataKey(&kms.GenerateDataKeyRequest{KeyId: tea.String(keyAlias), EncryptionContext: ctx})
			require.NoError(t, err, "GenerateDataKey; emulator log:\n%s", e.stderr())
			assert.Equal(t, keyID, tea.StringValue(gdk.Body.KeyId))
			plain, err := base64.StdEncoding.DecodeString(tea.StringValue(gdk.Body.Plaintext))
			require.NoError(t, err)
			assert.Len(t, plain, 32)

			dec, err := c.Decrypt(&kms.DecryptRequest{CiphertextBlob: gdk.Body.CiphertextBlob, EncryptionContext: ctx})
			require.NoError(t, err, "Decrypt with the right context")
			assert.Equal(t, tea.StringValue(gdk.Body.Plaintext), tea.StringValue(dec.Body.Plaintext))
			assert.Equal(t, keyID, tea.StringValue(dec.Body.KeyId))

			_, err = c.Decrypt(&kms.DecryptRequest{CiphertextBlob: gdk.Body.CiphertextBlob,
				EncryptionContext: map[string]interface{}{"tenant": "b", "purpose": "interop"}})
			assert.Equal(t, "InvalidCiphertext", sdkCode(t, err), "Decrypt with a wrong context")

			sv, err := c.GetSecretValue(&kms.GetSecretValueRequest{SecretName: tea.String(secretName)})
			require.NoError(t, err, "GetSecretValue")
			assert.Equal(t, secretValue, tea.StringValue(sv.Body.SecretData))
			assert.Equal(t, "v1", tea.StringValue(sv.Body.VersionId))

			_, err = c.GetSecretValue(&kms.GetSecretValueRequest{SecretName: tea.String(deniedSecret)})
			assert.Equal(t, "Forbidden.NoPermission", sdkCode(t, err), "the app's policy grants app/* secrets only")

			bad := goV2Client(t, e, appKeyID, "not-the-secret", "", nil)
			_, err = bad.GenerateDataKey(&kms.GenerateDataKeyRequest{KeyId: tea.String(keyAlias)})
			assert.Equal(t, "SignatureDoesNotMatch", sdkCode(t, err), "a bad signature")

			require.NoError(t, e.stop(t))
			logs := e.stderr()
			assert.Contains(t, logs, `"GenerateDataKey" principal=acs:ram::1234567890123456:user/app signature=ACS3-HMAC-SHA256 status=200 decision=allowed`)
			assert.Contains(t, logs, `"GetSecretValue" principal=acs:ram::1234567890123456:user/app signature=ACS3-HMAC-SHA256 status=403 decision=denied code=Forbidden.NoPermission`)
			assert.Contains(t, logs, `"GenerateDataKey" principal=- signature=ACS3-HMAC-SHA256 status=400 decision=unauthenticated code=SignatureDoesNotMatch`)
			for _, s := range []string{secretValue, appSecret, tea.StringValue(gdk.Body.Plaintext)} {
				assert.NotContains(t, logs, s, "the log holds no secret")
			}
		})
	}
}

func TestGoV2SDKRoleSession(t *testing.T) {
	// The role session's credential comes with a generated token: the
	// emulator prints it as ALIBABA_CLOUD_SECURITY_TOKEN, which the SDK
	// sends as x-acs-security-token.
	e := startEmulator(t, "--seed", seedFile, "--enforce", "--credential", workerKeyID)
	token := e.env["ALIBABA_CLOUD_SECURITY_TOKEN"]
	require.NotEmpty(t, token)
	c := goV2Client(t, e, workerKeyID, e.env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"], token, nil)
	gdk, err := c.GenerateDataKey(&kms.GenerateDataKeyRequest{KeyId: tea.String(keyAlias)})
	require.NoError(t, err, "emulator log:\n%s", e.stderr())
	assert.Equal(t, keyID, tea.StringValue(gdk.Body.KeyId))

	forged := goV2Client(t, e, workerKeyID, e.env["ALIBABA_CLOUD_ACCESS_KEY_SECRET"], "CAISforged", nil)
	_, err = forged.GenerateDataKey(&kms.GenerateDataKeyRequest{KeyId: tea.String(keyAlias)})
	assert.Equal(t, "InvalidSecurityToken.MismatchWithAccessKey", sdkCode(t, err))
	require.NoError(t, e.stop(t))
	assert.Contains(t, e.stderr(), "principal=acs:ram::1234567890123456:assumed-role/worker/batch signature=ACS3-HMAC-SHA256 status=200")
}

func TestGoV2SDKReplayAndStaleTime(t *testing.T) {
	e := startEmulator(t, "--seed", seedFile, "--credential", appKeyID)
	rp := &replayer{}
	c := goV2Client(t, e, appKeyID, appSecret, "", rp)
	_, err := c.DescribeKey(&kms.DescribeKeyRequest{KeyId: tea.String(keyID)})
	assert.Equal(t, "SignatureNonceUsed", sdkCode(t, err), "the same signed request sent again")
	assert.Equal(t, int32(200), rp.first.Load(), "the first send was accepted")
	assert.True(t, strings.HasPrefix(rp.auth.Load().(string), "ACS3-HMAC-SHA256 Credential="+appKeyID+",SignedHeaders="))

	// An emulator whose clock is an hour ahead sees every request as stale.
	late := startEmulator(t, "--seed", seedFile, "--clock-offset", "1h")
	c = goV2Client(t, late, appKeyID, appSecret, "", nil)
	_, err = c.DescribeKey(&kms.DescribeKeyRequest{KeyId: tea.String(keyID)})
	assert.Equal(t, "IllegalTimestamp", sdkCode(t, err))
}

func TestEmulatorSavesOnSIGTERMAndStopsOnSIGINT(t *testing.T) {
	save := filepath.Join(t.TempDir(), "state.json")
	e := startEmulator(t, "--seed", seedFile, "--save", save, "--credential", appKeyID)
	c := goV2Client(t, e, appKeyID, appSecret, "", nil)
	enc, err := c.Encrypt(&kms.EncryptRequest{KeyId: tea.String(keyAlias), Plaintext: tea.String("aGVsbG8=")})
	require.NoError(t, err)
	require.NoError(t, e.stop(t), "exit status 0 after SIGTERM; log:\n%s", e.stderr())
	info, err := os.Stat(save)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	again := startEmulator(t, "--seed", save, "--credential", appKeyID)
	c = goV2Client(t, again, appKeyID, appSecret, "", nil)
	dec, err := c.Decrypt(&kms.DecryptRequest{CiphertextBlob: enc.Body.CiphertextBlob})
	require.NoError(t, err, "what the first emulator encrypted decrypts on the saved state")
	assert.Equal(t, "aGVsbG8=", tea.StringValue(dec.Body.Plaintext))
	require.NoError(t, again.stopWith(t, os.Interrupt), "exit status 0 after SIGINT too")
	assert.Contains(t, again.stderr(), "kmsenv emulator: stopping")
}
