package kmsclient_test

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// recTracer records what a CallTracer is told, and marks the context it
// returns so the test can see the call ran on it.
type recTracer struct {
	mu      sync.Mutex
	starts  []kmsclient.CallStart
	traces  []*recTrace
	ctxSeen []bool
}

type ctxMark struct{}

type recTrace struct {
	attempts []kmsclient.AttemptInfo
	end      *kmsclient.CallInfo
}

func (r *recTracer) StartCall(ctx context.Context, cs kmsclient.CallStart) (context.Context, kmsclient.CallTrace) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = append(r.starts, cs)
	tr := &recTrace{}
	r.traces = append(r.traces, tr)
	return context.WithValue(ctx, ctxMark{}, len(r.starts)), tr
}

func (t *recTrace) Attempt(a kmsclient.AttemptInfo) { t.attempts = append(t.attempts, a) }
func (t *recTrace) End(ci kmsclient.CallInfo)       { t.end = &ci }

// ctxProvider records whether Retrieve ran on the tracer's context.
type ctxProvider struct {
	kmsclient.CredentialsProvider
	mu   sync.Mutex
	seen []any
}

func (p *ctxProvider) Retrieve(ctx context.Context) (kmsclient.Credentials, error) {
	p.mu.Lock()
	p.seen = append(p.seen, ctx.Value(ctxMark{}))
	p.mu.Unlock()
	return p.CredentialsProvider.Retrieve(ctx)
}

func TestCallTracerSeesAttemptsAndParentsTheCall(t *testing.T) {
	rt := &recTracer{}
	var cp *ctxProvider
	e := newEnv(t, func(c *kmsclient.Config) {
		c.Tracer = rt
		cp = &ctxProvider{CredentialsProvider: c.Credentials}
		c.Credentials = cp
	})
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultUnavailable, Action: "GenerateDataKey", Count: 1})
	_, err := e.client.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: e.keyID})
	require.NoError(t, err)

	require.Len(t, rt.starts, 1)
	cs := rt.starts[0]
	assert.Equal(t, "GenerateDataKey", cs.Operation)
	assert.Equal(t, kmsclient.ServiceKMS, cs.Service)
	assert.Equal(t, e.srv.Endpoint(), cs.Endpoint)
	assert.Equal(t, e.srv.Region(), cs.Region)
	tr := rt.traces[0]
	require.Len(t, tr.attempts, 2)
	assert.Equal(t, 1, tr.attempts[0].Attempt)
	assert.Equal(t, 503, tr.attempts[0].HTTPStatus)
	assert.Equal(t, "ServiceUnavailableTemporary", tr.attempts[0].Code)
	assert.True(t, tr.attempts[0].Retry)
	assert.Positive(t, tr.attempts[0].Backoff)
	assert.Error(t, tr.attempts[0].Err)
	assert.Equal(t, 2, tr.attempts[1].Attempt)
	assert.False(t, tr.attempts[1].Retry)
	assert.NoError(t, tr.attempts[1].Err)
	assert.NotEmpty(t, tr.attempts[1].RequestID)
	require.NotNil(t, tr.end)
	assert.Equal(t, 2, tr.end.Attempts)
	assert.Equal(t, 200, tr.end.HTTPStatus)
	assert.NoError(t, tr.end.Err)
	// The credentials provider ran on the context StartCall returned.
	require.NotEmpty(t, cp.seen)
	for _, v := range cp.seen {
		assert.Equal(t, 1, v)
	}
}

// rotatingCreds hands out a first key until Rejected, then a second one.
type rotatingCreds struct {
	mu       sync.Mutex
	keys     []kmsclient.Credentials
	i        int
	rejected []string
}

func (r *rotatingCreds) Retrieve(context.Context) (kmsclient.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.keys[r.i], nil
}

func (r *rotatingCreds) Rejected(_ context.Context, c kmsclient.Credentials) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejected = append(r.rejected, c.AccessKeyID)
	if r.i+1 < len(r.keys) {
		r.i++
		return true
	}
	return false
}

