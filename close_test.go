package kmsenvelope_test

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope"
	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// allowAll grants the service account what the world's Client uses.
func allowAll(t *testing.T, w *world) {
	t.Helper()
	w.attach(t, `{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt","kms:ReEncrypt*"],"Resource":["`+w.keyARN+`","`+w.aliasARN+`"]}`,
		`{"Effect":"Allow","Action":"kms:GetSecretValue","Resource":"`+w.secretARN+`"}`)
}

// TestEveryMethodAfterCloseIsErrClosed: after Close every method that
// would reach KMS fails with kmsenvelope.ErrClosed (which secrets.ErrClosed
// and kmsclient.ErrClosed match too), and none reaches the emulator.
func TestEveryMethodAfterCloseIsErrClosed(t *testing.T) {
	w := newWorld(t)
	allowAll(t, w)
	ctx := context.Background()
	c, err := kmsenvelope.New(ctx, w.config(kmsenvelope.PolicyEnforce))
	require.NoError(t, err)
	msg, err := c.Encrypt(ctx, []byte("record"), nil)
	require.NoError(t, err)
	_, err = c.Secret(ctx, "db-password")
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close is idempotent")

	before := w.srv.TotalCalls()
	methods := map[string]func() error{
		"Encrypt": func() error { _, err := c.Encrypt(ctx, []byte("x"), nil); return err },
		"Decrypt": func() error { _, err := c.Decrypt(ctx, msg); return err },
		"Rewrap":  func() error { _, err := c.Rewrap(ctx, msg, w.keyID); return err },
		"RewrapStream": func() error {
			_, err := c.RewrapStream(ctx, io.Discard, bytes.NewReader(msg), w.keyID)
			return err
		},
		"NewWriter": func() error {
			wr, err := c.NewWriter(ctx, io.Discard, nil)
			if err != nil {
				return err
			}
			if _, err := wr.Write([]byte("x")); err != nil {
				return err
			}
			return wr.Close()
		},
		"NewReader": func() error {
			r, err := c.NewReader(ctx, bytes.NewReader(msg))
			if err != nil {
				return err
			}
			_, err = io.ReadAll(r)
			return err
		},
		"Envelope().Decrypt": func() error { _, err := c.Envelope().Decrypt(ctx, msg); return err },
		"Secret":             func() error { _, err := c.Secret(ctx, "db-password"); return err },
		"Secrets().Prefetch": func() error { return c.Secrets().Prefetch(ctx, "db-password") },
		"Secrets().RefreshNow": func() error {
			_, err := c.Secrets().RefreshNow(ctx, "db-password")
			return err
		},
		"KMS().DescribeKey": func() error { _, err := c.KMS().DescribeKey(ctx, w.keyID); return err },
	}
	for name, call := range methods {
		t.Run(name, func(t *testing.T) {
			err := call()
			require.ErrorIs(t, err, kmsenvelope.ErrClosed)
			assert.ErrorIs(t, err, secrets.ErrClosed)
			assert.ErrorIs(t, err, kmsclient.ErrClosed)
		})
	}
	assert.Equal(t, before, w.srv.TotalCalls(), "no request after Close")
}

// TestPreflightAfterCloseCallsNoKMS: Preflight after Close fails with
// ErrClosed and sends nothing (its DryRun probes used to reach KMS).
func TestPreflightAfterCloseCallsNoKMS(t *testing.T) {
	w := newWorld(t)
	allowAll(t, w)
	ctx := context.Background()
	c, err := kmsenvelope.New(ctx, w.config(kmsenvelope.PolicyOff))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	before := w.srv.TotalCalls()
	_, err = c.Preflight(ctx)
	assert.ErrorIs(t, err, kmsenvelope.ErrClosed)
	assert.Equal(t, before, w.srv.TotalCalls(), "Preflight after Close reached KMS")
}

