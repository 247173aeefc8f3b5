package secrets_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// TestExplainMayCallTheClient: Explain runs without the client's lock, so
// it may call Get (it used to deadlock).
func TestExplainMayCallTheClient(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "other", "x")
	var c *secrets.Client
	c = e.client(t, secrets.Config{Explain: func(name string, err error) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, gerr := c.Get(ctx, "other")
		return fmt.Errorf("explained (other: %v): %w", gerr, err)
	}})
	_, err := c.Get(context.Background(), "missing")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "explained (other: <nil>)")
}

// TestOnChangeMayClose: OnChange runs after its fetch has left the group
// Close waits for, so it may call Close (it used to wait for itself).
func TestOnChangeMayClose(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db", "one")
	clock := newFakeClock()
	closed := make(chan error, 1)
	var c *secrets.Client
	cfg := manual(clock)
	cfg.OnChange = func(secrets.Change) { closed <- c.Close() }
	c = e.client(t, cfg)
	_, err := c.Get(context.Background(), "db")
	require.NoError(t, err)
	e.put(t, "db", "two", "v2")
	clock.Advance(2 * time.Minute)
	_, err = c.Get(context.Background(), "db")
	require.NoError(t, err)
	select {
	case err := <-closed:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Close from OnChange did not return")
	}
}

// TestStaleServedWhenKMSHangs: past its TTL, within StaleIfError, a Get
// whose deadline comes before a hanging KMS answers gets the stale value,
// not the deadline error.
func TestStaleServedWhenKMSHangs(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db", "one")
	clock := newFakeClock()
	c := e.client(t, manual(clock))
	_, err := c.Get(context.Background(), "db")
	require.NoError(t, err)
	clock.Advance(2 * time.Minute) // expired, well inside the default StaleIfError
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultLatency, Action: "GetSecretValue", Latency: 5 * time.Second, Count: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	v, err := c.Get(ctx, "db")
	require.NoError(t, err)
	assert.True(t, v.Stale())
	assert.Equal(t, "one", v.Text())
}

// TestNoFetchForAGoneCaller: a Get whose context is already done starts no
// fetch.
func TestNoFetchForAGoneCaller(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db", "one")
	c := e.client(t, secrets.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Get(ctx, "db")
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, e.calls())
}

// TestNamesWithControlCharacters: a name holding the cache key separator
// cannot reach another secret's stage entry.
func TestNamesWithControlCharacters(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "a", "current")
	c := e.client(t, secrets.Config{})
	_, err := c.Get(context.Background(), "a", secrets.Stage("ACSCurrent"))
	require.NoError(t, err)
	_, err = c.Get(context.Background(), "a", secrets.Stage("ACSPrevious"))
	require.Error(t, err) // no previous version; nothing cached either way
	for _, name := range []string{"a\x00stage\x00ACSCurrent", "a\nb"} {
		_, err := c.Get(context.Background(), name)
		require.Error(t, err, "%q", name)
		assert.Contains(t, err.Error(), "control character")
		_, err = c.RefreshNow(context.Background(), name)
		require.Error(t, err)
	}
}

// TestValueCopyInUnexportedField: fmt prints an unexported field's value
// field by field, without its methods; the bytes are behind a pointer.
func TestValueCopyInUnexportedField(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db", "hunter2")
	c := e.client(t, secrets.Config{})
	v, err := c.Get(context.Background(), "db")
	require.NoError(t, err)
	holder := struct{ pw secrets.Value }{*v}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%q", "%d"} {
		out := fmt.Sprintf(verb, holder)
		assert.NotContains(t, out, "hunter2", verb)
		assert.NotContains(t, out, "104 117 110", verb) // the bytes as numbers
		assert.NotContains(t, out, "68756e74657232", verb)
	}
}

// TestFailuresAreRemembered: a secret that cannot be fetched (here: it does
// not exist) is not asked for again on every Get, only after a retry delay
// (1s doubling to 1m); RefreshNow always asks.
func TestFailuresAreRemembered(t *testing.T) {
	e := newEnv(t)
	clock := newFakeClock()
	c := e.client(t, manual(clock))
	ctx := context.Background()
	for range 100 {
		_, err := c.Get(ctx, "missing")
		require.Error(t, err)
	}
	assert.Equal(t, 1, e.calls())
	clock.Advance(2 * time.Second)
	_, err := c.Get(ctx, "missing")
	require.Error(t, err)
	assert.Equal(t, 2, e.calls())
	e.secret(t, "missing", "now here")
	_, err = c.Get(ctx, "missing")
	require.Error(t, err, "still within the (now 2s) delay")
	v, err := c.RefreshNow(ctx, "missing")
	require.NoError(t, err)
	assert.Equal(t, "now here", v.Text())
	v, err = c.Get(ctx, "missing")
	require.NoError(t, err, "a success clears the failure")
	assert.Equal(t, "now here", v.Text())
}
