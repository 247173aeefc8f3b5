package kmsenvelope_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	kmsenvelope "github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// eventually polls cond for up to 10 s (a bound on waiting, not an
// assertion about speed).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

const grantKey = `{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"*"}`

// TestLivePoliciesRefreshOnInterval (issue 12, finding 4): live policies
// were read once, at New. A grant made afterwards now reaches the local
// check at the next refresh.
func TestLivePoliciesRefreshOnInterval(t *testing.T) {
	w := newWorld(t)
	w.attach(t) // may read its own policies, nothing more
	ctx := context.Background()
	cfg := w.config(kmsenvelope.PolicyEnforce)
	cfg.SecretNames = nil
	cfg.PolicyRefresh = 20 * time.Millisecond
	cfg.MaxPolicyAge = time.Hour // a loaded machine must not make the set stale here
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Encrypt(ctx, []byte("x"), nil)
	var de *kmsenvelope.DeniedError
	require.ErrorAs(t, err, &de, "refused locally at first")

	w.attach(t, grantKey) // granted in RAM after New
	eventually(t, "the grant to reach the local check", func() bool {
		_, err := c.Encrypt(ctx, []byte("x"), nil)
		return err == nil
	})
	st := c.Stats().Policies
	assert.NotZero(t, st.Refreshes)
	assert.False(t, st.Stale)
	assert.Equal(t, "live policies", st.Source)
}

// TestDisagreementTriggersRefresh: with a long interval, a revocation KMS
// enforces is learned from the first call KMS denies although the local
// check allowed it; the next call is refused locally.
func TestDisagreementTriggersRefresh(t *testing.T) {
	w := newWorld(t)
	w.attach(t, grantKey)
	ctx := context.Background()
	cfg := w.config(kmsenvelope.PolicyEnforce)
	cfg.SecretNames = nil
	cfg.PolicyRefresh = time.Hour
	cfg.Envelope = nil
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Encrypt(ctx, []byte("x"), map[string]string{"n": "1"})
	require.NoError(t, err)

	w.attach(t)                                                       // revoked in RAM
	_, err = c.Encrypt(ctx, []byte("x"), map[string]string{"n": "2"}) // a new context: a new data key
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
	var de *kmsenvelope.DeniedError
	require.False(t, errors.As(err, &de), "KMS denied it, not the local check")
	eventually(t, "the refresh", func() bool { return c.Stats().Policies.Refreshes > 0 })
	assert.EqualValues(t, 1, c.Stats().Policies.Disagreements)
	before := w.srv.TotalCalls()
	_, err = c.Encrypt(ctx, []byte("x"), map[string]string{"n": "3"})
	require.ErrorAs(t, err, &de, "now refused locally")
	assert.Equal(t, before, w.srv.TotalCalls(), "nothing was sent")
}

// TestFailedRefreshKeepsLastGoodSetAndStaleDefersToKMS: a refresh that
// fails keeps the set in use and says so; once the set is older than
// MaxPolicyAge, Enforce lets KMS decide rather than refuse on old
// knowledge.
func TestFailedRefreshKeepsLastGoodSetAndStaleDefersToKMS(t *testing.T) {
	w := newWorld(t)
	w.attach(t) // nothing granted
	ctx := context.Background()
	cfg := w.config(kmsenvelope.PolicyEnforce)
	cfg.SecretNames = nil
	cfg.PolicyRefresh = 20 * time.Millisecond
	cfg.MaxPolicyAge = 3 * time.Second // well above a loaded machine's scheduling delays
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err)
	defer c.Close()
	w.srv.InjectFault(testkms.Fault{Kind: testkms.FaultUnavailable, Action: "ListPoliciesForUser"})
	eventually(t, "a failed refresh", func() bool { return c.Stats().Policies.RefreshFailures > 0 })
	st := c.Stats().Policies
	assert.NotEmpty(t, st.LastRefreshError)
	_, err = c.Encrypt(ctx, []byte("x"), nil)
	var de *kmsenvelope.DeniedError
	require.ErrorAs(t, err, &de, "the last good set still decides while fresh enough")

	w.attach(t, grantKey) // granted, but the client cannot re-read
	eventually(t, "the set to go stale", func() bool { return c.Stats().Policies.Stale })
	_, err = c.Encrypt(ctx, []byte("x"), nil)
	require.NoError(t, err, "KMS decided, and allowed it")
	st = c.Stats().Policies
	assert.NotZero(t, st.StaleDeferrals)
	assert.NotZero(t, st.Disagreements, "KMS allowed what the stale set did not")
}

// TestEnforceNeedsEveryApplicablePolicy: a review found that Enforce noted
// an unreadable key policy and went on without it, so a Deny in it was
// never checked locally (a policy that does not parse was already fatal).
// Now New refuses to enforce without it.
func TestEnforceNeedsEveryApplicablePolicy(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	keyID, keyARN, err := w.srv.CreateKey(w.acct, testkms.KeyOptions{InstanceID: "kst-test"})
	require.NoError(t, err)
	w.attach(t, grantKey) // no kms:GetKeyPolicy
	cfg := w.config(kmsenvelope.PolicyEnforce)
	cfg.KeyID, cfg.SecretNames = keyID, nil
	_, err = kmsenvelope.New(ctx, cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "key policy of "+keyARN)

	cfg.PolicyMode = kmsenvelope.PolicyWarn
	c, err := kmsenvelope.New(ctx, cfg)
	require.NoError(t, err, "warn mode notes it and goes on")
	defer c.Close()
	rep, err := c.Preflight(ctx)
	require.NoError(t, err)
	assert.Contains(t, rep.Text(), "could not read the key policy")
}
