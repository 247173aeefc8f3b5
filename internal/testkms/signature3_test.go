package testkms_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

// An independent, minimal signer of signature V3 (ACS3-HMAC-SHA256), written
// from Alibaba's "Request syntax and signature method V3" page, not from the
// emulator's code, for requests the SDKs cannot produce. The interop module
// (interop/) proves the emulator against Alibaba's own V3 clients.

// v3Request is a request before signing.
type v3Request struct {
	method  string
	query   url.Values
	form    url.Values // sent as an application/x-www-form-urlencoded body when set
	headers map[string]string
	// signed lists the headers to sign; nil signs host, content-type and
	// every x-acs-* header, as the SDKs do.
	signed []string
}

func newV3(cred testkms.Credential, action string, now time.Time) *v3Request {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	h := map[string]string{
		"x-acs-action":          action,
		"x-acs-version":         "2016-01-20",
		"x-acs-date":            now.UTC().Format("2006-01-02T15:04:05Z"),
		"x-acs-signature-nonce": hex.EncodeToString(nonce[:]),
	}
	if cred.SecurityToken != "" {
		h["x-acs-security-token"] = cred.SecurityToken
	}
	return &v3Request{method: http.MethodPost, query: url.Values{}, headers: h}
}

// build signs the request with accessKeyID and secret and returns it.
func (v *v3Request) build(t testing.TB, srv *testkms.Server, accessKeyID, secret string) *http.Request {
	t.Helper()
	var body []byte
	if v.form != nil {
		body = []byte(v.form.Encode())
		v.headers["content-type"] = "application/x-www-form-urlencoded"
	}
	sum := sha256.Sum256(body)
	if _, ok := v.headers["x-acs-content-sha256"]; !ok {
		v.headers["x-acs-content-sha256"] = hex.EncodeToString(sum[:])
	}
	host := srv.Endpoint()
	all := map[string]string{"host": host}
	for k, val := range v.headers {
		all[strings.ToLower(k)] = val
	}
	signed := v.signed
	if signed == nil {
		for k := range all {
			if k == "host" || k == "content-type" || strings.HasPrefix(k, "x-acs-") {
				signed = append(signed, k)
			}
		}
	}
	sort.Strings(signed)

	keys := make([]string, 0, len(v.query))
	for k := range v.query {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var cq []string
	for _, k := range keys {
		cq = append(cq, pe(k)+"="+pe(v.query.Get(k)))
	}
	var ch strings.Builder
	for _, h := range signed {
		ch.WriteString(h + ":" + strings.TrimSpace(all[h]) + "\n")
	}
	canonical := strings.Join([]string{v.method, "/", strings.Join(cq, "&"), ch.String(),
		strings.Join(signed, ";"), hex.EncodeToString(sum[:])}, "\n")
	hc := sha256.Sum256([]byte(canonical))
	sts := "ACS3-HMAC-SHA256\n" + hex.EncodeToString(hc[:])
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(sts))
	auth := "ACS3-HMAC-SHA256 Credential=" + accessKeyID + ",SignedHeaders=" + strings.Join(signed, ";") +
		",Signature=" + hex.EncodeToString(mac.Sum(nil))

	u := srv.URL() + "/"
	if len(v.query) > 0 {
		u += "?" + v.query.Encode()
	}
	req, err := http.NewRequest(v.method, u, bytes.NewReader(body))
	require.NoError(t, err)
	for k, val := range v.headers {
		req.Header.Set(k, val)
	}
	req.Header.Set("Authorization", auth)
	return req
}

