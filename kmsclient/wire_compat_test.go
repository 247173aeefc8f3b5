package kmsclient_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// cannedServer answers every request with status and the body answer
// returns for it, and records the queries it received.
type cannedServer struct {
	*httptest.Server
	mu      sync.Mutex
	queries []url.Values
}

func newCanned(t *testing.T, status int, answer func(q url.Values) string) *cannedServer {
	t.Helper()
	cs := &cannedServer{}
	cs.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		cs.mu.Lock()
		cs.queries = append(cs.queries, q)
		cs.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(answer(q)))
	}))
	t.Cleanup(cs.Close)
	return cs
}

func (cs *cannedServer) client(t *testing.T, mutate ...func(*kmsclient.Config)) *kmsclient.Client {
	t.Helper()
	cfg := kmsclient.Config{Region: "cn-hangzhou", Endpoint: cs.URL, Credentials: kmsclient.StaticCredentials("AKID", "secret"),
		MaxAttempts: 1, InitialBackoff: time.Millisecond}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := kmsclient.New(cfg)
	require.NoError(t, err)
	return c
}

// TestDocumentedErrorCodes replays documented error answers.
func TestDocumentedErrorCodes(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		body     string
		dryRun   bool
		want     error
		wantNot  error
		contains string
	}{
		// https://www.alibabacloud.com/help/doc-detail/69008.html: a disabled
		// access key. Authentication, not a missing permission.
		{name: "disabled access key", status: 403,
			body: `{"RequestId":"5A8F1B5E-1B2C-4D3E-8F9A-0B1C2D3E4F5A","HostId":"kms.cn-hangzhou.aliyuncs.com","Code":"Forbidden.AccessKey","Message":"This AccessKey is not enabled."}`,
			want: kmsclient.ErrAuthentication, wantNot: kmsclient.ErrAccessDenied},
		// DryRun answers (kms-20160120 request models); statuses undocumented.
		{name: "dry run access denied 400", status: 400, dryRun: true,
			body: `{"RequestId":"r","Code":"AccessDeniedError","Message":"You are not authorized to perform this operation."}`,
			want: kmsclient.ErrAccessDenied},
		{name: "dry run access denied 403", status: 403, dryRun: true,
			body: `{"RequestId":"r","Code":"AccessDeniedError","Message":"denied"}`, want: kmsclient.ErrAccessDenied},
		{name: "dry run validation 400", status: 400, dryRun: true,
			body: `{"RequestId":"r","Code":"ValidationError","Message":"The request is invalid."}`,
			want: kmsclient.ErrInvalidParameter},
		{name: "dry run validation 403", status: 403, dryRun: true,
			body: `{"RequestId":"r","Code":"ValidationError","Message":"The request is invalid."}`,
			want: kmsclient.ErrInvalidParameter, wantNot: kmsclient.ErrAccessDenied},
		{name: "dry run validation 412", status: 412, dryRun: true,
			body: `{"RequestId":"r","Code":"ValidationError"}`, want: kmsclient.ErrInvalidParameter},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCanned(t, tc.status, func(url.Values) string { return tc.body })
			_, err := cs.client(t).Encrypt(context.Background(), &kmsclient.EncryptInput{KeyID: "key-x", Plaintext: []byte("p"), DryRun: tc.dryRun})
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			if tc.wantNot != nil {
				assert.NotErrorIs(t, err, tc.wantNot)
			}
		})
	}
}

// TestEncodedDiagnosticMessageKeptWhole: the token for
// ram:DecodeDiagnosticMessage comes back whole (it used to be cut at 200
// bytes), and the error says how to decode it.
func TestEncodedDiagnosticMessageKeptWhole(t *testing.T) {
	// Shaped like Alibaba's documented example: 243 characters of base64.
	token := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("diagnostic-"), 17))[:243]
	body := `{"RequestId":"r","Code":"Forbidden.NoPermission","Message":"User not authorized to operate on the specified resource.",` +
		`"AccessDeniedDetail":{"PolicyType":"AccountLevelIdentityBasedPolicy","AuthPrincipalOwnerId":"1234567890123456",` +
		`"EncodedDiagnosticMessage":"` + token + `","AuthPrincipalType":"SubUser","AuthPrincipalDisplayName":"app",` +
		`"NoPermissionType":"ImplicitDeny","AuthAction":"kms:Decrypt"}}`
	cs := newCanned(t, 403, func(url.Values) string { return body })
	_, err := cs.client(t).Decrypt(context.Background(), &kmsclient.DecryptInput{CiphertextBlob: []byte("blob")})
	var ae *kmsclient.APIError
	require.ErrorAs(t, err, &ae)
	require.NotNil(t, ae.AccessDenied)
	assert.Equal(t, token, ae.AccessDenied.EncodedDiagnosticMessage)
	assert.Contains(t, err.Error(), "aliyun ram DecodeDiagnosticMessage --EncodedDiagnosticMessage "+token)
	assert.Contains(t, err.Error(), "ram:DecodeDiagnosticMessage")
	assert.ErrorIs(t, err, kmsclient.ErrAccessDenied)
}

