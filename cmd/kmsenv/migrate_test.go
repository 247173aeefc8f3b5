package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/envelope/aliyunesdk"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// TestMigrate: an Alibaba Encryption SDK message becomes a kmsenvelope
// message under the new key with the same context, atomically; the legacy
// message's context and key trust are checked first (issue 16, item 3).
func TestMigrate(t *testing.T) {
	f := startKMS(t)
	ctx := context.Background()
	kc, err := kmsclient.New(f.srv.KMSClientConfig(f.cred))
	require.NoError(t, err)
	defer kc.Close()
	env, err := envelope.New(envelope.Config{Keys: []envelope.WrappingKey{{KeyID: f.keyARN, KMS: kc}}})
	require.NoError(t, err)
	enc, err := aliyunesdk.NewEncrypter(env, aliyunesdk.AESGCM256)
	require.NoError(t, err)
	legacy, err := enc.Encrypt(ctx, []byte("from the Java service"), map[string]string{"app": "billing"})
	require.NoError(t, err)
	dir := t.TempDir()
	in := filepath.Join(dir, "order.bin")
	writeFile(t, in, legacy)

	// The legacy key is trusted only when named.
	code, _, errOut := runCmd("migrate", "--key-id", f.key2, "--context", "app=billing", in)
	assert.Equal(t, exitFail, code, errOut)
	assert.NoFileExists(t, in+".kmsenv", "nothing is written unless the legacy message authenticated")
	code, _, errOut = runCmd("migrate", "--key-id", f.key2, "--allowed-key", f.keyARN, "--context", "app=other", in)
	assert.Equal(t, exitFail, code, errOut)
	assert.NoFileExists(t, in+".kmsenv")

	meta := filepath.Join(dir, "report.jsonl")
	code, _, errOut = runCmd("migrate", "--key-id", f.key2, "--allowed-key", f.keyARN, "--context", "app=billing", "--metadata-output", meta, in)
	require.Equal(t, exitOK, code, errOut)
	report, err := os.ReadFile(meta)
	require.NoError(t, err)
	assert.Contains(t, string(report), `"format"`)
	assert.Contains(t, string(report), f.keyARN)

	code, out, errOut := runCmd("decrypt", "--key-id", f.key2, "--context", "app=billing", "-o", "-", in+".kmsenv")
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "from the Java service", out)
	h, err := envelope.ParseHeader(mustRead(t, in+".kmsenv"))
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(h.WrappedKeys[0].KeyARN, "/"+f.key2), "under the new key")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
