package kmsclient

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestConfiguredProfileFailureEndsTheWalk: a review found that a CLI
// profile that is configured but fails (a bad mode, STS down for its role,
// a missing named file) handed over to the credentials file's default
// profile, another identity, and that ALIBABA_CLOUD_PROFILE naming a
// profile no file holds passed over to later sources. Each now ends the
// walk with its own error; only a CLI file that lacks the profile hands
// over.
func TestConfiguredProfileFailureEndsTheWalk(t *testing.T) {
	for name, setup := range map[string]func(t *testing.T, home string){
		"bad mode": func(t *testing.T, home string) {
			writeFile(t, filepath.Join(home, ".aliyun", "config.json"), `{"current":"prod","profiles":[{"name":"prod","mode":"NoSuchMode"}]}`)
			writeFile(t, filepath.Join(home, ".alibabacloud", "credentials"), credentialsFile)
		},
		"role profile with STS down": func(t *testing.T, home string) {
			writeFile(t, filepath.Join(home, ".aliyun", "config.json"), `{"current":"prod","profiles":[{"name":"prod","mode":"RamRoleArn","access_key_id":"AKBASE","access_key_secret":"s","ram_role_arn":"acs:ram::1:role/prod","ram_session_name":"x","sts_region":"cn-hangzhou","sts_endpoint":"127.0.0.1:1"}]}`)
			writeFile(t, filepath.Join(home, ".alibabacloud", "credentials"), credentialsFile)
		},
		"named config file missing": func(t *testing.T, home string) {
			t.Setenv("ALIBABA_CLOUD_CONFIG_FILE", filepath.Join(home, "nope.json"))
			writeFile(t, filepath.Join(home, ".alibabacloud", "credentials"), credentialsFile)
		},
		"named profile, no file": func(t *testing.T, home string) {
			t.Setenv("ALIBABA_CLOUD_PROFILE", "prod")
			t.Setenv("ALIBABA_CLOUD_CREDENTIALS_URI", credentialsURIServer(t, 200).URL)
		},
	} {
		t.Run(name, func(t *testing.T) {
			home := hermeticCredEnv(t)
			setup(t, home)
			c, err := newChain(ChainOptions{}, chainHooks{}).Retrieve(context.Background())
			require.Error(t, err, "got credentials %q from a later source", c.AccessKeyID)
			assert.Contains(t, err.Error(), "configured")
		})
	}
}