// sendV3 sends req and decodes the JSON answer.
func sendV3(t testing.TB, srv *testkms.Server, req *http.Request) rawResponse {
	t.Helper()
	hc := &http.Client{Transport: sharedTransport, Timeout: 10 * time.Second}
	if srv.Scheme() == "HTTPS" {
		hc.Transport = &http.Transport{TLSClientConfig: srv.ClientTLSConfig()}
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := rawResponse{Status: resp.StatusCode, Raw: raw}
	require.NoErrorf(t, json.Unmarshal(raw, &out.Body), "answer is not JSON: %q", raw)
	return out
}

func TestSignatureV3(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	role := f.srv.AssumeRole(f.srv.DefaultAccount(), "app-role", "s1")
	disabled := f.srv.AddUser(f.srv.DefaultAccount(), "gone")
	require.True(t, f.srv.ExpireCredential(disabled.AccessKeyID))
	plaintext := base64.StdEncoding.EncodeToString([]byte("v3 plaintext must not echo"))
	now := time.Now()

	describe := func(cred testkms.Credential) *v3Request {
		v := newV3(cred, "DescribeKey", now)
		v.query.Set("KeyId", keyID)
		return v
	}
	tests := []struct {
		name   string
		cred   testkms.Credential
		req    func() *v3Request
		secret string                // signing secret, the credential's when empty
		after  func(r *http.Request) // changes after signing
		check  func(t *testing.T, r rawResponse)
		status int
		code   string
	}{
		{
			name: "query parameters", cred: f.root, req: func() *v3Request { return describe(f.root) },
			check: func(t *testing.T, r rawResponse) {
				meta, _ := r.Body["KeyMetadata"].(map[string]any)
				assert.Equal(t, keyID, meta["KeyId"])
			},
		},
		{
			name: "form body parameters", cred: f.root,
			req: func() *v3Request {
				v := newV3(f.root, "GenerateDataKey", now)
				v.form = url.Values{"KeyId": {keyID}, "EncryptionContext": {`{"k":"v"}`}}
				return v
			},
			check: func(t *testing.T, r rawResponse) { assert.NotEmpty(t, r.Body["Plaintext"]) },
		},
		{
			name: "GET", cred: f.root,
			req: func() *v3Request { v := describe(f.root); v.method = http.MethodGet; return v },
		},
		{
			name: "STS credential with its token", cred: role,
			req: func() *v3Request { return describe(role) },
		},
		{
			name: "wrong secret", cred: f.root, secret: "not-the-secret",
			req:    func() *v3Request { return describe(f.root) },
			status: http.StatusBadRequest, code: "SignatureDoesNotMatch",
		},
		{
			name: "wrong secret with a plaintext is not echoed", cred: f.root, secret: "not-the-secret",
			req: func() *v3Request {
				v := newV3(f.root, "Encrypt", now)
				v.query.Set("KeyId", keyID)
				v.query.Set("Plaintext", plaintext)
				return v
			},
			status: http.StatusBadRequest, code: "SignatureDoesNotMatch",
			check: func(t *testing.T, r rawResponse) {
				assert.NotContains(t, string(r.Raw), plaintext)
				assert.Contains(t, r.Body["Message"], "ACS3-HMAC-SHA256\n")
			},
		},
		{
			name: "query changed after signing", cred: f.root, req: func() *v3Request { return describe(f.root) },
			after:  func(r *http.Request) { r.URL.RawQuery = "KeyId=key-other" },
			status: http.StatusBadRequest, code: "SignatureDoesNotMatch",
		},
		{
			name: "signed header changed after signing", cred: f.root, req: func() *v3Request { return describe(f.root) },
			after:  func(r *http.Request) { r.Header.Set("x-acs-action", "DescribeSecret") },
			status: http.StatusBadRequest, code: "SignatureDoesNotMatch",
		},
		{
			name: "body changed after signing", cred: f.root,
			req: func() *v3Request {
				v := newV3(f.root, "DescribeKey", now)
				v.form = url.Values{"KeyId": {keyID}}
				return v
			},
			after: func(r *http.Request) {
				body := []byte(url.Values{"KeyId": {"key-other"}}.Encode())
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			},
			status: http.StatusBadRequest, code: "SignatureDoesNotMatch",
		},
		{
			name: "body and its hash changed after signing", cred: f.root,
			req: func() *v3Request {
				v := newV3(f.root, "DescribeKey", now)
				v.form = url.Values{"KeyId": {keyID}}
				return v
			},
			after: func(r *http.Request) {
				body := []byte(url.Values{"KeyId": {"key-other"}}.Encode())
				sum := sha256.Sum256(body)
				r.Header.Set("x-acs-content-sha256", hex.EncodeToString(sum[:]))
				r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
			},
			status: http.StatusBadRequest, code: "SignatureDoesNotMatch",
		},
		{
			name: "unsigned x-acs header", cred: f.root, req: func() *v3Request { return describe(f.root) },
			after:  func(r *http.Request) { r.Header.Set("x-acs-security-token", role.SecurityToken) },
			status: http.StatusBadRequest, code: "IncompleteSignature",
		},
		{
			name: "content-type of a body not signed", cred: f.root,
			req: func() *v3Request {
				v := newV3(f.root, "DescribeKey", now)
				v.form = url.Values{"KeyId": {keyID}}
				v.signed = []string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce", "x-acs-version"}
				return v
			},
			status: http.StatusBadRequest, code: "IncompleteSignature",
		},
		{
			name: "required header not signed", cred: f.root,
			req: func() *v3Request {
				v := describe(f.root)
				v.signed = []string{"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-version"}
				return v
			},
			status: http.StatusBadRequest, code: "IncompleteSignature",
		},
		{
			name: "missing date", cred: f.root,
			req:    func() *v3Request { v := describe(f.root); delete(v.headers, "x-acs-date"); return v },
			status: http.StatusBadRequest, code: "IncompleteSignature",
		},
		{
			name: "another algorithm", cred: f.root, req: func() *v3Request { return describe(f.root) },
			after: func(r *http.Request) {
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "ACS3-HMAC-SHA256", "ACS3-HMAC-SM3", 1))
			},
			status: http.StatusBadRequest, code: "IncompleteSignature",
		},
		{
			name: "malformed authorization", cred: f.root, req: func() *v3Request { return describe(f.root) },
			after:  func(r *http.Request) { r.Header.Set("Authorization", "ACS3-HMAC-SHA256 Credential") },
			status: http.StatusBadRequest, code: "IncompleteSignature",
		},
		{
			name: "unknown access key", cred: testkms.Credential{AccessKeyID: "LTAInobody", AccessKeySecret: "x"},
			req:    func() *v3Request { return describe(f.root) },
			status: http.StatusNotFound, code: "InvalidAccessKeyId.NotFound",
		},
		{
			name: "stale date", cred: f.root,
			req: func() *v3Request {
				v := describe(f.root)
				v.headers["x-acs-date"] = now.Add(-20 * time.Minute).UTC().Format("2006-01-02T15:04:05Z")
				return v
			},
			status: http.StatusBadRequest, code: "IllegalTimestamp",
		},
		{
			name: "date not ISO 8601", cred: f.root,
			req: func() *v3Request {
				v := describe(f.root)
				v.headers["x-acs-date"] = now.UTC().Format(http.TimeFormat)
				return v
			},
			status: http.StatusBadRequest, code: "IllegalTimestamp",
		},
		{
			name: "STS credential without its token", cred: role,
			req: func() *v3Request {
				v := describe(role)
				delete(v.headers, "x-acs-security-token")
				return v
			},
			status: http.StatusBadRequest, code: "InvalidSecurityToken.Missing",
		},
		{
			name: "STS credential with another token", cred: role,
			req: func() *v3Request {
				v := describe(role)
				v.headers["x-acs-security-token"] = "CAISforged"
				return v
			},
			status: http.StatusBadRequest, code: "InvalidSecurityToken.MismatchWithAccessKey",
		},
		{
			name: "access key id header disagrees", cred: f.root,
			req: func() *v3Request {
				v := describe(f.root)
				v.headers["x-acs-accesskey-id"] = "LTAIother"
				return v
			},
			status: http.StatusBadRequest, code: "IncompleteSignature",
		},
		{
			name: "disabled access key", cred: disabled, req: func() *v3Request { return describe(disabled) },
			status: http.StatusForbidden, code: "Forbidden.AccessKey",
		},
		{
			name: "unknown version", cred: f.root,
			req:    func() *v3Request { v := describe(f.root); v.headers["x-acs-version"] = "2099-01-01"; return v },
			status: http.StatusBadRequest, code: "InvalidVersion",
		},
		{
			name: "unknown action", cred: f.root,
			req:    func() *v3Request { v := describe(f.root); v.headers["x-acs-action"] = "NoSuchAction"; return v },
			status: http.StatusBadRequest, code: "InvalidAction.NotFound",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := tt.secret
			if secret == "" {
				secret = tt.cred.AccessKeySecret
			}
			req := tt.req().build(t, f.srv, tt.cred.AccessKeyID, secret)
			if tt.after != nil {
				tt.after(req)
			}
			r := sendV3(t, f.srv, req)
			want := tt.status
			if want == 0 {
				want = http.StatusOK
			}
			require.Equalf(t, want, r.Status, "answer: %s", r.Raw)
			assert.Equal(t, tt.code, r.code())
			assert.NotEmpty(t, r.Body["RequestId"])
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestSignatureV3ReplayedNonce(t *testing.T) {
	f := newFixture(t)
	keyID := f.createKey(t)
	v := newV3(f.root, "DescribeKey", time.Now())
	v.query.Set("KeyId", keyID)
	first := v.build(t, f.srv, f.root.AccessKeyID, f.root.AccessKeySecret)
	again := first.Clone(first.Context())
	again.Body = http.NoBody

	r := sendV3(t, f.srv, first)
	require.Equalf(t, http.StatusOK, r.Status, "answer: %s", r.Raw)
	r = sendV3(t, f.srv, again)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Equal(t, "SignatureNonceUsed", r.code())
}

func TestSignatureV3SharesNonceCacheWithV1(t *testing.T) {
	// One nonce is one request, whatever the signature that carried it.
	f := newFixture(t)
	keyID := f.createKey(t)
	now := time.Now()
	v := newV3(f.root, "DescribeKey", now)
	v.query.Set("KeyId", keyID)
	r := sendV3(t, f.srv, v.build(t, f.srv, f.root.AccessKeyID, f.root.AccessKeySecret))
	require.Equalf(t, http.StatusOK, r.Status, "answer: %s", r.Raw)

	p := baseParams(f.root, "DescribeKey", now)
	p["KeyId"] = keyID
	p["SignatureNonce"] = v.headers["x-acs-signature-nonce"]
	r = sendRaw(t, f.srv, http.MethodPost, f.root.AccessKeySecret, p, true)
	assert.Equal(t, "SignatureNonceUsed", r.code())
}

func TestSignatureV3RequestLogNamesTheSignature(t *testing.T) {
	var got []testkms.RequestRecord
	f := newFixture(t, testkms.Options{RequestLog: func(r testkms.RequestRecord) { got = append(got, r) }})
	keyID := f.createKey(t)
	v := newV3(f.root, "DescribeKey", time.Now())
	v.query.Set("KeyId", keyID)
	r := sendV3(t, f.srv, v.build(t, f.srv, f.root.AccessKeyID, f.root.AccessKeySecret))
	require.Equal(t, http.StatusOK, r.Status)
	v = newV3(f.root, "DescribeKey", time.Now())
	r = sendV3(t, f.srv, v.build(t, f.srv, f.root.AccessKeyID, "wrong"))
	require.Equal(t, http.StatusBadRequest, r.Status)
	require.NoError(t, f.srv.Close())

	require.Len(t, got, 3) // CreateKey (v1, through the SDK), then the two V3 calls
	assert.Equal(t, "1.0", got[0].Signature)
	assert.Equal(t, testkms.RequestRecord{
		Method: "POST", Action: "DescribeKey", Version: "2016-01-20", Signature: "ACS3-HMAC-SHA256",
		Principal: f.root.Principal, Status: 200, Decision: testkms.DecisionAllowed,
	}, withoutDuration(got[1]))
	assert.Equal(t, testkms.DecisionUnauthenticated, got[2].Decision)
	assert.Equal(t, "SignatureDoesNotMatch", got[2].Code)
	assert.Empty(t, got[2].Principal)
}

func withoutDuration(r testkms.RequestRecord) testkms.RequestRecord {
	r.Duration = 0
	return r
}

// FuzzSignatureV3Query: a request whose query holds any parameter name and
// value, signed by the independent signer above, always passes the
// signature check: the emulator's canonical query string and the
// documented one agree on every input.
func FuzzSignatureV3Query(f *testing.F) {
	srv, err := testkms.New(testkms.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close() })
	root := srv.AddAccount(srv.DefaultAccount())
	f.Add("KeyId", "key-1")
	f.Add("a b", "*~+/%20")
	f.Add("", "")
	f.Add("Ünïcødé", "\x00\xff;&=")
	f.Fuzz(func(t *testing.T, name, value string) {
		v := newV3(root, "DescribeRegions", time.Now())
		v.query.Set(name, value)
		req := v.build(t, srv, root.AccessKeyID, root.AccessKeySecret)
		r := sendV3(t, srv, req)
		if code := r.code(); code == "SignatureDoesNotMatch" || code == "IncompleteSignature" {
			t.Fatalf("query %q=%q: %s", name, value, r.Raw)
		}
	})
}
