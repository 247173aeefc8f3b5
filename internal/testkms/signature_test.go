package testkms_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

func TestSignatureVerification(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	secretPlaintext := base64.StdEncoding.EncodeToString([]byte("top secret plaintext"))

	tests := []struct {
		name      string
		cred      testkms.Credential
		mutate    func(*http.Request)
		call      func(*kms.Client) error
		status    int
		code      string
		recommend string // exact Recommend, when set
	}{
		{
			name: "valid",
			cred: f.root,
			call: func(c *kms.Client) error { _, err := c.DescribeKey(describeKeyReq(keyID)); return err },
		},
		{
			name: "tampered parameter",
			cred: f.root,
			mutate: func(r *http.Request) {
				q := r.URL.Query()
				q.Set("KeyId", "key-other")
				r.URL.RawQuery = q.Encode()
			},
			call:   func(c *kms.Client) error { _, err := c.DescribeKey(describeKeyReq(keyID)); return err },
			status: http.StatusBadRequest, code: "SignatureDoesNotMatch",
			recommend: "This may be a bug with the SDK",
		},
		{
			name: "added parameter",
			cred: f.root,
			mutate: func(r *http.Request) {
				r.URL.RawQuery += "&Extra=1"
			},
			call:   func(c *kms.Client) error { _, err := c.DescribeKey(describeKeyReq(keyID)); return err },
			status: http.StatusBadRequest, code: "SignatureDoesNotMatch",
		},
		{
			name: "wrong secret",
			cred: testkms.Credential{AccessKeyID: f.root.AccessKeyID, AccessKeySecret: "wrong"},
			call: func(c *kms.Client) error { _, err := c.DescribeKey(describeKeyReq(keyID)); return err },
			// The SDK compares the echoed string to sign with its own: equal
			// means the emulator canonicalised exactly like the SDK.
			status: http.StatusBadRequest, code: "SignatureDoesNotMatch",
			recommend: "InvalidAccessKeySecret: Please check you AccessKeySecret",
		},
		{
			name: "wrong secret does not echo plaintext",
			cred: testkms.Credential{AccessKeyID: f.root.AccessKeyID, AccessKeySecret: "wrong"},
			call: func(c *kms.Client) error {
				req := kms.CreateEncryptRequest()
				req.KeyId, req.Plaintext = keyID, secretPlaintext
				_, err := c.Encrypt(req)
				return err
			},
			status: http.StatusBadRequest, code: "SignatureDoesNotMatch",
		},
		{
			name:   "unknown access key",
			cred:   testkms.Credential{AccessKeyID: "LTAInobody", AccessKeySecret: "x"},
			call:   func(c *kms.Client) error { _, err := c.DescribeRegions(kms.CreateDescribeRegionsRequest()); return err },
			status: http.StatusNotFound, code: "InvalidAccessKeyId.NotFound",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &recordingTransport{base: sharedTransport, mutate: tt.mutate}
			err := tt.call(newClient(t, f.srv, tt.cred, withTransport(tr)))
			if tt.code == "" {
				require.NoError(t, err)
				return
			}
			se := requireAPIError(t, err, tt.status, tt.code)
			assert.NotContains(t, se.Message(), secretPlaintext)
			assert.NotContains(t, se.Message(), url.QueryEscape(secretPlaintext))
			if tt.code == "SignatureDoesNotMatch" {
				assert.Contains(t, se.Message(), "server string to sign is:POST&%2F&")
			}
			if tt.recommend != "" {
				assert.Contains(t, se.Recommend(), tt.recommend)
			}
		})
	}
}

func describeKeyReq(keyID string) *kms.DescribeKeyRequest {
	req := kms.CreateDescribeKeyRequest()
	req.KeyId = keyID
	return req
}

func TestTimestampSkew(t *testing.T) {
	var offset atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	tests := []struct {
		name    string
		maxSkew time.Duration
		offset  time.Duration
		wantErr bool
	}{
		{"in sync", 0, 0, false},
		{"server 10m ahead, default window", 0, 10 * time.Minute, false},
		{"server 20m ahead, default window", 0, 20 * time.Minute, true},
		{"server 20m behind, default window", 0, -20 * time.Minute, true},
		{"server 2m behind, 1m window", time.Minute, -2 * time.Minute, true},
		{"server 30s behind, 1m window", time.Minute, -30 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offset.Store(int64(tt.offset))
			f := newFixture(t, testkms.Options{Now: clock, MaxSkew: tt.maxSkew})
			_, err := f.client.DescribeRegions(kms.CreateDescribeRegionsRequest())
			if !tt.wantErr {
				require.NoError(t, err)
				return
			}
			se := requireAPIError(t, err, http.StatusBadRequest, "IllegalTimestamp")
			assert.Contains(t, se.Message(), "Timestamp")
		})
	}
}

