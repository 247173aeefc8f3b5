package testkms_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/kms"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

const testInstance = "kst-hzz6testinstance"

// gatewayClient returns a real SDK client for gw, over HTTPS trusting only
// the gateway's CA.
func gatewayClient(t testing.TB, gw *testkms.Gateway, region string, cred testkms.Credential) *kms.Client {
	t.Helper()
	cfg := sdk.NewConfig().WithAutoRetry(false).WithScheme("HTTPS").WithTimeout(10 * time.Second)
	cfg.Transport = &recordingTransport{base: &http.Transport{Proxy: nil, TLSClientConfig: gw.ClientTLSConfig()}}
	var p credentials.CredentialsProvider = credentials.NewStaticAKCredentialsProvider(cred.AccessKeyID, cred.AccessKeySecret)
	if cred.SecurityToken != "" {
		p = credentials.NewStaticSTSCredentialsProvider(cred.AccessKeyID, cred.AccessKeySecret, cred.SecurityToken)
	}
	c, err := kms.NewClientWithOptions(region, cfg, p)
	require.NoError(t, err)
	c.Domain = gw.Endpoint()
	return c
}

type gatewayFixture struct {
	*fixture
	gw              *testkms.Gateway
	gwc             *kms.Client
	keyID, outsider string // a key of the instance, and one outside it
}

func newGatewayFixture(t *testing.T) *gatewayFixture {
	f := &gatewayFixture{fixture: newFixture(t)}
	acct := f.srv.DefaultAccount()
	var err error
	f.keyID, _, err = f.srv.CreateKey(acct, testkms.KeyOptions{InstanceID: testInstance})
	require.NoError(t, err)
	f.outsider, _, err = f.srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	f.gw = f.srv.StartInstanceGateway(t, testInstance)
	f.gwc = gatewayClient(t, f.gw, f.srv.Region(), f.root)
	return f
}

// TestGatewayServesTheDataPath: the instance gateway serves the crypto
// calls and GetSecretValue for its own instance, over HTTPS under its own
// CA, on the same state as the shared endpoint, and counts them apart.
func TestGatewayServesTheDataPath(t *testing.T) {
	f := newGatewayFixture(t)
	acct := f.srv.DefaultAccount()
	_, err := f.srv.CreateSecret(acct, "db", []byte("pw"), testkms.SecretOptions{EncryptionKeyID: f.keyID})
	require.NoError(t, err)

	enc := kms.CreateEncryptRequest()
	enc.KeyId, enc.Plaintext, enc.EncryptionContext = f.keyID, "aGVsbG8=", `{"a":"b"}`
	er, err := f.gwc.Encrypt(enc)
	require.NoError(t, err)
	dec := kms.CreateDecryptRequest()
	dec.CiphertextBlob, dec.EncryptionContext = er.CiphertextBlob, `{"a":"b"}`
	dr, err := f.gwc.Decrypt(dec)
	require.NoError(t, err)
	assert.Equal(t, "aGVsbG8=", dr.Plaintext)
	assert.Equal(t, f.keyID, dr.KeyId)
	gdk := kms.CreateGenerateDataKeyRequest()
	gdk.KeyId = f.keyID
	dk, err := f.gwc.GenerateDataKey(gdk)
	require.NoError(t, err)
	wp := kms.CreateGenerateDataKeyWithoutPlaintextRequest()
	wp.KeyId = f.keyID
	_, err = f.gwc.GenerateDataKeyWithoutPlaintext(wp)
	require.NoError(t, err)
	gs := kms.CreateGetSecretValueRequest()
	gs.SecretName = "db"
	sv, err := f.gwc.GetSecretValue(gs)
	require.NoError(t, err)
	assert.Equal(t, "pw", sv.SecretData)

	// The same state: the shared endpoint decrypts what the gateway made.
	dec = kms.CreateDecryptRequest()
	dec.CiphertextBlob = dk.CiphertextBlob
	shared, err := f.client.Decrypt(dec)
	require.NoError(t, err)
	assert.Equal(t, dk.Plaintext, shared.Plaintext)

	assert.Equal(t, map[string]int{"Encrypt": 1, "Decrypt": 1, "GenerateDataKey": 1,
		"GenerateDataKeyWithoutPlaintext": 1, "GetSecretValue": 1}, f.gw.CallCounts())
	assert.Equal(t, 5, f.gw.TotalCalls())
	assert.Equal(t, map[string]int{"Decrypt": 1}, f.srv.CallCounts(), "the shared endpoint counts its own")
	assert.Zero(t, f.srv.ManagementCalls())
	f.srv.ResetCalls()
	assert.Zero(t, f.gw.TotalCalls(), "ResetCalls zeroes the gateways too")
}

