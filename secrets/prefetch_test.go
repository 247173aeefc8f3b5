package secrets_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

func TestPrefetchIsParallel(t *testing.T) {
	e := newEnv(t)
	names := make([]string, 50)
	for i := range names {
		names[i] = fmt.Sprintf("secret-%02d", i)
		e.secret(t, names[i], "prefetch-value-"+names[i])
	}
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultLatency, Action: "GetSecretValue", Latency: 20 * time.Millisecond})
	c := e.client(t, secrets.Config{Parallelism: 8})
	ctx := context.Background()

	start := time.Now()
	require.NoError(t, c.Prefetch(ctx, names...))
	elapsed := time.Since(start)
	t.Logf("Prefetch of 50 secrets with 20ms latency each, Parallelism 8: %v (serial would take over %v)", elapsed, 50*20*time.Millisecond)
	assert.Less(t, elapsed, time.Second)
	assert.Equal(t, 50, e.calls())
	assert.Equal(t, 50, c.Stats().Entries)

	for _, n := range names {
		v, err := c.Get(ctx, n)
		require.NoError(t, err)
		assert.Equal(t, "prefetch-value-"+n, v.Text())
	}
	assert.Equal(t, 50, e.calls(), "prefetched secrets are served from the cache")

	require.NoError(t, c.Prefetch(ctx, names[:3]...))
	assert.Equal(t, 50, e.calls(), "cached secrets are not fetched again")
}

func TestPrefetchListsEveryFailure(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db-password", "ok-1")
	e.secret(t, "api-key", "ok-2")
	_, err := e.srv.CreateSecret(e.acct, "signing-key", []byte("denied-value"), testkms.SecretOptions{EncryptionKeyID: e.keyID})
	require.NoError(t, err)
	e.srv.Deny(e.cred.Principal, "kms:Decrypt") // denies only secrets under a customer key
	c := e.client(t, secrets.Config{Parallelism: 2})

	err = c.Prefetch(context.Background(), "db-password", "missing-1", "api-key", "signing-key", "missing-2", "db-password")
	require.Error(t, err)
	var pe *secrets.PrefetchError
	require.ErrorAs(t, err, &pe)
	require.Len(t, pe.Failures, 3)
	assert.Equal(t, 5, pe.Total, "duplicates count once")
	assert.Equal(t, "missing-1", pe.Failures[0].Name)
	assert.Equal(t, "signing-key", pe.Failures[1].Name)
	assert.Equal(t, "missing-2", pe.Failures[2].Name)
	assert.ErrorIs(t, pe.Failures[0].Err, kmsclient.ErrNotFound)
	assert.ErrorIs(t, pe.Failures[1].Err, kmsclient.ErrAccessDenied)
	assert.ErrorIs(t, err, kmsclient.ErrAccessDenied, "Unwrap exposes every failure")
	assert.ErrorIs(t, err, kmsclient.ErrNotFound)

	msg := err.Error()
	t.Logf("%s", msg)
	lines := strings.Split(msg, "\n")
	require.Len(t, lines, 4)
	assert.Equal(t, "secrets: 3 of 5 secrets could not be fetched:", lines[0])
	assert.True(t, strings.HasPrefix(lines[1], "  missing-1: kmsclient: GetSecretValue: "), lines[1])
	assert.True(t, strings.HasPrefix(lines[2], "  signing-key: kmsclient: GetSecretValue: "), lines[2])
	assert.Contains(t, lines[2], "kms:Decrypt")
	assert.True(t, strings.HasPrefix(lines[3], "  missing-2: "), lines[3])
	assert.NotContains(t, msg, "denied-value")
	assert.Equal(t, 2, c.Stats().Entries, "the successes are cached")
}

func TestPrefetchHonoursContext(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "slow", "slow-value")
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultLatency, Action: "GetSecretValue", Latency: 2 * time.Second})
	c := e.client(t, secrets.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := c.Prefetch(ctx, "slow")
	var pe *secrets.PrefetchError
	require.ErrorAs(t, err, &pe)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NoError(t, c.Prefetch(context.Background()), "nothing to fetch")
}
