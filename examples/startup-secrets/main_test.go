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
	code := run(context.Background(), &out, options{})
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
	code := run(context.Background(), &out, options{grantDecrypt: true})
	assert.Equal(t, 0, code, out.String())
	assert.Contains(t, out.String(), "loaded secret orders-db-password version v1")
	assert.NotContains(t, out.String(), "s3cr3t-never-printed")
}

// TestShowsConditionalAndDisagreement: the GetSecretValue grant rests on
// acs:SourceIp, which the service does not know: the local decision is
// conditional and KMS's DryRun settles it; with an out-of-date policy
// file, the local check allows what KMS's DryRun denies, and the report
// says so (issue 12).
func TestShowsConditionalAndDisagreement(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	var out bytes.Buffer
	code := run(context.Background(), &out, options{grantDecrypt: true})
	assert.Equal(t, 0, code, out.String())
	assert.Contains(t, out.String(), "conditional on acs:SourceIp")

	out.Reset()
	code = run(context.Background(), &out, options{stalePolicy: true})
	assert.Equal(t, 1, code, out.String())
	text := out.String()
	assert.Contains(t, text, "DISAGREEMENT")
	assert.Contains(t, text, "missing kms:Decrypt")
	assert.NotContains(t, text, "all operations allowed")
}
