package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestQuickstartOnEmulator runs the demo exactly as `go run` does with no
// credentials, and checks it never prints key material.
func TestQuickstartOnEmulator(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	text := out.String()
	assert.Contains(t, text, "embedded KMS emulator")
	assert.Contains(t, text, "matches: true")
	assert.Contains(t, text, "refused by KMS")
	assert.Contains(t, text, "equal: true")
	assert.Contains(t, text, "[REDACTED 32 bytes]")
	assert.NotContains(t, text, "a small secret such as an API token")
}
