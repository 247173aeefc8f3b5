package guard_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/guard"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

func setup(t *testing.T, mode guard.Mode, ram string) (*guard.Guard, *testkms.Server, string, string) {
	t.Helper()
	srv := testkms.Start(t)
	acct := srv.DefaultAccount()
	keyID, keyARN, err := srv.CreateKey(acct, testkms.KeyOptions{})
	require.NoError(t, err)
	require.NoError(t, srv.CreateAlias(acct, "alias/app", keyID))
	_, err = srv.CreateSecret(acct, "db", []byte("pw"), testkms.SecretOptions{EncryptionKeyID: keyID})
	require.NoError(t, err)
	root := srv.AddAccount(acct)
	kc, err := kmsclient.New(kmsclient.Config{Region: srv.Region(), Endpoint: "http://" + srv.Endpoint(),
		Credentials: kmsclient.StaticCredentials(root.AccessKeyID, root.AccessKeySecret), MaxAttempts: 1})
	require.NoError(t, err)
	var set localauthz.PolicySet
	user := "acs:ram::" + acct + ":user/svc"
	require.NoError(t, set.Add(localauthz.MustParsePolicy(ram, localauthz.RAMPolicy), user))
	g, err := guard.New(kc, guard.Config{Mode: mode, Principal: user, Policies: &set,
		Facts: guard.Facts{Aliases: map[string]string{"alias/app": keyARN}, SecretKeys: map[string]string{"db": keyARN}}})
	require.NoError(t, err)
	return g, srv, keyID, keyARN
}

func TestGuardModes(t *testing.T) {
	ctx := context.Background()
	onlyGDK := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":"*"}]}`
	for _, tc := range []struct {
		mode       guard.Mode
		wantRefuse bool
	}{{guard.Enforce, true}, {guard.Warn, false}, {guard.Off, false}} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			g, srv, keyID, keyARN := setup(t, tc.mode, onlyGDK)
			dk, err := g.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: "alias/app"})
			require.NoError(t, err)
			before := srv.TotalCalls()
			_, err = g.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: dk.CiphertextBlob, KeyARN: keyARN})
			if tc.wantRefuse {
				var de *guard.DeniedError
				require.ErrorAs(t, err, &de)
				assert.ErrorIs(t, err, kmsclient.ErrAccessDenied)
				assert.Contains(t, err.Error(), "missing kms:Decrypt on "+keyARN)
				assert.Equal(t, before, srv.TotalCalls())
			} else {
				require.NoError(t, err, "the caller is the root here, so KMS allows it")
				assert.Equal(t, before+1, srv.TotalCalls())
			}
			_, err = g.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: "db"})
			if tc.wantRefuse {
				assert.Contains(t, err.Error(), "kms:GetSecretValue")
				assert.Contains(t, err.Error(), "kms:Decrypt on "+keyARN, "the secret's self-managed key needs Decrypt too")
			}
			calls := g.Calls()
			assert.NotEmpty(t, calls)
			assert.Contains(t, calls, guard.CallStat{
				Call:  guard.Call{Operation: "GenerateDataKey", Resource: "acs:kms:" + srv.Region() + ":" + srv.DefaultAccount() + ":alias/app"},
				Count: 1, Facts: localauthz.Facts{AliasTargetKey: keyARN},
			}, "the recorded call keeps the facts it was authorized with")
			_ = keyID
		})
	}
}

func TestGuardAliasNeedsKeyAndAlias(t *testing.T) {
	ctx := context.Background()
	g, _, _, keyARN := setup(t, guard.Enforce, `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:GenerateDataKey","Resource":"acs:kms:*:*:alias/app"}]}`)
	_, err := g.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: "alias/app"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing kms:GenerateDataKey on "+keyARN)
}

func TestGuardDecryptWithoutKeyIsRefusedInEnforce(t *testing.T) {
	g, _, _, _ := setup(t, guard.Enforce, `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:Decrypt","Resource":"acs:kms:*:*:key/*"}]}`)
	_, err := g.Decrypt(context.Background(), &kmsclient.DecryptInput{CiphertextBlob: []byte{1}})
	assert.ErrorIs(t, err, kmsclient.ErrAccessDenied, "a blob of unknown key cannot be authorized locally")
}

func TestNewValidates(t *testing.T) {
	_, err := guard.New(nil, guard.Config{})
	assert.Error(t, err)
}

// TestGuardReviewFindings: cases where the local check used to allow what
// KMS would deny (each refused locally now, so nothing reaches KMS).
func TestGuardReviewFindings(t *testing.T) {
	ctx := context.Background()
	t.Run("a secret named by ARN still needs Decrypt on its key", func(t *testing.T) {
		g, srv, _, keyARN := setup(t, guard.Enforce, `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:GetSecretValue","Resource":"*"}]}`)
		arn := "acs:kms:" + srv.Region() + ":" + srv.DefaultAccount() + ":secret/db"
		_, err := g.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: arn})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "kms:Decrypt on "+keyARN)
	})
	t.Run("an encryption-context Deny applies", func(t *testing.T) {
		g, _, keyID, _ := setup(t, guard.Enforce, `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},
			{"Effect":"Deny","Action":"kms:GenerateDataKey","Resource":"*","Condition":{"StringEquals":{"kms:EncryptionContext:tenant":"acme"}}}]}`)
		_, err := g.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyID, EncryptionContext: map[string]string{"tenant": "acme"}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "explicitly denied")
		_, err = g.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyID, EncryptionContext: map[string]string{"tenant": "globex"}})
		require.NoError(t, err)
	})
	t.Run("a time Deny applies", func(t *testing.T) {
		g, _, keyID, _ := setup(t, guard.Enforce, `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"},
			{"Effect":"Deny","Action":"kms:*","Resource":"*","Condition":{"DateGreaterThan":{"acs:CurrentTime":"2020-01-01T00:00:00Z"}}}]}`)
		_, err := g.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: keyID})
		require.Error(t, err)
	})
	t.Run("ReEncrypt to an alias needs the alias too", func(t *testing.T) {
		g, _, keyID, _ := setup(t, guard.Enforce, `{"Version":"1","Statement":[{"Effect":"Allow","Action":"kms:ReEncrypt*","Resource":"acs:kms:*:*:key/*"}]}`)
		_, err := g.ReEncrypt(ctx, &kmsclient.ReEncryptInput{CiphertextBlob: []byte("x"), SourceKeyARN: keyID, DestinationKeyID: "alias/app"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "kms:ReEncryptTo on acs:kms:")
		assert.Contains(t, err.Error(), ":alias/app")
	})
}
