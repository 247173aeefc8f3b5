package kmsclient

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/credentials-go/credentials/providers"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// credEnvVars are every environment variable a credential source reads.
var credEnvVars = []string{
	"ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN",
	"ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE", "ALIBABA_CLOUD_OIDC_TOKEN",
	"ALIBABA_CLOUD_ROLE_ARN", "ALIBABA_CLOUD_ROLE_SESSION_NAME", "ALIBABA_CLOUD_CONFIG_FILE",
	"ALIBABA_CLOUD_CREDENTIALS_FILE", "ALIBABA_CLOUD_PROFILE", "ALIBABA_CLOUD_CLI_PROFILE_DISABLED",
	"ALIBABA_CLOUD_ECS_METADATA", "ALIBABA_CLOUD_IMDSV1_DISABLED", "ALIBABA_CLOUD_CREDENTIALS_URI",
	"ALIBABA_CLOUD_STS_REGION", "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED",
}

// hermeticCredEnv clears every credential variable, disables instance
// metadata and points HOME at an empty directory, which it returns.
func hermeticCredEnv(t *testing.T) string {
	t.Helper()
	for _, v := range credEnvVars {
		t.Setenv(v, "")
	}
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	home := t.TempDir()
	t.Setenv("HOME", home)
	return home
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}

func expiration(d time.Duration) string {
	return time.Now().Add(d).UTC().Format("2006-01-02T15:04:05Z")
}

// fakeIMDS is an ECS instance metadata service that insists on IMDSv2
// session tokens. credentials-go dials 100.100.100.200 itself; tests reach
// the fake through credentials-go's HttpOptions.Proxy (chainHooks.imds),
// so every request arrives in absolute form for that host.
type fakeIMDS struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string // "METHOD host path"
	role     string
	fail     bool
}

const imdsToken = "imds-session-token-1"

