package testkms_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

// newTLSClient builds an SDK client the way production code would for
// HTTPS: an *http.Transport whose TLS config trusts the test CA (from its
// PEM), and NO_PROXY for loopback.
func newTLSClient(t testing.TB, srv *testkms.Server, cred testkms.Credential) *kms.Client {
	t.Helper()
	tr := &http.Transport{}
	if pemBytes := srv.CACertPEM(); pemBytes != nil {
		pool := x509.NewCertPool()
		require.True(t, pool.AppendCertsFromPEM(pemBytes))
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	t.Cleanup(tr.CloseIdleConnections)
	cfg := sdk.NewConfig().WithAutoRetry(false).WithScheme(srv.Scheme()).WithTimeout(10 * time.Second)
	cfg.HttpTransport = tr
	c, err := kms.NewClientWithOptions(srv.Region(), cfg,
		credentials.NewStaticAKCredentialsProvider(cred.AccessKeyID, cred.AccessKeySecret))
	require.NoError(t, err)
	c.Domain = srv.Endpoint()
	c.SetNoProxy("127.0.0.1")
	return c
}

func TestTLS(t *testing.T) {
	srv := testkms.Start(t, testkms.Options{TLS: true})
	assert.Equal(t, "HTTPS", srv.Scheme())
	assert.True(t, strings.HasPrefix(srv.URL(), "https://127.0.0.1:"))
	assert.True(t, strings.HasPrefix(srv.Endpoint(), "127.0.0.1:"))

	block, _ := pem.Decode(srv.CACertPEM())
	require.NotNil(t, block)
	ca, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	assert.True(t, ca.IsCA)
	require.NotNil(t, srv.ClientTLSConfig())

	root := srv.AddAccount(srv.DefaultAccount())
	c := newTLSClient(t, srv, root)
	key, err := c.CreateKey(kms.CreateCreateKeyRequest())
	require.NoError(t, err)
	enc, err := c.Encrypt(encryptReq(key.KeyMetadata.KeyId, "eA==", ""))
	require.NoError(t, err)
	dec, err := c.Decrypt(decryptReq(enc.CiphertextBlob, ""))
	require.NoError(t, err)
	assert.Equal(t, "eA==", dec.Plaintext)

	// The condition context reports the secure transport.
	var secure string
	srv.SetAuthorizer(testkms.AuthorizerFunc(func(r testkms.AuthzRequest) *testkms.Denial {
		secure = r.Context["acs:SecureTransport"]
		return nil
	}))
	dk := kms.CreateDescribeKeyRequest()
	dk.KeyId = key.KeyMetadata.KeyId
	_, err = c.DescribeKey(dk)
	require.NoError(t, err)
	assert.Equal(t, "true", secure)

	// A client that does not trust the test CA fails the handshake.
	cfg := sdk.NewConfig().WithAutoRetry(false).WithScheme("HTTPS")
	cfg.HttpTransport = &http.Transport{}
	untrusting, err := kms.NewClientWithOptions(srv.Region(), cfg,
		credentials.NewStaticAKCredentialsProvider(root.AccessKeyID, root.AccessKeySecret))
	require.NoError(t, err)
	untrusting.Domain = srv.Endpoint()
	untrusting.SetNoProxy("127.0.0.1")
	err = describeRegions(untrusting)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")

	// Raw HTTPS with the helper's config.
	resp := sendRaw(t, srv, "POST", root.AccessKeySecret, baseParams(root, "DescribeRegions", time.Now()), true)
	assert.Equal(t, http.StatusOK, resp.Status)
}

func TestPlainHTTPHasNoCA(t *testing.T) {
	srv := testkms.Start(t)
	assert.Equal(t, "HTTP", srv.Scheme())
	assert.True(t, strings.HasPrefix(srv.URL(), "http://127.0.0.1:"))
	assert.Nil(t, srv.CACertPEM())
	assert.Nil(t, srv.ClientTLSConfig())
	assert.Equal(t, "cn-hangzhou", srv.Region())
	assert.Equal(t, "1234567890123456", srv.DefaultAccount())
}

func TestNewRejectsBadRegion(t *testing.T) {
	_, err := testkms.New(testkms.Options{Region: "Hangzhou 1"})
	require.Error(t, err)
}

func TestNewAndClose(t *testing.T) {
	srv, err := testkms.New(testkms.Options{})
	require.NoError(t, err)
	root := srv.AddAccount(srv.DefaultAccount())
	require.NoError(t, describeRegions(newClient(t, srv, root)))
	require.NoError(t, srv.Close())
	require.NoError(t, srv.Close(), "Close is idempotent")
	require.Error(t, describeRegions(newClient(t, srv, root)))
}