// TestUndocumentedCiphertextCodes: the code for a corrupt blob or a wrong
// encryption context is not documented; every plausible one is read as
// ErrInvalidCiphertext.
func TestUndocumentedCiphertextCodes(t *testing.T) {
	for _, code := range []string{"InvalidCiphertext", "InvalidCiphertext.Corrupted", "Rejected.InvalidCiphertext",
		"InvalidCiphertextBlob", "InvalidCiphertextException", "InvalidParameter", "InvalidParameter.CiphertextBlob",
		"InvalidParameter.EncryptionContext"} {
		t.Run(code, func(t *testing.T) {
			cs := newCanned(t, 400, func(url.Values) string {
				return `{"RequestId":"r","Code":"` + code + `","Message":"The specified parameter is not valid."}`
			})
			c := cs.client(t)
			_, err := c.Decrypt(context.Background(), &kmsclient.DecryptInput{CiphertextBlob: []byte("blob")})
			assert.ErrorIs(t, err, kmsclient.ErrInvalidCiphertext, "Decrypt")
			_, err = c.ReEncrypt(context.Background(), &kmsclient.ReEncryptInput{CiphertextBlob: []byte("blob"), DestinationKeyID: "key-y"})
			assert.ErrorIs(t, err, kmsclient.ErrInvalidCiphertext, "ReEncrypt")
			if strings.HasPrefix(code, "InvalidParameter") {
				assert.ErrorIs(t, err, kmsclient.ErrInvalidParameter, "the wire code is still matched")
				_, err = c.Encrypt(context.Background(), &kmsclient.EncryptInput{KeyID: "key-x", Plaintext: []byte("p")})
				assert.ErrorIs(t, err, kmsclient.ErrInvalidParameter)
				assert.NotErrorIs(t, err, kmsclient.ErrInvalidCiphertext, "Encrypt sends no blob")
			}
		})
	}
}

// TestBinarySecretEncodings: the documented example returns a binary
// secret's SecretData as a plain string ("testdata1", not base64); the
// emulator returns base64. Both are accepted.
func TestBinarySecretEncodings(t *testing.T) {
	cases := []struct {
		name, data string
		want       []byte
		decoded    bool
	}{
		{"documented example, not base64", "testdata1", []byte("testdata1"), false},
		{"base64", base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 0xff}), []byte{0, 1, 2, 0xff}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCanned(t, 200, func(url.Values) string {
				return `{"RequestId":"r","SecretName":"secret001","VersionId":"00000000000000000000000000000000203","SecretDataType":"binary","SecretData":"` +
					tc.data + `","VersionStages":{"VersionStage":["ACSCurrent"]},"SecretType":"Generic"}`
			})
			v, err := cs.client(t).GetSecretValue(context.Background(), &kmsclient.GetSecretValueInput{SecretName: "secret001"})
			require.NoError(t, err)
			assert.True(t, v.Binary)
			assert.Equal(t, tc.decoded, v.BinaryDecoded)
			assert.True(t, v.Value.Equal(tc.want))
		})
	}
}

// TestReEncryptSendsSourceEncryptionContext: KMS's model says
// SourceEncryptionContext must be specified for a symmetric blob; an empty
// one is sent as {} instead of being dropped.
func TestReEncryptSendsSourceEncryptionContext(t *testing.T) {
	cs := newCanned(t, 200, func(url.Values) string {
		return `{"RequestId":"r","KeyId":"key-y","KeyVersionId":"v","CiphertextBlob":"AAAA"}`
	})
	c := cs.client(t)
	_, err := c.ReEncrypt(context.Background(), &kmsclient.ReEncryptInput{CiphertextBlob: []byte("blob"), DestinationKeyID: "key-y"})
	require.NoError(t, err)
	_, err = c.ReEncrypt(context.Background(), &kmsclient.ReEncryptInput{CiphertextBlob: []byte("blob"), DestinationKeyID: "key-y",
		SourceEncryptionContext: map[string]string{"a": "b"}})
	require.NoError(t, err)
	require.Len(t, cs.queries, 2)
	assert.Equal(t, "{}", cs.queries[0].Get("SourceEncryptionContext"))
	assert.Equal(t, `{"a":"b"}`, cs.queries[1].Get("SourceEncryptionContext"))
}