// TestGatewayRefusesWhatItDoesNotServe: ReEncrypt, every management call
// and STS are refused with 400 UnsupportedOperation and the gateway's
// HostId, and counted (management calls in ManagementCalls).
func TestGatewayRefusesWhatItDoesNotServe(t *testing.T) {
	f := newGatewayFixture(t)
	gdk := kms.CreateGenerateDataKeyRequest()
	gdk.KeyId = f.keyID
	dk, err := f.client.GenerateDataKey(gdk)
	require.NoError(t, err)
	f.srv.ResetCalls()

	calls := everyAPICall(f.keyID, dk.CiphertextBlob)
	refused := 0
	for _, c := range calls {
		if served[c.name] {
			continue
		}
		refused++
		err := c.call(f.gwc)
		se := requireAPIError(t, err, http.StatusBadRequest, "UnsupportedOperation")
		assert.Equal(t, f.gw.Host(), se.HostId(), c.name)
		assert.Equal(t, 1, f.gw.Calls(c.name), c.name)
	}
	require.Greater(t, refused, 20, "every management call is tried")
	assert.Equal(t, refused-1, f.srv.ManagementCalls(), "every refused call but ReEncrypt is a management call")
	assert.Zero(t, f.srv.ManagementCallCounts()["ReEncrypt"])
	assert.Zero(t, f.srv.TotalCalls(), "nothing reached the shared endpoint")

	// STS on the gateway: refused too.
	cfg := sdk.NewConfig().WithAutoRetry(false).WithScheme("HTTPS")
	cfg.Transport = &http.Transport{Proxy: nil, TLSClientConfig: f.gw.ClientTLSConfig()}
	sc, err := sts.NewClientWithOptions(f.srv.Region(), cfg, credentials.NewStaticAKCredentialsProvider(f.root.AccessKeyID, f.root.AccessKeySecret))
	require.NoError(t, err)
	sc.Domain = f.gw.Endpoint()
	_, err = sc.GetCallerIdentity(sts.CreateGetCallerIdentityRequest())
	requireAPIError(t, err, http.StatusBadRequest, "UnsupportedOperation")
	assert.Equal(t, 1, f.gw.Calls("GetCallerIdentity"))

	// Management calls on the shared endpoint are counted there as well.
	f.srv.ResetCalls()
	_ = calls[1].call(f.client) // DescribeKey of alias/all (not found: counted all the same)
	assert.Equal(t, map[string]int{"DescribeKey": 1}, f.srv.ManagementCallCounts())
}

// served are the everyAPICall names the gateway serves.
var served = map[string]bool{"Encrypt": true, "Decrypt": true, "GenerateDataKey": true,
	"GenerateDataKeyWithoutPlaintext": true, "GetSecretValue": true}

