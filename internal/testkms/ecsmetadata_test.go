package testkms_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/credentials-go/credentials/providers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
)

// metadataClient talks to the fake directly (not through a proxy).
var metadataClient = &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 5 * time.Second}

// mdDo sends one request and returns the status and body.
func mdDo(t *testing.T, c *http.Client, method, rawURL string, hdr map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

type mdClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *mdClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *mdClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestECSMetadataHardeningMode: IMDSv2 as Alibaba's "Instance metadata"
// page describes it: a token from PUT /latest/api/token with a TTL of 1 to
// 21600 seconds, required on every read (unless normal mode is allowed),
// valid until its TTL runs out.
func TestECSMetadataHardeningMode(t *testing.T) {
	clock := &mdClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	md := testkms.StartECSMetadata(t, testkms.ECSMetadata{
		InstanceID: "i-bp1test", RegionID: "cn-hangzhou", ZoneID: "cn-hangzhou-h",
		VPCID: "vpc-bp1test", VSwitchID: "vsw-bp1test", PrivateIP: "172.16.0.10", Now: clock.now,
	})
	base := md.URL()

	for _, tc := range []struct {
		name   string
		method string
		ttl    string
		status int
	}{
		{"minimum TTL", http.MethodPut, "1", http.StatusOK},
		{"maximum TTL", http.MethodPut, "21600", http.StatusOK},
		{"TTL too long", http.MethodPut, "21601", http.StatusBadRequest},
		{"TTL zero", http.MethodPut, "0", http.StatusBadRequest},
		{"TTL not a number", http.MethodPut, "1h", http.StatusBadRequest},
		{"TTL missing", http.MethodPut, "", http.StatusBadRequest},
		{"GET is not how", http.MethodGet, "60", http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.ttl != "" {
				hdr["X-aliyun-ecs-metadata-token-ttl-seconds"] = tc.ttl
			}
			status, body := mdDo(t, metadataClient, tc.method, base+"/latest/api/token", hdr)
			assert.Equal(t, tc.status, status, body)
		})
	}

	_, token := mdDo(t, metadataClient, http.MethodPut, base+"/latest/api/token", map[string]string{"X-aliyun-ecs-metadata-token-ttl-seconds": "60"})
	withToken := map[string]string{"X-aliyun-ecs-metadata-token": token}
	for path, want := range map[string]string{
		"instance-id": "i-bp1test", "region-id": "cn-hangzhou", "zone-id": "cn-hangzhou-h",
		"vpc-id": "vpc-bp1test", "vswitch-id": "vsw-bp1test", "private-ipv4": "172.16.0.10",
		"": "instance-id\nprivate-ipv4\nregion-id\nvpc-id\nvswitch-id\nzone-id",
	} {
		status, body := mdDo(t, metadataClient, http.MethodGet, base+"/latest/meta-data/"+path, withToken)
		assert.Equal(t, http.StatusOK, status, path)
		assert.Equal(t, want, body, path)
	}
	status, _ := mdDo(t, metadataClient, http.MethodGet, base+"/latest/meta-data/ram/security-credentials/", withToken)
	assert.Equal(t, http.StatusNotFound, status, "no role")
	status, _ = mdDo(t, metadataClient, http.MethodGet, base+"/latest/meta-data/hostname", withToken)
	assert.Equal(t, http.StatusNotFound, status)

	status, _ = mdDo(t, metadataClient, http.MethodGet, base+"/latest/meta-data/vpc-id", nil)
	assert.Equal(t, http.StatusForbidden, status, "hardening mode: no read without a token")
	status, _ = mdDo(t, metadataClient, http.MethodGet, base+"/latest/meta-data/vpc-id", map[string]string{"X-aliyun-ecs-metadata-token": "forged"})
	assert.Equal(t, http.StatusForbidden, status)
	clock.add(61 * time.Second)
	status, _ = mdDo(t, metadataClient, http.MethodGet, base+"/latest/meta-data/vpc-id", withToken)
	assert.Equal(t, http.StatusForbidden, status, "the token expired")

	md.SetFailing(true)
	status, _ = mdDo(t, metadataClient, http.MethodPut, base+"/latest/api/token", map[string]string{"X-aliyun-ecs-metadata-token-ttl-seconds": "60"})
	assert.Equal(t, http.StatusInternalServerError, status)
	md.SetFailing(false)
	assert.Contains(t, md.Requests(), "PUT /latest/api/token")
	assert.Contains(t, md.Requests(), "GET /latest/meta-data/vpc-id")

	normal := testkms.StartECSMetadata(t, testkms.ECSMetadata{VPCID: "vpc-bp1test", AllowNormalMode: true})
	status, body := mdDo(t, metadataClient, http.MethodGet, normal.URL()+"/latest/meta-data/vpc-id", nil)
	assert.Equal(t, http.StatusOK, status, "normal mode reads without a token")
	assert.Equal(t, "vpc-bp1test", body)
	status, _ = mdDo(t, metadataClient, http.MethodGet, normal.URL()+"/latest/meta-data/vpc-id", map[string]string{"X-aliyun-ecs-metadata-token": "forged"})
	assert.Equal(t, http.StatusForbidden, status, "a token that is sent must be valid")
}

