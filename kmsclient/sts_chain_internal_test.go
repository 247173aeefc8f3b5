package kmsclient

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// credentials-go always calls STS over HTTPS with the system roots and no
// way to add one. These tests therefore run in a child process started
// with SSL_CERT_FILE naming a CA made here, and serve a fake STS with that
// CA's certificate on loopback.

const tlsDirEnv = "KMSCLIENT_TEST_TLS_DIR"

// stsChildEnv makes a self-signed certificate for 127.0.0.1 and returns
// the environment a child needs to trust it and to serve with it.
func stsChildEnv(t *testing.T) []string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kmsclient test STS"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "cert.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, filepath.Join(dir, "key.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})))
	return []string{"SSL_CERT_FILE=" + filepath.Join(dir, "cert.pem"), "SSL_CERT_DIR=" + dir, tlsDirEnv + "=" + dir}
}

// fakeSTS is an STS endpoint that answers AssumeRole and
// AssumeRoleWithOIDC, recording each request's merged query and form.
type fakeSTS struct {
	*httptest.Server
	mu       sync.Mutex
	requests []url.Values
}

func newFakeSTS(t *testing.T) *fakeSTS {
	t.Helper()
	dir := os.Getenv(tlsDirEnv)
	require.NotEmpty(t, dir, "runs in a child started with stsChildEnv")
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	require.NoError(t, err)
	f := &fakeSTS{}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.requests = append(f.requests, r.Form)
		f.mu.Unlock()
		action := r.Form.Get("Action")
		if action != "AssumeRole" && action != "AssumeRoleWithOIDC" || r.Form.Get("RoleArn") == "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"Code":"InvalidParameter","Message":"bad request"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"RequestId": "sts-1",
			"AssumedRoleUser": map[string]string{
				"Arn": r.Form.Get("RoleArn") + "/" + r.Form.Get("RoleSessionName"), "AssumedRoleId": "3000:" + r.Form.Get("RoleSessionName"),
			},
			"Credentials": map[string]string{
				"AccessKeyId": "STS." + action, "AccessKeySecret": "sts-secret", "SecurityToken": "sts-token-" + action,
				"Expiration": expiration(time.Hour),
			},
		})
	}))
	f.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	f.StartTLS()
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSTS) host() string { return strings.TrimPrefix(f.URL, "https://") }

func (f *fakeSTS) got() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.requests...)
}

// TestChainOIDCRecovers: RRSA on ACK. The pod starts before its OIDC token
// file is mounted: the first call fails, naming the OIDC source, without
// falling back to the node's instance role; once the file is there the
// next call assumes the role with the token, through the configured STS
// endpoint.
func TestChainOIDCRecovers(t *testing.T) {
	if !inSubprocess(t) {
		runInSubprocess(t, stsChildEnv(t)...)
		return
	}
	hermeticCredEnv(t)
	sts := newFakeSTS(t)
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "")
	imds := newFakeIMDS(t, "node-role")
	tokenFile := filepath.Join(t.TempDir(), "token")
	t.Setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "acs:ram::1234567890123456:oidc-provider/ack-rrsa")
	t.Setenv("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1234567890123456:role/app")
	t.Setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", tokenFile)
	t.Setenv("ALIBABA_CLOUD_ROLE_SESSION_NAME", "pod-1")

	p := newChain(ChainOptions{STSEndpoint: sts.host()}, imds.hooks())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := p.Retrieve(ctx)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "OIDC")
	assert.Zero(t, imds.count(), "no fallback to the node's instance role")
	assert.Empty(t, sts.got())

	writeFile(t, tokenFile, "eyJhbGciOiJSUzI1NiJ9.oidc-token-body.sig")
	c, err := p.Retrieve(ctx)
	require.NoError(t, err, "the next call walks the chain again")
	assert.Equal(t, "STS.AssumeRoleWithOIDC", c.AccessKeyID)
	assert.Equal(t, "sts-token-AssumeRoleWithOIDC", c.SecurityToken)
	reqs := sts.got()
	require.Len(t, reqs, 1)
	assert.Equal(t, "eyJhbGciOiJSUzI1NiJ9.oidc-token-body.sig", reqs[0].Get("OIDCToken"))
	assert.Equal(t, "acs:ram::1234567890123456:oidc-provider/ack-rrsa", reqs[0].Get("OIDCProviderArn"))
	assert.Equal(t, "pod-1", reqs[0].Get("RoleSessionName"))

	again, err := p.Retrieve(ctx)
	require.NoError(t, err)
	assert.Equal(t, c, again)
	assert.Len(t, sts.got(), 1, "the session is cached until shortly before it expires")
	assert.Zero(t, imds.count())
}