// TestGatewayServesOnlyItsInstance: keys and secrets outside the instance
// are not found through the gateway, and a ciphertext of such a key names
// its key as not found.
func TestGatewayServesOnlyItsInstance(t *testing.T) {
	f := newGatewayFixture(t)
	acct := f.srv.DefaultAccount()
	_, err := f.srv.CreateSecret(acct, "plain", []byte("x"), testkms.SecretOptions{})
	require.NoError(t, err)
	_, err = f.srv.CreateSecret(acct, "other", []byte("x"), testkms.SecretOptions{EncryptionKeyID: f.outsider})
	require.NoError(t, err)
	require.NoError(t, f.srv.CreateAlias(acct, "alias/outside", f.outsider))

	for _, ref := range []string{f.outsider, "alias/outside"} {
		gdk := kms.CreateGenerateDataKeyRequest()
		gdk.KeyId = ref
		_, err := f.gwc.GenerateDataKey(gdk)
		requireAPIError(t, err, http.StatusNotFound, "Forbidden.KeyNotFound")
	}
	enc := kms.CreateEncryptRequest()
	enc.KeyId, enc.Plaintext = f.outsider, "eA=="
	er, err := f.client.Encrypt(enc)
	require.NoError(t, err)
	dec := kms.CreateDecryptRequest()
	dec.CiphertextBlob = er.CiphertextBlob
	_, err = f.gwc.Decrypt(dec)
	requireAPIError(t, err, http.StatusNotFound, "Forbidden.KeyNotFound")
	for _, name := range []string{"plain", "other"} {
		gs := kms.CreateGetSecretValueRequest()
		gs.SecretName = name
		_, err := f.gwc.GetSecretValue(gs)
		requireAPIError(t, err, http.StatusNotFound, "Forbidden.ResourceNotFound")
	}
}

// TestGatewayTLS: the gateway speaks only HTTPS, under its own CA (not the
// Server's), with its instance host name in the certificate.
func TestGatewayTLS(t *testing.T) {
	srv := testkms.Start(t, testkms.Options{TLS: true})
	gw := srv.StartInstanceGateway(t, testInstance)
	assert.Equal(t, testInstance+".cryptoservice.kms.aliyuncs.com", gw.Host())
	assert.Equal(t, testInstance, gw.InstanceID())
	u, err := url.Parse(gw.URL())
	require.NoError(t, err)
	assert.Equal(t, "https", u.Scheme)
	assert.NotEqual(t, srv.CACertPEM(), gw.CACertPEM())

	block, _ := pem.Decode(gw.CACertPEM())
	require.NotNil(t, block)
	ca, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	assert.True(t, ca.IsCA)

	// The Server's CA does not verify the gateway.
	_, err = tls.Dial("tcp", gw.Endpoint(), srv.ClientTLSConfig())
	require.Error(t, err)
	// The gateway's does, for its host name too.
	cfg := gw.ClientTLSConfig()
	cfg.ServerName = gw.Host()
	conn, err := tls.Dial("tcp", gw.Endpoint(), cfg)
	require.NoError(t, err)
	require.NoError(t, conn.Close())

	// Plain HTTP is not served.
	resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}).Get("http://" + gw.Endpoint() + "/")
	if err == nil {
		defer resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "Go's TLS server answers plain HTTP with 400")
	}
}

// TestGatewayInstanceIDAndClose: malformed instance ids are refused; a
// gateway closes with its Server, and none starts after.
func TestGatewayInstanceIDAndClose(t *testing.T) {
	srv, err := testkms.New(testkms.Options{})
	require.NoError(t, err)
	for _, bad := range []string{"", "Kst-UPPER", "a.b", "-lead", "has space", string(make([]byte, 64))} {
		_, err := srv.NewInstanceGateway(bad, testkms.GatewayOptions{})
		assert.Error(t, err, "%q", bad)
	}
	gw, err := srv.NewInstanceGateway(testInstance, testkms.GatewayOptions{})
	require.NoError(t, err)
	require.NoError(t, srv.Close())
	_, err = tls.Dial("tcp", gw.Endpoint(), gw.ClientTLSConfig())
	assert.Error(t, err, "closed with the Server")
	require.NoError(t, gw.Close(), "idempotent")
	_, err = srv.NewInstanceGateway("kst-late", testkms.GatewayOptions{})
	assert.Error(t, err)
}