func newFakeIMDS(t *testing.T, role string) *fakeIMDS {
	f := &fakeIMDS{role: role}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Method+" "+r.Host+" "+r.URL.Path)
		fail := f.fail
		f.mu.Unlock()
		if r.Host != "100.100.100.200" || fail {
			http.Error(w, "no", http.StatusNotFound)
			return
		}
		if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
			if r.Header.Get("X-Aliyun-Ecs-Metadata-Token-Ttl-Seconds") == "" {
				http.Error(w, "ttl required", http.StatusBadRequest)
				return
			}
			_, _ = w.Write([]byte(imdsToken))
			return
		}
		if r.Header.Get("X-Aliyun-Ecs-Metadata-Token") != imdsToken {
			http.Error(w, "IMDSv2 token required", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/latest/meta-data/ram/security-credentials/":
			_, _ = w.Write([]byte(f.role))
		case "/latest/meta-data/ram/security-credentials/" + f.role:
			_ = json.NewEncoder(w).Encode(map[string]string{
				"Code": "Success", "AccessKeyId": "STS.ECS-" + f.role, "AccessKeySecret": "ecs-secret",
				"SecurityToken": "ecs-token", "Expiration": expiration(6 * time.Hour), "LastUpdated": expiration(0),
			})
		default:
			http.Error(w, "not found", http.StatusNotFound)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeIMDS) hooks() chainHooks {
	return chainHooks{imds: &providers.HttpOptions{Proxy: f.URL, ConnectTimeout: 1000, ReadTimeout: 2000}}
}

func (f *fakeIMDS) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// credentialsURIServer serves credentials as ALIBABA_CLOUD_CREDENTIALS_URI
// expects them.
func credentialsURIServer(t *testing.T, status int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"Code": "Success", "AccessKeyId": "STS.URI", "AccessKeySecret": "uri-secret",
			"SecurityToken": "uri-token", "Expiration": expiration(time.Hour),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

const cliConfig = `{"current":"dev","profiles":[
	{"name":"dev","mode":"AK","access_key_id":"AKCLI","access_key_secret":"cli-secret","region_id":"cn-hangzhou"},
	{"name":"ops","mode":"StsToken","access_key_id":"STS.CLIOPS","access_key_secret":"s","sts_token":"cli-token"}]}`

const credentialsFile = `[default]
type = access_key
access_key_id = AKFILE
access_key_secret = file-secret

[other]
type = access_key
access_key_id = AKFILEOTHER
access_key_secret = file-secret-2
`

// TestChainSources: each source of the chain, alone, offline.
func TestChainSources(t *testing.T) {
	cases := []struct {
		name      string
		setup     func(t *testing.T, home string) chainHooks
		wantID    string
		wantToken string
	}{
		{name: "environment access key", wantID: "AKENV", setup: func(t *testing.T, _ string) chainHooks {
			t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "AKENV")
			t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret")
			return chainHooks{}
		}},
		{name: "environment STS token", wantID: "STS.ENV", wantToken: "env-token", setup: func(t *testing.T, _ string) chainHooks {
			t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "STS.ENV")
			t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "env-secret")
			t.Setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "env-token")
			return chainHooks{}
		}},
		{name: "aliyun CLI profile, current", wantID: "AKCLI", setup: func(t *testing.T, home string) chainHooks {
			writeFile(t, filepath.Join(home, ".aliyun", "config.json"), cliConfig)
			return chainHooks{}
		}},
		{name: "aliyun CLI profile, ALIBABA_CLOUD_PROFILE", wantID: "STS.CLIOPS", wantToken: "cli-token", setup: func(t *testing.T, home string) chainHooks {
			writeFile(t, filepath.Join(home, ".aliyun", "config.json"), cliConfig)
			t.Setenv("ALIBABA_CLOUD_PROFILE", "ops")
			return chainHooks{}
		}},
		{name: "credentials file, default profile", wantID: "AKFILE", setup: func(t *testing.T, home string) chainHooks {
			writeFile(t, filepath.Join(home, ".alibabacloud", "credentials"), credentialsFile)
			return chainHooks{}
		}},
		{name: "credentials file named by ALIBABA_CLOUD_CREDENTIALS_FILE", wantID: "AKFILEOTHER", setup: func(t *testing.T, home string) chainHooks {
			path := filepath.Join(t.TempDir(), "creds.ini")
			writeFile(t, path, credentialsFile)
			t.Setenv("ALIBABA_CLOUD_CREDENTIALS_FILE", path)
			t.Setenv("ALIBABA_CLOUD_PROFILE", "other")
			return chainHooks{}
		}},
		{name: "CLI profile without the named profile hands over to the credentials file", wantID: "AKFILEOTHER", setup: func(t *testing.T, home string) chainHooks {
			writeFile(t, filepath.Join(home, ".aliyun", "config.json"), cliConfig)
			writeFile(t, filepath.Join(home, ".alibabacloud", "credentials"), credentialsFile)
			t.Setenv("ALIBABA_CLOUD_PROFILE", "other")
			return chainHooks{}
		}},
		{name: "ECS RAM role, IMDSv2", wantID: "STS.ECS-kms-role", wantToken: "ecs-token", setup: func(t *testing.T, _ string) chainHooks {
			t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "")
			t.Setenv("ALIBABA_CLOUD_IMDSV1_DISABLED", "true")
			return newFakeIMDS(t, "kms-role").hooks()
		}},
		{name: "credentials URI", wantID: "STS.URI", wantToken: "uri-token", setup: func(t *testing.T, _ string) chainHooks {
			t.Setenv("ALIBABA_CLOUD_CREDENTIALS_URI", credentialsURIServer(t, 200).URL+"/creds?x=1")
			return chainHooks{}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			home := hermeticCredEnv(t)
			p := newChain(ChainOptions{}, tc.setup(t, home))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := p.Retrieve(ctx)
			require.NoError(t, err)
			assert.Equal(t, tc.wantID, c.AccessKeyID)
			assert.NotEmpty(t, c.AccessKeySecret)
			assert.Equal(t, tc.wantToken, c.SecurityToken)
			again, err := p.Retrieve(ctx)
			require.NoError(t, err)
			assert.Equal(t, c, again, "the chosen source answers again")
		})
	}
}

// TestECSRAMRoleCredentialsUsesIMDSv2: the standalone ECS provider asks
// for a session token first and presents it on every metadata read.
func TestECSRAMRoleCredentialsUsesIMDSv2(t *testing.T) {
	hermeticCredEnv(t)
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "")
	f := newFakeIMDS(t, "app-role")
	c, err := ecsRAMRole("", f.hooks()).Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "STS.ECS-app-role", c.AccessKeyID)
	f.mu.Lock()
	defer f.mu.Unlock()
	require.NotEmpty(t, f.requests)
	assert.Equal(t, "PUT 100.100.100.200 /latest/api/token", f.requests[0])
	assert.Contains(t, f.requests, "GET 100.100.100.200 /latest/meta-data/ram/security-credentials/app-role")
}

