package secrets_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

func TestCacheHitAndTTLExpiry(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db-password", "cached-value-1")
	clock := newFakeClock()
	c := e.client(t, manual(clock)) // TTL 1m, jitter ±10%
	ctx := context.Background()

	v1, err := c.Get(ctx, "db-password")
	require.NoError(t, err)
	_, err = c.Get(ctx, "db-password")
	require.NoError(t, err)
	assert.Equal(t, 1, e.calls(), "the second Get makes no KMS call")

	clock.Advance(50 * time.Second) // under the shortest jittered TTL (54s)
	v, err := c.Get(ctx, "db-password")
	require.NoError(t, err)
	assert.Same(t, v1, v)
	assert.Equal(t, 1, e.calls())

	clock.Advance(20 * time.Second) // past the longest jittered TTL (66s)
	v2, err := c.Get(ctx, "db-password")
	require.NoError(t, err)
	assert.Equal(t, 2, e.calls(), "an expired value is fetched again")
	assert.NotSame(t, v1, v2)
	assert.Equal(t, "cached-value-1", v2.Text())
	assert.Equal(t, clock.Now(), v2.FetchedAt())

	st := c.Stats()
	assert.Equal(t, secrets.Stats{Hits: 2, Misses: 2, Fetches: 2, Entries: 1}, st)
}

func TestPinnedVersionNeverExpires(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "s", "pinned-old")
	e.put(t, "s", "pinned-new", "v2")
	clock := newFakeClock()
	c := e.client(t, manual(clock))
	ctx := context.Background()

	v, err := c.Get(ctx, "s", secrets.VersionID("v1"))
	require.NoError(t, err)
	assert.Equal(t, "pinned-old", v.Text())
	clock.Advance(1000 * time.Hour)
	again, err := c.Get(ctx, "s", secrets.VersionID("v1"))
	require.NoError(t, err)
	assert.Same(t, v, again)
	assert.Equal(t, 1, e.calls())
}

func TestLRUEviction(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"a", "b", "c"} {
		e.secret(t, n, "lru-"+n)
	}
	clock := newFakeClock()
	cfg := manual(clock)
	cfg.MaxEntries = 2
	c := e.client(t, cfg)
	ctx := context.Background()
	get := func(name string) {
		t.Helper()
		clock.Advance(time.Second)
		_, err := c.Get(ctx, name)
		require.NoError(t, err)
	}

	get("a")
	get("b")
	get("a") // a is now more recently used than b
	get("c") // evicts b
	assert.Equal(t, 2, c.Stats().Entries)
	assert.Equal(t, 3, e.calls())
	get("a")
	get("c")
	assert.Equal(t, 3, e.calls(), "a and c are cached")
	get("b")
	assert.Equal(t, 4, e.calls(), "b was evicted")
}

