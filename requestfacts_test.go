package kmsenvelope_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kmsenvelope "github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// fakeECSMetadata serves IMDSv2 as ECS does: a token from PUT
// /latest/api/token, then meta-data only with that token.
func fakeECSMetadata(t *testing.T, vpcID string) *httptest.Server {
	t.Helper()
	const token = "imds-token"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" && r.Header.Get("X-aliyun-ecs-metadata-token-ttl-seconds") != "":
			_, _ = w.Write([]byte(token))
		case r.Method == http.MethodGet && r.URL.Path == "/latest/meta-data/vpc-id" && r.Header.Get("X-aliyun-ecs-metadata-token") == token:
			_, _ = w.Write([]byte(vpcID))
		default:
			http.Error(w, "forbidden", http.StatusForbidden)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestRequestFactsDecideConditions (issue 12, item 1): a policy whose
// Allow rests on acs:SourceVpc is Conditional while the Client does not
// know its VPC (not a denial, and no suggestion to drop the condition), and
// Allow once it knows it, from Config or from ECS metadata. In Enforce a
// Conditional call is sent to KMS and counted; StrictConditions refuses it.
func TestRequestFactsDecideConditions(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	doc := `{"Version":"1","Statement":[{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*",
		"Condition":{"StringEquals":{"acs:SourceVpc":"vpc-abc"}}}]}`
	base := func() kmsenvelope.Config {
		cfg := w.config(kmsenvelope.PolicyEnforce)
		cfg.LivePolicies, cfg.SecretNames, cfg.Principal = false, nil, w.user
		cfg.KeyID = w.keyARN // on an instance gateway alone, an alias cannot be resolved
		cfg.Policies = []kmsenvelope.Policy{{Kind: localauthz.RAMPolicy, Name: "vpc-only.json", Document: []byte(doc)}}
		cfg.KMS = func(k *kmsclient.Config) { k.MaxAttempts = 1; k.InstanceGateway = true }
		return cfg
	}
	op := func(t *testing.T, cfg kmsenvelope.Config) (*kmsenvelope.Client, kmsenvelope.OperationCheck) {
		t.Helper()
		c, err := kmsenvelope.New(ctx, cfg)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		rep, err := c.Preflight(ctx)
		require.NoError(t, err)
		require.NotEmpty(t, rep.Operations)
		return c, rep.Operations[0]
	}

	t.Run("unknown VPC: conditional, never a widening grant", func(t *testing.T) {
		c, got := op(t, base())
		require.NotNil(t, got.Local)
		assert.Equal(t, localauthz.Conditional, got.Local.Decision.Effect)
		assert.Contains(t, got.Local.Decision.ConditionKeys, "acs:SourceVpc")
		text := got.Local.Text()
		assert.NotContains(t, text, `"Action":["kms:GenerateDataKey"]`, "no suggestion to grant without the condition")
		before := w.srv.Calls("GenerateDataKey")
		_, err := c.Encrypt(ctx, []byte("x"), nil)
		require.NoError(t, err, "Enforce sends a conditional call to KMS, which decides")
		assert.Equal(t, before+1, w.srv.Calls("GenerateDataKey"))
		assert.NotZero(t, c.Stats().Policies.ConditionalCalls)
	})
	t.Run("strict conditions refuse it locally", func(t *testing.T) {
		cfg := base()
		cfg.StrictConditions = true
		c, _ := op(t, cfg)
		before := w.srv.TotalCalls()
		_, err := c.Encrypt(ctx, []byte("x"), nil)
		var de *kmsenvelope.DeniedError
		require.ErrorAs(t, err, &de)
		assert.Equal(t, before, w.srv.TotalCalls())
	})
	t.Run("VPC from Config", func(t *testing.T) {
		cfg := base()
		cfg.RequestFacts.SourceVPC = "vpc-abc"
		_, got := op(t, cfg)
		assert.Equal(t, localauthz.Allow, got.Local.Decision.Effect)
		cfg.RequestFacts.SourceVPC = "vpc-other"
		_, got = op(t, cfg)
		assert.Equal(t, localauthz.ImplicitDeny, got.Local.Decision.Effect)
	})
	t.Run("VPC from ECS metadata", func(t *testing.T) {
		t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "false")
		cfg := base()
		cfg.RequestFacts.DetectECS = true
		cfg.RequestFacts.ECSMetadataEndpoint = fakeECSMetadata(t, "vpc-abc").URL
		_, got := op(t, cfg)
		assert.Equal(t, localauthz.Allow, got.Local.Decision.Effect, got.Local.Text())
	})
	t.Run("metadata failure is a note, and the key stays unknown", func(t *testing.T) {
		t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "false")
		cfg := base()
		cfg.RequestFacts.DetectECS = true
		cfg.RequestFacts.ECSMetadataEndpoint = fakeECSMetadata(t, "not-a-vpc").URL
		c, got := op(t, cfg)
		assert.Equal(t, localauthz.Conditional, got.Local.Decision.Effect)
		rep, err := c.Preflight(ctx)
		require.NoError(t, err)
		assert.Contains(t, rep.Text(), "could not read the VPC id from ECS instance metadata")
		// KMS's DryRun saw the real request and settles it; the report says
		// the local decision was conditional.
		assert.Equal(t, kmsenvelope.StatusAllowed, rep.Operations[0].Status)
		assert.Contains(t, rep.Operations[0].Reason, "conditional on acs:SourceVpc")
	})
}

// TestSourceIPConditionIsNotRefusedLocally is issue 12's finding 1 through
// the emulator: a RAM policy with an acs:SourceIp condition that KMS allows
// was refused locally in Enforce (0 requests sent), and Preflight advised
// granting the statement without its condition.
func TestSourceIPConditionIsNotRefusedLocally(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.attach(t, `{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt","kms:GenerateDataKeyWithoutPlaintext"],"Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"203.0.113.0/24"}}}`)
	require.NoError(t, w.srv.SetRequestFacts(w.cred.AccessKeyID, testkms.RequestFacts{SourceIP: "203.0.113.7"}))
	cfg := w.config(kmsenvelope.PolicyEnforce)
	cfg.SecretNames = nil
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	before := w.srv.Calls("GenerateDataKey")
	msg, err := c.Encrypt(ctx, []byte("record"), nil)
	require.NoError(t, err, "KMS allows it, so the Client must not refuse it")
	assert.Equal(t, before+1, w.srv.Calls("GenerateDataKey"), "the call was sent")
	_, err = c.Decrypt(ctx, msg)
	require.NoError(t, err)

	rep, err := c.Preflight(ctx)
	require.NoError(t, err)
	text := rep.Text()
	assert.True(t, rep.OK(), text)
	assert.Contains(t, text, "conditional on acs:SourceIp")
	assert.NotContains(t, text, `"Action":["kms:GenerateDataKey"]`, "no grant that drops the condition")

	// From an address outside the range KMS denies, and so does the
	// report (DryRun), still without suggesting to widen the policy.
	require.NoError(t, w.srv.SetRequestFacts(w.cred.AccessKeyID, testkms.RequestFacts{SourceIP: "198.51.100.9"}))
	rep, err = c.Preflight(ctx)
	require.NoError(t, err)
	assert.False(t, rep.OK())
	assert.NotContains(t, rep.Text(), `"Action":["kms:GenerateDataKey"]`)
}
