package secrets_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// region is one emulator standing for one region, holding the replica of
// secret "db".
type region struct {
	srv  *testkms.Server
	cred testkms.Credential
	kms  *kmsclient.Client
}

func newRegion(t *testing.T, name, value string) *region {
	t.Helper()
	srv := testkms.Start(t, testkms.Options{Region: name})
	cred := srv.AddUser(srv.DefaultAccount(), "app")
	_, err := srv.CreateSecret(srv.DefaultAccount(), "db", []byte(value), testkms.SecretOptions{VersionID: "v1"})
	require.NoError(t, err)
	kc, err := kmsclient.New(kmsclient.Config{
		Region: name, Endpoint: strings.ToLower(srv.Scheme()) + "://" + srv.Endpoint(),
		Credentials: kmsclient.StaticCredentials(cred.AccessKeyID, cred.AccessKeySecret),
		MaxAttempts: 1,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = kc.Close() })
	return &region{srv: srv, cred: cred, kms: kc}
}

func TestFailoverOrdersByMeasuredLatencyAndFailsOver(t *testing.T) {
	hz := newRegion(t, "cn-hangzhou", "pw")
	sh := newRegion(t, "cn-shanghai", "pw")
	hz.srv.InjectFault(testkms.Fault{Kind: testkms.FaultLatency, Latency: 40 * time.Millisecond})
	f, err := secrets.NewFailover([]secrets.RegionalSource{{Region: "cn-hangzhou", Source: hz.kms}, {Region: "cn-shanghai", Source: sh.kms}}, secrets.FailoverOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{"cn-hangzhou", "cn-shanghai"}, f.Order(), "unmeasured: as configured")

	ctx := context.Background()
	in := &kmsclient.GetSecretValueInput{SecretName: "db"}
	for range 3 {
		sv, err := f.GetSecretValue(ctx, in)
		require.NoError(t, err)
		assert.Equal(t, "pw", string(sv.Value))
	}
	assert.Equal(t, 1, hz.srv.Calls("GetSecretValue"), "measured once by ordinary traffic, then passed over")
	assert.Equal(t, 2, sh.srv.Calls("GetSecretValue"))
	assert.Equal(t, []string{"cn-shanghai", "cn-hangzhou"}, f.Order(), "the faster region first")
	lat := f.Latencies()
	assert.Greater(t, lat["cn-hangzhou"], lat["cn-shanghai"])
	assert.GreaterOrEqual(t, lat["cn-hangzhou"], 40*time.Millisecond)

	// An outage of the preferred region: the call fails over, and the
	// region is set aside.
	id := sh.srv.InjectFault(testkms.Fault{Kind: testkms.FaultUnavailable})
	sv, err := f.GetSecretValue(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, "pw", string(sv.Value))
	assert.Equal(t, []string{"cn-hangzhou", "cn-shanghai"}, f.Order())
	sh.srv.RemoveFault(id)

	// Every region down: both errors, retryable, so the secrets cache may
	// serve a stale value.
	hz.srv.InjectFault(testkms.Fault{Kind: testkms.FaultUnavailable})
	sh.srv.InjectFault(testkms.Fault{Kind: testkms.FaultInternal})
	_, err = f.GetSecretValue(ctx, in)
	require.Error(t, err)
	assert.ErrorIs(t, err, kmsclient.ErrServiceUnavailable)
	assert.Contains(t, err.Error(), "region cn-hangzhou")
	assert.Contains(t, err.Error(), "region cn-shanghai")
}

// TestFailoverDoesNotMaskADecision: access denied in the preferred region
// is returned, not answered from another region.
func TestFailoverDoesNotMaskADecision(t *testing.T) {
	hz := newRegion(t, "cn-hangzhou", "pw")
	sh := newRegion(t, "cn-shanghai", "pw")
	f, err := secrets.NewFailover([]secrets.RegionalSource{{Region: "cn-hangzhou", Source: hz.kms}, {Region: "cn-shanghai", Source: sh.kms}}, secrets.FailoverOptions{})
	require.NoError(t, err)
	hz.srv.Deny(hz.cred.Principal, "GetSecretValue")
	_, err = f.GetSecretValue(context.Background(), &kmsclient.GetSecretValueInput{SecretName: "db"})
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
	assert.Zero(t, sh.srv.Calls("GetSecretValue"))
}

// TestFailoverUnderSecretsClient: a secrets Client over a Failover keeps
// serving through one region's outage without a stale value.
func TestFailoverUnderSecretsClient(t *testing.T) {
	hz := newRegion(t, "cn-hangzhou", "pw")
	sh := newRegion(t, "cn-shanghai", "pw")
	f, err := secrets.NewFailover([]secrets.RegionalSource{{Region: "cn-hangzhou", Source: hz.kms}, {Region: "cn-shanghai", Source: sh.kms}}, secrets.FailoverOptions{TryTimeout: time.Second})
	require.NoError(t, err)
	hz.srv.InjectFault(testkms.Fault{Kind: testkms.FaultReset})
	c, err := secrets.New(f, secrets.Config{})
	require.NoError(t, err)
	defer c.Close()
	v, err := c.Get(context.Background(), "db")
	require.NoError(t, err)
	assert.False(t, v.Stale())
	assert.Equal(t, "pw", v.Text())
}

func TestFailoverValidation(t *testing.T) {
	kc := &metaSource{}
	for _, tc := range []struct {
		name    string
		sources []secrets.RegionalSource
		opts    secrets.FailoverOptions
	}{
		{"none", nil, secrets.FailoverOptions{}},
		{"nil source", []secrets.RegionalSource{{Region: "a"}}, secrets.FailoverOptions{}},
		{"no region", []secrets.RegionalSource{{Source: kc}}, secrets.FailoverOptions{}},
		{"twice", []secrets.RegionalSource{{Region: "a", Source: kc}, {Region: "a", Source: kc}}, secrets.FailoverOptions{}},
		{"negative timeout", []secrets.RegionalSource{{Region: "a", Source: kc}}, secrets.FailoverOptions{TryTimeout: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := secrets.NewFailover(tc.sources, tc.opts)
			require.ErrorIs(t, err, secrets.ErrInvalidConfig)
		})
	}
}