func TestStaleIfError(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db-password", "stale-but-useful")
	clock := newFakeClock()
	var logs bytes.Buffer
	cfg := manual(clock)
	cfg.StaleIfError = 10 * time.Minute
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	c := e.client(t, cfg)
	ctx := context.Background()

	fresh, err := c.Get(ctx, "db-password")
	require.NoError(t, err)
	clock.Advance(2 * time.Minute) // expired
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultUnavailable, Action: "GetSecretValue"})

	v, err := c.Get(ctx, "db-password")
	require.NoError(t, err)
	assert.True(t, v.Stale())
	assert.False(t, fresh.Stale(), "the shared fresh value is not modified")
	assert.Equal(t, "stale-but-useful", v.Text())
	assert.Equal(t, fresh.VersionID(), v.VersionID())
	assert.Equal(t, uint64(1), c.Stats().StaleServed)
	assert.Contains(t, logs.String(), "serving the expired value")
	assert.Contains(t, logs.String(), "db-password")
	assert.NotContains(t, logs.String(), "stale-but-useful")

	// Within the retry delay the stale value is served without asking KMS.
	calls := e.calls()
	v, err = c.Get(ctx, "db-password")
	require.NoError(t, err)
	assert.True(t, v.Stale())
	assert.Equal(t, calls, e.calls())
	assert.Equal(t, uint64(2), c.Stats().StaleServed)

	// After the retry delay KMS is asked again; still down, still stale.
	clock.Advance(3 * time.Second)
	v, err = c.Get(ctx, "db-password")
	require.NoError(t, err)
	assert.True(t, v.Stale())
	assert.Greater(t, e.calls(), calls)

	// Past StaleIfError the outage is reported.
	clock.Advance(10 * time.Minute)
	v, err = c.Get(ctx, "db-password")
	require.Error(t, err)
	assert.Nil(t, v)
	assert.ErrorIs(t, err, kmsclient.ErrServiceUnavailable)
	assert.Equal(t, 0, c.Stats().Entries)

	// Recovery, once the failure's retry delay (1s after one failure) has
	// passed: until then the failure is answered without calling KMS.
	e.srv.ClearFaults()
	calls = e.calls()
	_, err = c.Get(ctx, "db-password")
	require.Error(t, err)
	assert.Equal(t, calls, e.calls(), "the remembered failure, no KMS call")
	clock.Advance(2 * time.Second)
	v, err = c.Get(ctx, "db-password")
	require.NoError(t, err)
	assert.False(t, v.Stale())
}

func TestStaleIfErrorDisabled(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "s", "no-stale-please")
	clock := newFakeClock()
	cfg := manual(clock)
	cfg.StaleIfError = -1
	c := e.client(t, cfg)
	ctx := context.Background()

	_, err := c.Get(ctx, "s")
	require.NoError(t, err)
	clock.Advance(2 * time.Minute)
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultThrottle, Action: "GetSecretValue"})
	_, err = c.Get(ctx, "s")
	assert.ErrorIs(t, err, kmsclient.ErrThrottled)
	assert.Zero(t, c.Stats().StaleServed)
}

func TestStaleNeverMasksDecisions(t *testing.T) {
	tests := []struct {
		name  string
		fault func(e *env)
		is    error
	}{
		{"access denied", func(e *env) { e.srv.Deny(e.cred.Principal, "kms:GetSecretValue") }, kmsclient.ErrAccessDenied},
		{"key access denied", func(e *env) { e.srv.Deny(e.cred.Principal, "kms:Decrypt") }, kmsclient.ErrAccessDenied},
		{"malformed answer", func(e *env) {
			e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultMalformedJSON200, Action: "GetSecretValue"})
		}, kmsclient.ErrMalformedResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			_, err := e.srv.CreateSecret(e.acct, "s", []byte("must-not-leak-out"), testkms.SecretOptions{EncryptionKeyID: e.keyID})
			require.NoError(t, err)
			clock := newFakeClock()
			c := e.client(t, manual(clock))
			ctx := context.Background()

			_, err = c.Get(ctx, "s")
			require.NoError(t, err)
			clock.Advance(2 * time.Minute)
			tt.fault(e)

			v, err := c.Get(ctx, "s")
			require.Error(t, err)
			assert.Nil(t, v)
			assert.ErrorIs(t, err, tt.is)
			assert.Zero(t, c.Stats().StaleServed)
			assert.Equal(t, 0, c.Stats().Entries, "the value is dropped")

			e.srv.ClearFaults()
			clock.Advance(2 * time.Second) // past the failure's retry delay
			v, err = c.Get(ctx, "s")
			require.NoError(t, err)
			assert.False(t, v.Stale())
		})
	}
}

