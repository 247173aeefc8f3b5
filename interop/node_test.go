package interop

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nodePackages are the npm packages node/interop.js loads (node/package.json,
// installed by `npm ci` in interop/node, as .ci/run does).
var nodePackages = []string{"@alicloud/pop-core", "@alicloud/kms20160120", "@alicloud/openapi-client", "@alicloud/tea-util"}

// needNode skips the test unless node and the npm packages are there.
func needNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not on PATH: the Node SDK interop tests need Node.js and `npm ci` in interop/node")
	}
	for _, p := range nodePackages {
		if _, err := os.Stat(filepath.Join("node", "node_modules", p, "package.json")); err != nil {
			t.Skipf("npm package %s is not installed: run `npm ci` in interop/node (.ci/run does when the npm registry is reachable)", p)
		}
	}
	return node
}

// nodeStep is the outcome of one call in node/interop.js.
type nodeStep struct {
	OK               bool   `json:"ok"`
	Code             string `json:"code"`
	Message          string `json:"message"`
	KeyID            string `json:"keyId"`
	PlaintextBytes   int    `json:"plaintextBytes"`
	PlaintextMatches bool   `json:"plaintextMatches"`
	Value            string `json:"value"`
	VersionID        string `json:"versionId"`
}

type nodeResult struct {
	Client              string    `json:"client"`
	GenerateDataKey     nodeStep  `json:"generateDataKey"`
	DecryptRightContext nodeStep  `json:"decryptRightContext"`
	DecryptWrongContext nodeStep  `json:"decryptWrongContext"`
	GetSecretValue      nodeStep  `json:"getSecretValue"`
	MapContext          *nodeStep `json:"mapContext"`
	FormBody            *nodeStep `json:"formBody"`
	BadSignature        nodeStep  `json:"badSignature"`
}

func runNode(t *testing.T, node string, e *emulator, client string) nodeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "interop.js", client)
	cmd.Dir = "node"
	cmd.Env = os.Environ()
	for k, v := range e.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if ca := e.env["KMS_CA_FILE"]; ca != "" {
		cmd.Env = append(cmd.Env, "NODE_EXTRA_CA_CERTS="+ca)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoErrorf(t, cmd.Run(), "node interop.js %s: %s\nemulator log:\n%s", client, stderr.String(), e.stderr())
	var r nodeResult
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&r))
	return r
}

func TestNodeSDKs(t *testing.T) {
	node := needNode(t)
	clients := []struct {
		name      string
		signature string // as the emulator logs it
	}{
		{"pop-core", "1.0"},
		{"kms20160120", "1.0"},
		{"openapi-client", "ACS3-HMAC-SHA256"},
	}
	for _, protocol := range []string{"HTTP", "HTTPS"} {
		for _, c := range clients {
			t.Run(protocol+"/"+c.name, func(t *testing.T) {
				args := []string{"--seed", seedFile, "--enforce", "--credential", appKeyID}
				if protocol == "HTTPS" {
					args = append(args, "--tls", "--ca-out", filepath.Join(t.TempDir(), "ca.pem"))
				}
				e := startEmulator(t, args...)
				r := runNode(t, node, e, c.name)
				assert.Equal(t, c.name, r.Client)

				assert.Truef(t, r.GenerateDataKey.OK, "GenerateDataKey: %+v", r.GenerateDataKey)
				assert.Equal(t, keyID, r.GenerateDataKey.KeyID)
				assert.Equal(t, 32, r.GenerateDataKey.PlaintextBytes)

				assert.Truef(t, r.DecryptRightContext.OK, "Decrypt, right context: %+v", r.DecryptRightContext)
				assert.True(t, r.DecryptRightContext.PlaintextMatches)

				assert.Falsef(t, r.DecryptWrongContext.OK, "Decrypt, wrong context: %+v", r.DecryptWrongContext)
				assert.Equal(t, "InvalidCiphertext", r.DecryptWrongContext.Code)

				assert.Truef(t, r.GetSecretValue.OK, "GetSecretValue: %+v", r.GetSecretValue)
				assert.Equal(t, secretValue, r.GetSecretValue.Value)

				assert.False(t, r.BadSignature.OK)
				assert.Equal(t, "SignatureDoesNotMatch", r.BadSignature.Code)

				if c.name == "openapi-client" {
					require.NotNil(t, r.FormBody)
					assert.Truef(t, r.FormBody.OK, "GenerateDataKey and Decrypt with a form body: %+v", r.FormBody)
					assert.True(t, r.FormBody.PlaintextMatches)
				}
				if c.name == "kms20160120" {
					// The typed client's own EncryptionContext map goes out
					// flattened (EncryptionContext.tenant=a), which the
					// emulator refuses rather than drop the context.
					require.NotNil(t, r.MapContext)
					assert.False(t, r.MapContext.OK)
					assert.Equal(t, "InvalidParameter", r.MapContext.Code)
				}

				require.NoError(t, e.stop(t))
				logs := e.stderr()
				for _, action := range []string{"GenerateDataKey", "Decrypt", "GetSecretValue"} {
					assert.Contains(t, logs, `"`+action+`" principal=acs:ram::1234567890123456:user/app signature=`+c.signature+" status=200 decision=allowed")
				}
				assert.Contains(t, logs, "signature="+c.signature+" status=400 decision=unauthenticated code=SignatureDoesNotMatch")
				assert.NotContains(t, logs, secretValue)
				assert.False(t, strings.Contains(logs, appSecret))
			})
		}
	}
}
