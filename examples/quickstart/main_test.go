package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQuickstartOnEmulator runs the demo exactly as `go run` does with no
// credentials, and checks it never prints secrets or key material.
func TestQuickstartOnEmulator(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out), out.String())
	text := out.String()
	for _, want := range []string{"embedded KMS emulator", "all operations allowed", "identical: true",
		"globex refused: true", "conditional on acs:SourceIp", "secret quickstart-api-token: version", "data keys: 4 KMS fetches, 99 cache hits", "secrets: 1 KMS fetches, 1 cache hits", "done"} {
		assert.Contains(t, text, want)
	}
	for _, secret := range []string{"never-printed-token", "4242 4242"} {
		assert.NotContains(t, text, secret)
	}
}
