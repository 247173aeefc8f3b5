package kmsclient_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// TestRedirectIsRefused: an endpoint that redirects (a misconfigured proxy,
// an interceptor) never gets the signed request forwarded, is not retried,
// and the error says what happened. KMS itself never redirects.
func TestRedirectIsRefused(t *testing.T) {
	var elsewhere, hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(`{"RequestId":"x"}`))
	}))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, target.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	defer redirector.Close()
	c, err := kmsclient.New(kmsclient.Config{
		Region:         "cn-hangzhou",
		Endpoint:       redirector.URL,
		Credentials:    kmsclient.StaticCredentials("AKID", "secret"),
		InitialBackoff: time.Millisecond,
	})
	require.NoError(t, err)
	_, err = c.Encrypt(context.Background(), &kmsclient.EncryptInput{KeyID: "key-x", Plaintext: []byte("CANARY-plaintext")})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "redirect")
	assert.NotContains(t, err.Error(), "CANARY")
	assert.False(t, strings.Contains(err.Error(), target.URL), "the Location is not echoed")
	assert.EqualValues(t, 0, elsewhere.Load(), "the request was not forwarded")
	assert.EqualValues(t, 1, hits.Load(), "a redirect is not retried")
}

// TestSuccessWithoutTheGoodsIsMalformed: a 2xx answer missing what the
// operation must return is ErrMalformedResponse, not an empty success.
func TestSuccessWithoutTheGoodsIsMalformed(t *testing.T) {
	body := `{}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	c, err := kmsclient.New(kmsclient.Config{Region: "cn-hangzhou", Endpoint: srv.URL, Credentials: kmsclient.StaticCredentials("AKID", "secret")})
	require.NoError(t, err)
	ctx := context.Background()
	_, err = c.DescribeKey(ctx, "key-x")
	assert.ErrorIs(t, err, kmsclient.ErrMalformedResponse, "DescribeKey")
	_, err = c.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: "s"})
	assert.ErrorIs(t, err, kmsclient.ErrMalformedResponse, "GetSecretValue")
	_, err = c.GetKeyPolicy(ctx, "key-x", "")
	assert.ErrorIs(t, err, kmsclient.ErrMalformedResponse, "GetKeyPolicy")
	body = `{"KeyId":"key-x","Plaintext":"AA==","CiphertextBlob":"AAAA"}` // a 1-byte data key
	_, err = c.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: "key-x"})
	assert.ErrorIs(t, err, kmsclient.ErrMalformedResponse, "GenerateDataKey")
	assert.Contains(t, err.Error(), "1 bytes, not the 32")
}

// TestRootCAsOnlyForTheKMSEndpoint: RootCAs is trusted for the KMS
// endpoint (TestRootsRouter checks that the public STS and RAM endpoints
// keep the system roots; they cannot be reached from tests).
func TestRootCAsOnlyForTheKMSEndpoint(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"KeyMetadata":{"KeyId":"key-x","KeyState":"Enabled","Arn":"acs:kms:cn-hangzhou:1:key/key-x"}}`))
	}))
	defer srv.Close()
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	c, err := kmsclient.New(kmsclient.Config{
		Region: "cn-hangzhou", Endpoint: srv.URL, RootCAs: pool,
		Credentials: kmsclient.StaticCredentials("AKID", "secret"),
	})
	require.NoError(t, err)
	md, err := c.DescribeKey(context.Background(), "key-x")
	require.NoError(t, err, "the private CA is trusted for the KMS endpoint")
	assert.Equal(t, "key-x", md.KeyID)
}