func TestRefreshableCredentialsRetriedAtOnce(t *testing.T) {
	for _, tc := range []struct {
		name     string
		dead     int // keys disabled, in the order handed out
		live     bool
		wantErr  bool
		rejected int
	}{
		{"rotated key: retried with the new one", 1, true, false, 1},
		{"no new key: the authentication error is returned", 1, false, true, 1},
		{"rotated twice during the call", 2, true, false, 2},
		{"at most two refreshes", 3, true, true, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testkms.Start(t)
			acct := srv.DefaultAccount()
			keyID, _, err := srv.CreateKey(acct, testkms.KeyOptions{})
			require.NoError(t, err)
			rc := &rotatingCreds{}
			var dead []string
			for i := 0; i < tc.dead+map[bool]int{true: 1}[tc.live]; i++ {
				k := srv.AddUser(acct, "app")
				rc.keys = append(rc.keys, kmsclient.Credentials{AccessKeyID: k.AccessKeyID, AccessKeySecret: k.AccessKeySecret})
				if i < tc.dead {
					srv.ExpireCredential(k.AccessKeyID) // a rotation disabled it
					dead = append(dead, k.AccessKeyID)
				}
			}
			old := testkms.Credential{AccessKeyID: rc.keys[0].AccessKeyID, AccessKeySecret: rc.keys[0].AccessKeySecret}
			rt := &recTracer{}
			cfg := fastConfig(srv, old)
			cfg.Credentials, cfg.Tracer, cfg.MaxAttempts = rc, rt, 1
			c, err := kmsclient.New(cfg)
			require.NoError(t, err)
			defer c.Close()
			_, err = c.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: keyID})
			if tc.wantErr {
				require.ErrorIs(t, err, kmsclient.ErrAuthentication)
			} else {
				require.NoError(t, err, "MaxAttempts 1 still allows the credentials retry")
			}
			assert.Equal(t, dead[:tc.rejected], rc.rejected)
			attempts := rt.traces[0].attempts
			assert.Equal(t, "Forbidden.AccessKey", attempts[0].Code)
			if !tc.wantErr {
				require.Len(t, attempts, tc.rejected+1)
				assert.True(t, attempts[0].CredentialsRefreshed)
				assert.NoError(t, attempts[tc.rejected].Err)
			}
		})
	}
}

// TestGetSecretValueDocumentedMetadata replays GetSecretValue's documented
// answer for a rotated secret with extended configuration
// (https://www.alibabacloud.com/help/en/kms/developer-reference/api-kms-2016-01-20-getsecretvalue)
// and checks FetchExtendedConfig is sent.
func TestGetSecretValueDocumentedMetadata(t *testing.T) {
	cs := newCanned(t, 200, func(url.Values) string {
		return `{"RequestId":"6a3e9c36-1150-4881-84d3-eb8672fcafad","SecretName":"secret001",
"VersionId":"00000000000000000000000000000000203","CreateTime":"2018-07-05T08:22:03Z","SecretData":"testdata1",
"SecretDataType":"text","VersionStages":{"VersionStage":["ACSCurrent","ACSPrevious"]},"SecretType":"Rds",
"AutomaticRotation":"Enabled","RotationInterval":"604800s",
"ExtendedConfig":"{\"SecretSubType\":\"SingleUser\", \"DBInstanceId\":\"rm-uf667446pc955****\",  \"CustomData\":{} }",
"LastRotationDate":"2020-07-05T08:22:03Z","NextRotationDate":"2020-07-06T08:22:03Z"}`
	})
	v, err := cs.client(t).GetSecretValue(context.Background(), &kmsclient.GetSecretValueInput{SecretName: "secret001", FetchExtendedConfig: true})
	require.NoError(t, err)
	assert.Equal(t, "Rds", v.SecretType)
	assert.Equal(t, "Enabled", v.AutomaticRotation)
	assert.Equal(t, "604800s", v.RotationInterval)
	assert.Contains(t, v.ExtendedConfig, `"SecretSubType":"SingleUser"`)
	assert.Equal(t, time.Date(2020, 7, 5, 8, 22, 3, 0, time.UTC), v.LastRotationDate)
	assert.Equal(t, time.Date(2020, 7, 6, 8, 22, 3, 0, time.UTC), v.NextRotationDate)
	assert.Equal(t, time.Date(2018, 7, 5, 8, 22, 3, 0, time.UTC), v.CreateTime)
	assert.Equal(t, []string{"ACSCurrent", "ACSPrevious"}, v.VersionStages)
	require.Len(t, cs.queries, 1)
	assert.Equal(t, "true", cs.queries[0].Get("FetchExtendedConfig"))
}
