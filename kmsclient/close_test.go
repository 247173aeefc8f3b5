package kmsclient_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// TestCloseRefusesLaterCallsWithoutARequest: after Close every operation
// fails with ErrClosed and the emulator sees nothing.
func TestCloseRefusesLaterCallsWithoutARequest(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.client.DescribeKey(ctx, e.keyID)
	require.NoError(t, err)
	require.NoError(t, e.client.Close())
	require.NoError(t, e.client.Close(), "Close is idempotent")
	assert.True(t, e.client.Closed())

	before := e.srv.TotalCalls()
	calls := map[string]func() error{
		"GenerateDataKey": func() error {
			_, err := e.client.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: e.keyID})
			return err
		},
		"Decrypt": func() error {
			_, err := e.client.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: []byte("x")})
			return err
		},
		"DescribeKey": func() error { _, err := e.client.DescribeKey(ctx, e.keyID); return err },
		"GetSecretValue": func() error {
			_, err := e.client.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: "s"})
			return err
		},
		"GetCallerIdentity": func() error { _, err := e.client.GetCallerIdentity(ctx); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			require.ErrorIs(t, err, kmsclient.ErrClosed)
			assert.Contains(t, err.Error(), name)
			var re *kmsclient.RequestError
			assert.False(t, errors.As(err, &re), "not a request failure: no request was made")
		})
	}
	assert.Equal(t, before, e.srv.TotalCalls(), "no request after Close")
}

// TestCloseCancelsCallsInProgress: a call waiting on a slow KMS ends with
// ErrClosed as soon as Close is called, and Close returns after it.
func TestCloseCancelsCallsInProgress(t *testing.T) {
	e := newEnv(t)
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultLatency, Latency: time.Minute})
	errc := make(chan error, 1)
	go func() {
		_, err := e.client.GenerateDataKey(context.Background(), &kmsclient.GenerateDataKeyInput{KeyID: e.keyID})
		errc <- err
	}()
	require.Eventually(t, func() bool { return e.srv.TotalCalls() > 0 }, 10*time.Second, 5*time.Millisecond, "the call reached the emulator")
	require.NoError(t, e.client.Close())
	// Close has waited for the call to return; the goroutine's send of its
	// result may still be on its way, so wait for it (a bound, not a
	// speed assertion: the emulator would answer only after a minute).
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, kmsclient.ErrClosed)
		assert.NotErrorIs(t, err, context.Canceled, "the cause is Close, not a caller's cancellation")
	case <-time.After(10 * time.Second):
		t.Fatal("the call Close cancelled did not return")
	}
}

// TestCloseReleasesConnections: many clients that each made calls and were
// closed leave no connection goroutines behind.
func TestCloseReleasesConnections(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	base := runtime.NumGoroutine()
	for range 10 {
		c, err := kmsclient.New(fastConfig(e.srv, e.cred))
		require.NoError(t, err)
		_, err = c.DescribeKey(ctx, e.keyID)
		require.NoError(t, err)
		require.NoError(t, c.Close())
	}
	settled := func() bool { return runtime.NumGoroutine() <= base+2 }
	for i := 0; i < 200 && !settled(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	assert.LessOrEqual(t, runtime.NumGoroutine(), base+2, "goroutines did not return to the baseline")
}

// TestConfigErrorUnwrapsToSentinel: errors.Is(err, ErrInvalidConfig) holds
// for every invalid field.
func TestConfigErrorUnwrapsToSentinel(t *testing.T) {
	for _, cfg := range []kmsclient.Config{{}, {Region: "cn-hangzhou", MaxAttempts: -1}, {Region: "cn-hangzhou", Endpoint: "https://kms.example.com/x"}} {
		_, err := kmsclient.New(cfg)
		require.ErrorIs(t, err, kmsclient.ErrInvalidConfig)
		var ce *kmsclient.ConfigError
		require.ErrorAs(t, err, &ce)
		assert.NotEmpty(t, ce.Field)
	}
}