// TestDefaultCredentialsRecovers: a process that starts before its
// credentials are in place gets them once they are. The SDK's chain pinned
// itself to its last source after the first failed walk, so a CLI profile
// that appeared later was never read.
func TestDefaultCredentialsRecovers(t *testing.T) {
	home := hermeticCredEnv(t)
	p := DefaultCredentials()
	_, err := p.Retrieve(context.Background())
	var ce *CredentialsError
	require.ErrorAs(t, err, &ce)
	assert.Contains(t, err.Error(), "walked again")

	writeFile(t, filepath.Join(home, ".aliyun", "config.json"), cliConfig)
	c, err := p.Retrieve(context.Background())
	require.NoError(t, err, "the next call walks the chain again")
	assert.Equal(t, "AKCLI", c.AccessKeyID)
}

// TestChainConfiguredSourceFailureEndsTheWalk: a configured source that
// fails does not hand over to a later one (here the instance's own role):
// that would silently run as another identity.
func TestChainConfiguredSourceFailureEndsTheWalk(t *testing.T) {
	home := hermeticCredEnv(t)
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "")
	f := newFakeIMDS(t, "node-role")
	writeFile(t, filepath.Join(home, ".aliyun", "config.json"), `{"current":"x","profiles":[{"name":"x","mode":"NoSuchMode"}]}`)
	p := newChain(ChainOptions{}, f.hooks())
	_, err := p.Retrieve(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "aliyun CLI profile")
	assert.Contains(t, err.Error(), "no later source was tried")
	assert.Zero(t, f.count(), "the instance metadata was not asked")

	// Fixed, the profile is used, still not the instance role.
	writeFile(t, filepath.Join(home, ".aliyun", "config.json"), cliConfig)
	c, err := p.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "AKCLI", c.AccessKeyID)
}

// TestChainMetadataProbeFallsThrough: without a configured role name the
// instance metadata is only a probe; when it fails, the credentials URI is
// tried.
func TestChainMetadataProbeFallsThrough(t *testing.T) {
	hermeticCredEnv(t)
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "")
	f := newFakeIMDS(t, "node-role")
	f.fail = true
	t.Setenv("ALIBABA_CLOUD_CREDENTIALS_URI", credentialsURIServer(t, 200).URL)
	c, err := newChain(ChainOptions{}, f.hooks()).Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "STS.URI", c.AccessKeyID)
	assert.NotZero(t, f.count(), "the metadata service was probed first")
}

// TestChainHonoursContext: a source that hangs holds the caller no longer
// than its context.
func TestChainHonoursContext(t *testing.T) {
	hermeticCredEnv(t)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	t.Cleanup(func() { close(release); srv.Close() })
	t.Setenv("ALIBABA_CLOUD_CREDENTIALS_URI", srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := DefaultCredentials().Retrieve(ctx)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 2*time.Second)
}

// TestChainErrorsWithholdSecrets: a malformed configuration file is quoted
// by credentials-go in its error; kmsclient withholds it.
func TestChainErrorsWithholdSecrets(t *testing.T) {
	home := hermeticCredEnv(t)
	writeFile(t, filepath.Join(home, ".aliyun", "config.json"), `{"current":"x","profiles":[{"name":"x","access_key_secret":"SEKRIT-VALUE"`)
	_, err := DefaultCredentials().Retrieve(context.Background())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "SEKRIT")

	t.Setenv("ALIBABA_CLOUD_CREDENTIALS_URI", "http://user:SEKRIT-PASS@127.0.0.1:1/creds?token=SEKRIT-TOKEN")
	t.Setenv("HOME", t.TempDir())
	_, err = DefaultCredentials().Retrieve(context.Background())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "SEKRIT")
}

func TestSTSHost(t *testing.T) {
	hermeticCredEnv(t)
	cases := []struct {
		endpoint, region string
		vpc              bool
		env              map[string]string
		want             string
		wantErr          bool
	}{
		{want: "sts.aliyuncs.com"},
		{region: "cn-shanghai", want: "sts.cn-shanghai.aliyuncs.com"},
		{region: "cn-shanghai", vpc: true, want: "sts-vpc.cn-shanghai.aliyuncs.com"},
		{env: map[string]string{"ALIBABA_CLOUD_STS_REGION": "cn-beijing", "ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED": "true"}, want: "sts-vpc.cn-beijing.aliyuncs.com"},
		{endpoint: "sts.example.internal:8443", region: "cn-beijing", want: "sts.example.internal:8443"},
		{endpoint: "https://sts.example.internal/", want: "sts.example.internal"},
		{endpoint: "http://sts.example.internal", wantErr: true},
		{endpoint: "sts.example.internal/path", wantErr: true},
		{region: "cn beijing", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.want+tc.endpoint+tc.region, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			got, err := stsHost(tc.endpoint, tc.region, tc.vpc)
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}