// TestEchoedSentValuesAreRedacted: a server message that quotes what the
// call sent (a short plaintext, a blob, in any encoding) does not carry it
// into the error, the logs or the observer, however short it is.
func TestEchoedSentValuesAreRedacted(t *testing.T) {
	plaintext := []byte("pw19deed") // 8 bytes: base64 cHcxOWRlZWQ=, under the generic 20-character rule
	b64 := base64.StdEncoding.EncodeToString(plaintext)
	require.Equal(t, "cHcxOWRlZWQ=", b64)
	blob := []byte{0xde, 0xad, 0xbe, 0xef, 0x01}
	forms := map[string]string{
		"base64":          b64,
		"base64 unpadded": strings.TrimRight(b64, "="),
		"url-safe":        base64.URLEncoding.EncodeToString(plaintext),
		"raw":             string(plaintext),
		"hex":             hex.EncodeToString(plaintext),
		"HEX":             strings.ToUpper(hex.EncodeToString(plaintext)),
		"quoted base64":   `"` + b64 + `"`,
		"cut short":       b64[:9],
	}
	for name, echo := range forms {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			var observed []string
			var mu sync.Mutex
			cs := newCanned(t, 400, func(url.Values) string {
				return fmt.Sprintf(`{"RequestId":"r","Code":"InvalidParameter","Message":%q,"Recommend":%q,"HostId":%q}`,
					"The Plaintext: "+echo+" is invalid for key key-3875f22e", "check "+echo, echo)
			})
			c := cs.client(t, func(cfg *kmsclient.Config) {
				cfg.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				cfg.Observer = func(ci kmsclient.CallInfo) {
					mu.Lock()
					defer mu.Unlock()
					observed = append(observed, ci.Err.Error(), ci.Code)
				}
				cfg.MaxAttempts = 2
			})
			_, err := c.Encrypt(context.Background(), &kmsclient.EncryptInput{KeyID: "key-3875f22e", Plaintext: plaintext})
			require.Error(t, err)
			var ae *kmsclient.APIError
			require.ErrorAs(t, err, &ae)
			texts := append([]string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", ae), ae.Message, ae.HostID, logs.String()}, observed...)
			for _, text := range texts {
				assert.NotContains(t, text, echo)
				assert.NotContains(t, text, string(plaintext))
				assert.NotContains(t, text, b64[:8])
			}
			assert.Contains(t, ae.Message, "key-3875f22e", "identifiers the call sent stay readable")
			assert.Contains(t, ae.Message, "[redacted]")
		})
	}
	t.Run("blob echoed by Decrypt", func(t *testing.T) {
		cs := newCanned(t, 400, func(url.Values) string {
			return `{"RequestId":"r","Code":"InvalidCiphertext","Message":"bad blob ` + base64.StdEncoding.EncodeToString(blob) +
				` / ` + hex.EncodeToString(blob) + `","AccessDeniedDetail":{"AuthAction":"kms:Decrypt","EncodedDiagnosticMessage":"` +
				base64.StdEncoding.EncodeToString(blob) + `"}}`
		})
		_, err := cs.client(t).Decrypt(context.Background(), &kmsclient.DecryptInput{CiphertextBlob: blob})
		require.Error(t, err)
		assert.ErrorIs(t, err, kmsclient.ErrInvalidCiphertext)
		var ae *kmsclient.APIError
		require.ErrorAs(t, err, &ae)
		for _, f := range []string{base64.StdEncoding.EncodeToString(blob), hex.EncodeToString(blob)} {
			assert.NotContains(t, err.Error(), f)
			assert.NotContains(t, ae.Message, f)
			assert.NotContains(t, ae.AccessDenied.EncodedDiagnosticMessage, f)
		}
	})
	t.Run("a quote in the error code", func(t *testing.T) {
		cs := newCanned(t, 400, func(url.Values) string { return `{"RequestId":"r","Code":"Bad.` + b64 + `"}` })
		_, err := cs.client(t).Encrypt(context.Background(), &kmsclient.EncryptInput{KeyID: "key-x", Plaintext: plaintext})
		require.Error(t, err)
		assert.NotContains(t, err.Error(), b64)
		assert.False(t, errors.Is(err, kmsclient.ErrAccessDenied))
	})
}