func TestRefreshNowReportsRotation(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db-password", "rotate-me-1")
	rec := newChangeRecorder()
	clock := newFakeClock()
	cfg := manual(clock)
	cfg.OnChange = rec.record
	c := e.client(t, cfg)
	ctx := context.Background()

	old, err := c.Get(ctx, "db-password")
	require.NoError(t, err)
	prev, err := c.Get(ctx, "db-password", secrets.Stage(kmsclient.StagePrevious))
	require.Error(t, err, "no previous version yet")
	assert.Nil(t, prev)

	// Nothing changed: no callback.
	same, err := c.RefreshNow(ctx, "db-password")
	require.NoError(t, err)
	assert.Equal(t, old.VersionID(), same.VersionID())
	assert.Empty(t, rec.all())

	e.put(t, "db-password", "rotate-me-2", "v2")
	v, err := c.Get(ctx, "db-password")
	require.NoError(t, err)
	assert.Equal(t, "rotate-me-1", v.Text(), "the cache still holds v1")

	v, err = c.RefreshNow(ctx, "db-password")
	require.NoError(t, err)
	assert.Equal(t, "rotate-me-2", v.Text())
	assert.Equal(t, []secrets.Change{{Name: "db-password", Stage: kmsclient.StageCurrent, OldVersionID: "v1", NewVersionID: "v2"}}, rec.all())

	cached, err := c.Get(ctx, "db-password")
	require.NoError(t, err)
	assert.Same(t, v, cached, "RefreshNow updated the cache")
	assert.Equal(t, uint64(1), c.Stats().Changes)

	prev, err = c.RefreshNow(ctx, "db-password", secrets.Stage(kmsclient.StagePrevious))
	require.NoError(t, err)
	assert.Equal(t, "rotate-me-1", prev.Text())

	_, err = c.RefreshNow(ctx, "missing")
	assert.ErrorIs(t, err, kmsclient.ErrNotFound)
}

func TestExpiredFetchReportsRotation(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "api-key", "api-key-1")
	rec := newChangeRecorder()
	clock := newFakeClock()
	cfg := manual(clock)
	cfg.OnChange = rec.record
	c := e.client(t, cfg)
	ctx := context.Background()

	_, err := c.Get(ctx, "api-key", secrets.Stage(kmsclient.StageCurrent))
	require.NoError(t, err)
	e.put(t, "api-key", "api-key-2", "v2")
	clock.Advance(2 * time.Minute)
	v, err := c.Get(ctx, "api-key")
	require.NoError(t, err)
	assert.Equal(t, "api-key-2", v.Text())
	assert.Equal(t, secrets.Change{Name: "api-key", Stage: kmsclient.StageCurrent, OldVersionID: "v1", NewVersionID: "v2"}, rec.next(t))
}

func TestBackgroundRefreshReportsRotation(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db-password", "bg-rotate-1")
	rec := newChangeRecorder()
	c := e.client(t, secrets.Config{TTL: 200 * time.Millisecond, RefreshAhead: 100 * time.Millisecond, OnChange: rec.record})
	ctx := context.Background()

	_, err := c.Get(ctx, "db-password")
	require.NoError(t, err)
	e.put(t, "db-password", "bg-rotate-2", "v2")
	v, err := c.Get(ctx, "db-password") // a hit: marks the value as in use
	require.NoError(t, err)
	assert.Equal(t, "v1", v.VersionID())

	assert.Equal(t, secrets.Change{Name: "db-password", Stage: kmsclient.StageCurrent, OldVersionID: "v1", NewVersionID: "v2"}, rec.next(t))
	v, err = c.Get(ctx, "db-password")
	require.NoError(t, err)
	assert.Equal(t, "bg-rotate-2", v.Text())
	assert.GreaterOrEqual(t, c.Stats().Refreshes, uint64(1))
}

