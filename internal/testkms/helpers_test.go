package testkms_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	stderrors "errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

// sharedTransport is the pooled transport behind every test client. It
// ignores proxy environment variables.
var sharedTransport = &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64}

// recordingTransport is a RoundTripper that is not an *http.Transport, so the
// SDK neither mutates it nor forces HTTP_PROXY onto it. It can rewrite
// requests before they leave (to tamper with signed ones) and remembers the
// last request sent.
type recordingTransport struct {
	base   http.RoundTripper
	mutate func(*http.Request)

	mu      sync.Mutex
	lastURL string
	lastMth string
}

func (t *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if t.mutate != nil {
		r = r.Clone(r.Context())
		t.mutate(r)
	}
	t.mu.Lock()
	t.lastURL, t.lastMth = r.URL.String(), r.Method
	t.mu.Unlock()
	return t.base.RoundTrip(r)
}

func (t *recordingTransport) last() (method, rawURL string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lastMth, t.lastURL
}

type clientOpt func(*clientConfig)

type clientConfig struct {
	region    string
	transport *recordingTransport
	provider  credentials.CredentialsProvider
}

func inRegion(r string) clientOpt { return func(c *clientConfig) { c.region = r } }

func withTransport(t *recordingTransport) clientOpt {
	return func(c *clientConfig) { c.transport = t }
}

func withProvider(p credentials.CredentialsProvider) clientOpt {
	return func(c *clientConfig) { c.provider = p }
}

// newClient returns a real SDK client for srv that signs with cred.
func newClient(t testing.TB, srv *testkms.Server, cred testkms.Credential, opts ...clientOpt) *kms.Client {
	t.Helper()
	cc := clientConfig{region: srv.Region()}
	for _, o := range opts {
		o(&cc)
	}
	if cc.transport == nil {
		cc.transport = &recordingTransport{base: sharedTransport}
	}
	if cc.provider == nil {
		if cred.SecurityToken != "" {
			cc.provider = credentials.NewStaticSTSCredentialsProvider(cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken)
		} else {
			cc.provider = credentials.NewStaticAKCredentialsProvider(cred.AccessKeyID, cred.AccessKeySecret)
		}
	}
	cfg := sdk.NewConfig().WithAutoRetry(false).WithScheme(srv.Scheme()).WithTimeout(10 * time.Second)
	cfg.Transport = cc.transport
	c, err := kms.NewClientWithOptions(cc.region, cfg, cc.provider)
	require.NoError(t, err)
	c.Domain = srv.Endpoint()
	c.SetNoProxy("127.0.0.1")
	return c
}

// fixture is a server with a root credential and client for the default
// account.
type fixture struct {
	srv    *testkms.Server
	root   testkms.Credential
	client *kms.Client
}

func newFixture(t testing.TB, opts ...testkms.Options) *fixture {
	t.Helper()
	srv := testkms.Start(t, opts...)
	root := srv.AddAccount(srv.DefaultAccount())
	return &fixture{srv: srv, root: root, client: newClient(t, srv, root)}
}

// createKey creates a key in the default account over the API.
func (f *fixture) createKey(t testing.TB) string {
	t.Helper()
	resp, err := f.client.CreateKey(kms.CreateCreateKeyRequest())
	require.NoError(t, err)
	require.NotEmpty(t, resp.KeyMetadata.KeyId)
	return resp.KeyMetadata.KeyId
}

// serverError extracts the SDK's *errors.ServerError from err.
func serverError(t testing.TB, err error) *sdkerrors.ServerError {
	t.Helper()
	require.Error(t, err)
	var se *sdkerrors.ServerError
	require.Truef(t, stderrors.As(err, &se), "want *errors.ServerError, got %T: %v", err, err)
	return se
}

// requireAPIError asserts that err is a server error with status and code.
func requireAPIError(t testing.TB, err error, status int, code string) *sdkerrors.ServerError {
	t.Helper()
	se := serverError(t, err)
	require.Equalf(t, code, se.ErrorCode(), "message: %s", se.Message())
	require.Equal(t, status, se.HttpStatus())
	require.NotEmpty(t, se.RequestId())
	require.Contains(t, se.HostId(), ".aliyuncs.com")
	return se
}

// Raw requests, signed by an independent minimal implementation of the RPC
// signature (not the emulator's), for cases the SDK cannot produce.

func pe(s string) string {
	s = url.QueryEscape(s)
	s = strings.ReplaceAll(s, "+", "%20")
	s = strings.ReplaceAll(s, "*", "%2A")
	return strings.ReplaceAll(s, "%7E", "~")
}

func signParams(method, secret string, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, pe(k)+"="+pe(params[k]))
	}
	sts := method + "&%2F&" + pe(strings.Join(pairs, "&"))
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// baseParams returns the common parameters of a KMS request.
func baseParams(cred testkms.Credential, action string, now time.Time) map[string]string {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	p := map[string]string{
		"Action":           action,
		"Version":          "2016-01-20",
		"Format":           "JSON",
		"Timestamp":        now.UTC().Format("2006-01-02T15:04:05Z"),
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureVersion": "1.0",
		"SignatureType":    "",
		"SignatureNonce":   hex.EncodeToString(nonce[:]),
		"AccessKeyId":      cred.AccessKeyID,
		"RegionId":         "cn-hangzhou",
	}
	if cred.SecurityToken != "" {
		p["SecurityToken"] = cred.SecurityToken
	}
	return p
}

// rawResponse is a decoded answer of the emulator.
type rawResponse struct {
	Status int
	Body   map[string]any
	Raw    []byte
}

// sendRaw signs params with secret (unless sign is false) and POSTs them in
// the query string.
func sendRaw(t testing.TB, srv *testkms.Server, method, secret string, params map[string]string, sign bool) rawResponse {
	t.Helper()
	q := url.Values{}
	for k, v := range params {
		q.Set(k, v)
	}
	if sign {
		q.Set("Signature", signParams(method, secret, params))
	}
	return doRaw(t, srv, method, srv.URL()+"/?"+q.Encode())
}

func doRaw(t testing.TB, srv *testkms.Server, method, rawURL string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
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
	if err := json.Unmarshal(raw, &out.Body); err != nil {
		t.Fatalf("answer is not JSON: %q", raw)
	}
	return out
}

// code returns the Code of a raw error answer.
func (r rawResponse) code() string {
	s, _ := r.Body["Code"].(string)
	return s
}