func TestNonceReplay(t *testing.T) {
	f := newFixture(t)
	tr := &recordingTransport{base: sharedTransport}
	c := newClient(t, f.srv, f.root, withTransport(tr))
	_, err := c.DescribeRegions(kms.CreateDescribeRegionsRequest())
	require.NoError(t, err)

	method, rawURL := tr.last()
	replay := doRaw(t, f.srv, method, rawURL)
	assert.Equal(t, http.StatusBadRequest, replay.Status)
	assert.Equal(t, "SignatureNonceUsed", replay.code())

	// A fresh call (new nonce) still works, and both were counted.
	_, err = c.DescribeRegions(kms.CreateDescribeRegionsRequest())
	require.NoError(t, err)
	assert.Equal(t, 3, f.srv.Calls("DescribeRegions"))
}

func TestSTSCredentials(t *testing.T) {
	f := newFixture(t)
	role := f.srv.AssumeRole(f.srv.DefaultAccount(), "app-role", "session-1")
	require.NotEmpty(t, role.SecurityToken)
	require.Equal(t, "acs:ram::"+f.srv.DefaultAccount()+":assumed-role/app-role/session-1", role.Principal)

	tests := []struct {
		name     string
		provider credentials.CredentialsProvider
		code     string
	}{
		{"token ok", credentials.NewStaticSTSCredentialsProvider(role.AccessKeyID, role.AccessKeySecret, role.SecurityToken), ""},
		{"token missing", credentials.NewStaticAKCredentialsProvider(role.AccessKeyID, role.AccessKeySecret), "InvalidSecurityToken.Missing"},
		{"token wrong", credentials.NewStaticSTSCredentialsProvider(role.AccessKeyID, role.AccessKeySecret, role.SecurityToken+"x"), "InvalidSecurityToken.MismatchWithAccessKey"},
		{"token on long-term key", credentials.NewStaticSTSCredentialsProvider(f.root.AccessKeyID, f.root.AccessKeySecret, "CAISxyz"), "InvalidSecurityToken.MismatchWithAccessKey"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, f.srv, role, withProvider(tt.provider))
			_, err := c.DescribeRegions(kms.CreateDescribeRegionsRequest())
			if tt.code == "" {
				require.NoError(t, err)
				return
			}
			se := requireAPIError(t, err, http.StatusBadRequest, tt.code)
			assert.NotContains(t, se.Message(), role.SecurityToken)
		})
	}
}

func TestExpiredCredential(t *testing.T) {
	f := newFixture(t)
	role := f.srv.AssumeRole(f.srv.DefaultAccount(), "r", "s")
	user := f.srv.AddUser(f.srv.DefaultAccount(), "alice")
	require.True(t, f.srv.ExpireCredential(role.AccessKeyID))
	require.True(t, f.srv.ExpireCredential(user.AccessKeyID))
	require.False(t, f.srv.ExpireCredential("LTAInope"))

	_, err := newClient(t, f.srv, role).DescribeRegions(kms.CreateDescribeRegionsRequest())
	requireAPIError(t, err, http.StatusBadRequest, "InvalidSecurityToken.Expired")
	// A disabled access key: 403 Forbidden.AccessKey, as documented in
	// https://www.alibabacloud.com/help/doc-detail/69008.html (not 400
	// InvalidAccessKeyId.Inactive), with no AccessDeniedDetail: it is not a
	// missing permission.
	_, err = newClient(t, f.srv, user).DescribeRegions(kms.CreateDescribeRegionsRequest())
	se := requireAPIError(t, err, http.StatusForbidden, "Forbidden.AccessKey")
	assert.Equal(t, "This AccessKey is not enabled.", se.Message())
	assert.Empty(t, se.AccessDeniedDetail())
}