func TestRefreshAheadKeepsReadsOnTheCache(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "hot", "hot-value")
	e.secret(t, "cold", "cold-value")
	c := e.client(t, secrets.Config{TTL: time.Second, RefreshAhead: 600 * time.Millisecond})
	ctx := context.Background()

	_, err := c.Get(ctx, "cold")
	require.NoError(t, err)
	start := time.Now()
	for time.Since(start) < 2500*time.Millisecond {
		v, err := c.Get(ctx, "hot")
		require.NoError(t, err)
		require.False(t, v.Stale())
		time.Sleep(20 * time.Millisecond)
	}
	st := c.Stats()
	t.Logf("stats after 2.5s of reads with a 1s TTL: %+v, GetSecretValue calls: %d", st, e.calls())
	assert.Equal(t, uint64(2), st.Misses, "only the first Get of each secret waited for KMS")
	assert.GreaterOrEqual(t, st.Refreshes, uint64(2), "the hot value was refreshed in the background")
	assert.GreaterOrEqual(t, e.calls(), 4)
	// The cold value was never read again, so it was not refreshed: its
	// next Get is a miss.
	_, err = c.Get(ctx, "cold")
	require.NoError(t, err)
	assert.Equal(t, uint64(3), c.Stats().Misses)
}

func TestBackgroundRefreshFailureKeepsValue(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "s", "keep-me")
	var logs syncBuffer
	c := e.client(t, secrets.Config{TTL: time.Second, RefreshAhead: 900 * time.Millisecond, Jitter: 0.05,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx := context.Background()

	v1, err := c.Get(ctx, "s")
	require.NoError(t, err)
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultUnavailable, Action: "GetSecretValue"})
	_, err = c.Get(ctx, "s") // in use: due for refresh right away
	require.NoError(t, err)
	require.Eventually(t, func() bool { return c.Stats().FetchErrors > 0 }, 10*time.Second, 5*time.Millisecond)

	v, err := c.Get(ctx, "s")
	require.NoError(t, err)
	assert.Same(t, v1, v, "a failed refresh keeps the value")
	assert.False(t, v.Stale())
	assert.Eventually(t, func() bool { return bytes.Contains(logs.Bytes(), []byte("keeping the cached value")) }, 5*time.Second, 5*time.Millisecond)
	assert.NotContains(t, logs.String(), "keep-me")
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

func (b *syncBuffer) String() string { return string(b.Bytes()) }

func TestConcurrentMissesShareOneFetch(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db-password", "shared-fetch")
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultLatency, Action: "GetSecretValue", Latency: 100 * time.Millisecond})
	c := e.client(t, secrets.Config{})
	ctx := context.Background()

	const n = 100
	values := make([]*secrets.Value, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			values[i], errs[i] = c.Get(ctx, "db-password")
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Same(t, values[0], values[i])
	}
	assert.Equal(t, 1, e.calls())
	st := c.Stats()
	assert.Equal(t, uint64(1), st.Fetches)
	assert.Equal(t, uint64(n), st.Hits+st.Misses)
}

func TestWaiterCancellationDoesNotCancelTheFetch(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "slow", "slow-value")
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultLatency, Action: "GetSecretValue", Latency: 300 * time.Millisecond, Count: 1})
	c := e.client(t, secrets.Config{})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := c.Get(ctx, "slow")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "secrets: slow: ")

	// The shared fetch goes on and fills the cache.
	require.Eventually(t, func() bool { return c.Stats().Entries == 1 }, 10*time.Second, 5*time.Millisecond)
	v, err := c.Get(context.Background(), "slow")
	require.NoError(t, err)
	assert.Equal(t, "slow-value", v.Text())
	assert.Equal(t, 1, e.calls())
}

