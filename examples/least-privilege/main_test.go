package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPrintsMinimalPolicy(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	text := out.String()
	for _, want := range []string{"kms:GenerateDataKey", "kms:Decrypt", "kms:GetSecretValue", ":alias/orders", ":secret/orders-db-password"} {
		assert.Contains(t, text, want)
	}
	assert.NotContains(t, text, "kms:*")
	assert.NotContains(t, text, "never printed")
}