// TestAssumeRoleCredentialsEndpoint: role assumption goes to the
// configured STS endpoint (the SDK's provider always dialled
// sts.aliyuncs.com), signed with the base credentials, and the assumed
// credentials sign KMS calls.
func TestAssumeRoleCredentialsEndpoint(t *testing.T) {
	if !inSubprocess(t) {
		runInSubprocess(t, stsChildEnv(t)...)
		return
	}
	hermeticCredEnv(t)
	sts := newFakeSTS(t)
	p, err := AssumeRoleCredentials(StaticCredentials("AKBASE", "base-secret"), AssumeRoleOptions{
		RoleARN: "acs:ram::1234567890123456:role/kms-user", SessionName: "job-7", Duration: 15 * time.Minute,
		ExternalID: "ext-1", STSEndpoint: "https://" + sts.host(),
	})
	require.NoError(t, err)

	var mu sync.Mutex
	var kmsQuery url.Values
	kmsSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		kmsQuery = r.URL.Query()
		mu.Unlock()
		_, _ = w.Write([]byte(`{"RequestId":"r","KeyMetadata":{"KeyId":"key-x","KeyState":"Enabled"}}`))
	}))
	defer kmsSrv.Close()
	c, err := New(Config{Region: "cn-hangzhou", Endpoint: kmsSrv.URL, Credentials: p})
	require.NoError(t, err)
	_, err = c.DescribeKey(context.Background(), "key-x")
	require.NoError(t, err)

	reqs := sts.got()
	require.Len(t, reqs, 1)
	assert.Equal(t, "AssumeRole", reqs[0].Get("Action"))
	assert.Equal(t, "AKBASE", reqs[0].Get("AccessKeyId"), "signed with the base key")
	assert.NotEmpty(t, reqs[0].Get("Signature"))
	assert.Equal(t, "acs:ram::1234567890123456:role/kms-user", reqs[0].Get("RoleArn"))
	assert.Equal(t, "job-7", reqs[0].Get("RoleSessionName"))
	assert.Equal(t, "900", reqs[0].Get("DurationSeconds"))
	assert.Equal(t, "ext-1", reqs[0].Get("ExternalId"))
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, "STS.AssumeRole", kmsQuery.Get("AccessKeyId"))
	assert.Equal(t, "sts-token-AssumeRole", kmsQuery.Get("SecurityToken"))

	// The legacy constructor takes its STS region from the environment,
	// which the SDK's provider ignored.
	t.Setenv("ALIBABA_CLOUD_STS_REGION", "cn-shanghai")
	t.Setenv("ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED", "true")
	host, err := stsHost("", "", false)
	require.NoError(t, err)
	assert.Equal(t, "sts-vpc.cn-shanghai.aliyuncs.com", host)
	_, err = RAMRoleARNCredentials(Credentials{AccessKeyID: "a", AccessKeySecret: "b"}, "acs:ram::1:role/r", "s", 0)
	assert.NoError(t, err)
	_, err = AssumeRoleCredentials(StaticCredentials("a", "b"), AssumeRoleOptions{RoleARN: "acs:ram::1:role/r", Duration: time.Minute})
	assert.Error(t, err, "STS sessions last at least 15 minutes")
}