func TestRawRequestChecks(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	tests := []struct {
		name   string
		method string
		edit   func(map[string]string)
		sign   bool
		status int
		code   string
	}{
		{name: "valid POST", method: "POST", sign: true, status: 200},
		{name: "valid GET", method: "GET", sign: true, status: 200},
		{name: "unsigned", method: "POST", status: 400, code: "IncompleteSignature"},
		{name: "no AccessKeyId", method: "POST", sign: true, edit: func(p map[string]string) { delete(p, "AccessKeyId") }, status: 400, code: "IncompleteSignature"},
		{name: "no Timestamp", method: "POST", sign: true, edit: func(p map[string]string) { delete(p, "Timestamp") }, status: 400, code: "MissingParameter"},
		{name: "no SignatureNonce", method: "POST", sign: true, edit: func(p map[string]string) { delete(p, "SignatureNonce") }, status: 400, code: "MissingParameter"},
		{name: "no Version", method: "POST", sign: true, edit: func(p map[string]string) { delete(p, "Version") }, status: 400, code: "MissingParameter"},
		{name: "no Action", method: "POST", sign: true, edit: func(p map[string]string) { delete(p, "Action") }, status: 400, code: "MissingParameter"},
		{name: "HMAC-SHA256", method: "POST", sign: true, edit: func(p map[string]string) { p["SignatureMethod"] = "HMAC-SHA256" }, status: 400, code: "InvalidParameter"},
		{name: "SignatureVersion 2.0", method: "POST", sign: true, edit: func(p map[string]string) { p["SignatureVersion"] = "2.0" }, status: 400, code: "InvalidParameter"},
		{name: "XML format", method: "POST", sign: true, edit: func(p map[string]string) { p["Format"] = "XML" }, status: 400, code: "InvalidParameter"},
		{name: "bearer token", method: "POST", sign: true, edit: func(p map[string]string) { p["SignatureType"] = "BEARERTOKEN" }, status: 400, code: "InvalidParameter"},
		{name: "garbage timestamp", method: "POST", sign: true, edit: func(p map[string]string) { p["Timestamp"] = "yesterday" }, status: 400, code: "IllegalTimestamp"},
		{name: "unknown version", method: "POST", sign: true, edit: func(p map[string]string) { p["Version"] = "2014-01-01" }, status: 400, code: "InvalidVersion"},
		{name: "KMS action with STS version", method: "POST", sign: true, edit: func(p map[string]string) { p["Version"] = "2015-04-01" }, status: 400, code: "InvalidAction.NotFound"},
		{name: "KMS action with RAM version", method: "POST", sign: true, edit: func(p map[string]string) { p["Version"] = "2015-05-01" }, status: 400, code: "InvalidAction.NotFound"},
		{name: "unknown action", method: "POST", sign: true, edit: func(p map[string]string) { p["Action"] = "LaunchMissiles" }, status: 400, code: "InvalidAction.NotFound"},
		{name: "bad region", method: "POST", sign: true, edit: func(p map[string]string) { p["RegionId"] = "Not A Region" }, status: 400, code: "InvalidParameter"},
		{name: "PUT", method: "PUT", sign: true, status: 400, code: "UnsupportedHTTPMethod"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := baseParams(f.root, "DescribeRegions", now)
			if tt.edit != nil {
				tt.edit(p)
			}
			resp := sendRaw(t, f.srv, tt.method, f.root.AccessKeySecret, p, tt.sign)
			assert.Equal(t, tt.status, resp.Status, "body: %s", resp.Raw)
			assert.Equal(t, tt.code, resp.code(), "body: %s", resp.Raw)
			requireStringField(t, resp, "RequestId")
			if tt.code != "" {
				for _, k := range []string{"HostId", "Code", "Message", "Recommend"} {
					requireStringField(t, resp, k)
				}
			}
		})
	}
}

func requireStringField(t *testing.T, r rawResponse, name string) {
	t.Helper()
	v, ok := r.Body[name].(string)
	require.Truef(t, ok, "%s is not a string in %s", name, r.Raw)
	require.NotEmpty(t, v)
}

func TestFormBodyParameters(t *testing.T) {
	f := newFixture(t)
	p := baseParams(f.root, "DescribeRegions", time.Now())
	form := url.Values{}
	for k, v := range p {
		form.Set(k, v)
	}
	form.Set("Signature", signParams("POST", f.root.AccessKeySecret, p))
	resp, err := sharedTransport.RoundTrip(mustRequest(t, "POST", f.srv.URL()+"/", form.Encode()))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	assert.Equal(t, "application/json;charset=utf-8", resp.Header.Get("Content-Type"))
}

func mustRequest(t *testing.T, method, rawURL, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

func TestRequestLog(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	f := newFixture(t, testkms.Options{Logf: func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(format, args...))
	}})
	keyID := f.createKey(t)
	const pt = "bG9nLW1lLW5vdA=="
	_, err := f.client.Encrypt(encryptReq(keyID, pt, `{"secret-ctx":"v"}`))
	require.NoError(t, err)
	_, err = f.client.Encrypt(encryptReq("key-missing", pt, ""))
	require.Error(t, err)
	require.NoError(t, f.srv.Close())

	mu.Lock()
	defer mu.Unlock()
	require.Len(t, lines, 3)
	assert.Contains(t, lines[1], "Encrypt")
	assert.Contains(t, lines[1], f.root.Principal)
	assert.Contains(t, lines[2], "Forbidden.KeyNotFound")
	for _, l := range lines {
		assert.NotContains(t, l, pt)
		assert.NotContains(t, l, "secret-ctx")
		assert.NotContains(t, l, f.root.AccessKeySecret)
	}
}