func TestCloseStopsEveryGoroutine(t *testing.T) {
	e := newEnv(t, func(cfg *kmsclient.Config) {
		// Without keep-alives no idle connection goroutines outlive a call.
		cfg.Transport = &http.Transport{DisableKeepAlives: true}
	})
	for _, n := range []string{"a", "b", "c"} {
		e.secret(t, n, "leak-"+n)
	}
	ctx := context.Background()
	before := runtime.NumGoroutine()

	c, err := secrets.New(e.kms, secrets.Config{TTL: 300 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, c.Prefetch(ctx, "a", "b", "c"))
	for range 3 {
		_, err = c.Get(ctx, "a")
		require.NoError(t, err)
	}
	_, err = c.RefreshNow(ctx, "b")
	require.NoError(t, err)
	time.Sleep(300 * time.Millisecond) // let the refresher work

	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "Close is idempotent")

	var after int
	for deadline := time.Now().Add(time.Second); ; time.Sleep(10 * time.Millisecond) {
		if after = runtime.NumGoroutine(); after <= before || time.Now().After(deadline) {
			break
		}
	}
	if !assert.LessOrEqual(t, after, before, "goroutines leaked") {
		buf := make([]byte, 1<<20)
		t.Logf("%s", buf[:runtime.Stack(buf, true)])
	}
}

func TestClosed(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "s", "closed-value")
	c := e.client(t, secrets.Config{})
	ctx := context.Background()
	_, err := c.Get(ctx, "s")
	require.NoError(t, err)
	require.NoError(t, c.Close())

	_, err = c.Get(ctx, "s")
	assert.ErrorIs(t, err, secrets.ErrClosed)
	assert.ErrorIs(t, c.GetJSON(ctx, "s", new(any)), secrets.ErrClosed)
	_, err = c.RefreshNow(ctx, "s")
	assert.ErrorIs(t, err, secrets.ErrClosed)
	assert.ErrorIs(t, c.Prefetch(ctx, "s"), secrets.ErrClosed)
	assert.Equal(t, 0, c.Stats().Entries, "Close empties the cache")
}

func TestCloseInterruptsWaitingGets(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "slow", "slow-value")
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultLatency, Action: "GetSecretValue", Latency: 10 * time.Second})
	c, err := secrets.New(e.kms, secrets.Config{})
	require.NoError(t, err)

	errc := make(chan error, 1)
	go func() {
		_, err := c.Get(context.Background(), "slow")
		errc <- err
	}()
	require.Eventually(t, func() bool { return e.calls() == 1 }, 10*time.Second, time.Millisecond)
	require.NoError(t, c.Close()) // cancels the fetch and waits for it
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, secrets.ErrClosed)
	case <-time.After(5 * time.Second):
		t.Fatal("Get did not return after Close")
	}
}

func TestGetCachedDoesNotAllocate(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db-password", "alloc-free")
	c := e.client(t, secrets.Config{})
	ctx := context.Background()
	_, err := c.Get(ctx, "db-password")
	require.NoError(t, err)

	var v *secrets.Value
	allocs := testing.AllocsPerRun(1000, func() { v, err = c.Get(ctx, "db-password") })
	require.NoError(t, err)
	require.NotNil(t, v)
	assert.Zero(t, allocs)
}

// cachedClient returns a client with db-password cached, for benchmarks.
func cachedClient(b *testing.B) *secrets.Client {
	srv := testkms.Start(b)
	cred := srv.AddUser(srv.DefaultAccount(), "app")
	_, err := srv.CreateSecret(srv.DefaultAccount(), "db-password", []byte("bench-value"), testkms.SecretOptions{})
	require.NoError(b, err)
	kc, err := kmsclient.New(kmsclient.Config{
		Region:      srv.Region(),
		Endpoint:    srv.URL(),
		Credentials: kmsclient.StaticCredentials(cred.AccessKeyID, cred.AccessKeySecret),
	})
	require.NoError(b, err)
	c, err := secrets.New(kc, secrets.Config{TTL: time.Hour})
	require.NoError(b, err)
	b.Cleanup(func() { _ = c.Close() })
	_, err = c.Get(context.Background(), "db-password")
	require.NoError(b, err)
	return c
}

func BenchmarkGetCached(b *testing.B) {
	c := cachedClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Get(ctx, "db-password"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetCachedParallel(b *testing.B) {
	c := cachedClient(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Get(ctx, "db-password"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