// TestECSMetadataRoleCredentials: the instance's RAM role and its STS
// credentials (from the emulator's AssumeRole) are served as ECS serves
// them: credentials-go's ECS RAM role provider, reaching the fake as its
// HTTP proxy for 100.100.100.200 with IMDSv1 disabled, gets credentials the
// emulator accepts; a rotation is served from then on.
func TestECSMetadataRoleCredentials(t *testing.T) {
	// .ci/run disables instance metadata for the whole run; this test talks
	// to its own fake on loopback, so it turns it back on for itself.
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "false")
	srv := testkms.Start(t)
	acct := srv.DefaultAccount()
	keyID, _, err := srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	role := srv.AssumeRole(acct, "ecs-app", "i-bp1test")
	exp := time.Now().Add(3 * time.Hour).UTC().Truncate(time.Second)
	md := testkms.StartECSMetadata(t, testkms.ECSMetadata{RoleName: "ecs-app", RoleCredentials: role, RoleExpiration: exp})

	// By hand, through the fake as a proxy: requests for 100.100.100.200.
	proxyURL, err := url.Parse(md.URL())
	require.NoError(t, err)
	viaProxy := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL)}, Timeout: 5 * time.Second}
	_, token := mdDo(t, viaProxy, http.MethodPut, "http://100.100.100.200/latest/api/token", map[string]string{"X-aliyun-ecs-metadata-token-ttl-seconds": "300"})
	withToken := map[string]string{"X-aliyun-ecs-metadata-token": token}
	status, body := mdDo(t, viaProxy, http.MethodGet, "http://100.100.100.200/latest/meta-data/ram/security-credentials/", withToken)
	require.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ecs-app", body)
	status, body = mdDo(t, viaProxy, http.MethodGet, "http://100.100.100.200/latest/meta-data/ram/security-credentials/ecs-app", withToken)
	require.Equal(t, http.StatusOK, status)
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	assert.Equal(t, "Success", got["Code"])
	assert.Equal(t, role.AccessKeyID, got["AccessKeyId"])
	assert.Equal(t, role.SecurityToken, got["SecurityToken"])
	assert.Equal(t, exp.Format("2006-01-02T15:04:05Z"), got["Expiration"])
	status, _ = mdDo(t, viaProxy, http.MethodGet, "http://100.100.100.200/latest/meta-data/ram/security-credentials/other-role", withToken)
	assert.Equal(t, http.StatusNotFound, status)

	// credentials-go, the library kmsclient's chain uses.
	p, err := providers.NewECSRAMRoleCredentialsProviderBuilder().
		WithDisableIMDSv1(true).
		WithHttpOptions(&providers.HttpOptions{Proxy: md.URL(), ConnectTimeout: 2000, ReadTimeout: 2000}).
		Build()
	require.NoError(t, err)
	cc, err := p.GetCredentials()
	require.NoError(t, err)
	assert.Equal(t, role.AccessKeyID, cc.AccessKeyId)
	c := newClient(t, srv, testkms.Credential{AccessKeyID: cc.AccessKeyId, AccessKeySecret: cc.AccessKeySecret, SecurityToken: cc.SecurityToken})
	_, err = c.Encrypt(encryptReq(keyID, "eA==", ""))
	require.NoError(t, err, "the emulator accepts the instance role's credentials")

	rotated := srv.AssumeRole(acct, "ecs-app", "i-bp1test-2")
	md.SetRoleCredentials(rotated, time.Now().Add(time.Hour))
	status, body = mdDo(t, viaProxy, http.MethodGet, "http://100.100.100.200/latest/meta-data/ram/security-credentials/ecs-app", withToken)
	require.Equal(t, http.StatusOK, status)
	require.NoError(t, json.Unmarshal([]byte(body), &got))
	assert.Equal(t, rotated.AccessKeyID, got["AccessKeyId"])
}

// TestECSMetadataOptionsValidated: malformed items are refused at start.
func TestECSMetadataOptionsValidated(t *testing.T) {
	for _, md := range []testkms.ECSMetadata{{PrivateIP: "not-an-ip"}, {VPCID: "vpc_x"}, {RoleName: "a/b"}} {
		m, err := testkms.NewECSMetadata(md)
		assert.Error(t, err, "%+v", md)
		assert.Nil(t, m)
	}
}