// TestClosedSentinelsAreOne: the root doc promises that secrets.ErrClosed
// matches kmsenvelope.ErrClosed.
func TestClosedSentinelsAreOne(t *testing.T) {
	assert.ErrorIs(t, secrets.ErrClosed, kmsenvelope.ErrClosed)
	assert.ErrorIs(t, kmsenvelope.ErrClosed, secrets.ErrClosed)
	assert.ErrorIs(t, kmsclient.ErrClosed, kmsenvelope.ErrClosed)
}

// TestCloseCancelsFetchesInFlight: a Decrypt and a Secret waiting on a KMS
// that does not answer return ErrClosed once Close is called, instead of
// running out the 30-second fetch timeout, and Close returns after them.
func TestCloseCancelsFetchesInFlight(t *testing.T) {
	w := newWorld(t)
	allowAll(t, w)
	ctx := context.Background()
	c, err := kmsenvelope.New(ctx, w.config(kmsenvelope.PolicyEnforce))
	require.NoError(t, err)
	msg, err := c.Encrypt(ctx, []byte("record"), nil)
	require.NoError(t, err)
	require.NoError(t, c.Close())
	// A second client, which has not unwrapped msg's data key: its Decrypt
	// must ask KMS. (Its own Encrypt resolves its alias first, so that key
	// trust is settled before KMS turns slow.)
	d, err := kmsenvelope.New(ctx, w.config(kmsenvelope.PolicyEnforce))
	require.NoError(t, err)
	_, err = d.Encrypt(ctx, []byte("other"), nil)
	require.NoError(t, err)

	w.srv.InjectFault(testkms.Fault{Kind: testkms.FaultLatency, Latency: time.Minute})
	before := w.srv.TotalCalls()
	errc := make(chan error, 2)
	go func() { _, err := d.Decrypt(ctx, msg); errc <- err }()
	go func() { _, err := d.Secret(ctx, "db-password"); errc <- err }()
	require.Eventually(t, func() bool { return w.srv.TotalCalls() >= before+2 }, 20*time.Second, 5*time.Millisecond,
		"both calls reached the (slow) emulator")
	closed := make(chan struct{})
	go func() { _ = d.Close(); close(closed) }()
	for range 2 {
		select {
		case err := <-errc:
			assert.ErrorIs(t, err, kmsenvelope.ErrClosed)
		case <-time.After(20 * time.Second): // a hang guard, well under the 30s fetch timeout
			t.Fatal("a call still waits on KMS after Close")
		}
	}
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("Close did not return")
	}
}

// TestNewCloseCyclesLeaveNoGoroutines: ten Clients that each made KMS
// calls and were closed leave the goroutine count where it was (the
// emulator's connection goroutines included: closing idle connections ends
// them).
func TestNewCloseCyclesLeaveNoGoroutines(t *testing.T) {
	w := newWorld(t)
	allowAll(t, w)
	ctx := context.Background()
	cycle := func() {
		c, err := kmsenvelope.New(ctx, w.config(kmsenvelope.PolicyEnforce))
		require.NoError(t, err)
		msg, err := c.Encrypt(ctx, []byte("record"), nil)
		require.NoError(t, err)
		_, err = c.Decrypt(ctx, msg)
		require.NoError(t, err)
		_, err = c.Secret(ctx, "db-password")
		require.NoError(t, err)
		require.NoError(t, c.Close())
	}
	cycle() // warm up: lazily started runtime and emulator goroutines
	settle := func(limit int) int {
		n := runtime.NumGoroutine()
		for i := 0; i < 500 && n > limit; i++ {
			time.Sleep(10 * time.Millisecond)
			n = runtime.NumGoroutine()
		}
		return n
	}
	base := runtime.NumGoroutine()
	for i := 0; i < 100; i++ { // until it stops falling
		time.Sleep(20 * time.Millisecond)
		n := runtime.NumGoroutine()
		if n == base {
			break
		}
		base = n
	}
	for range 10 {
		cycle()
	}
	after := settle(base + 2)
	t.Logf("goroutines: %d before 10 New/Close cycles, %d after", base, after)
	assert.LessOrEqual(t, after, base+2, "goroutines did not return to the baseline")
}
