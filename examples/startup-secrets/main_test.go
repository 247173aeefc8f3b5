package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRefusesToStartWithoutDecrypt(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	var out bytes.Buffer
	code := run(context.Background(), &out, false)
	assert.Equal(t, 1, code, out.String())
	text := out.String()
	assert.Contains(t, text, "kms:Decrypt")
	assert.Regexp(t, `acs:kms:cn-hangzhou:\d+:key/key-`, text)
	assert.Contains(t, text, `"Action":["kms:Decrypt"]`, "suggests the statement to add")
	assert.NotContains(t, text, "s3cr3t-never-printed")
}

func TestStartsWithDecrypt(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	var out bytes.Buffer
	code := run(context.Background(), &out, true)
	assert.Equal(t, 0, code, out.String())
	assert.Contains(t, out.String(), "loaded secret orders-db-password version v1")
	assert.NotContains(t, out.String(), "s3cr3t-never-printed")
}
