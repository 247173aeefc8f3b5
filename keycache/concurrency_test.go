package keycache_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/keycache"
)

// getFunc abstracts over the two namespaces.
type getFunc func(c *keycache.Cache, ctx context.Context, id string, fetch func(context.Context) (*keycache.Materials, error)) (keycache.Handle, error)

var namespaces = []struct {
	name string
	get  getFunc
}{
	{"encryption", func(c *keycache.Cache, ctx context.Context, id string, fetch func(context.Context) (*keycache.Materials, error)) (keycache.Handle, error) {
		return c.GetEncryption(ctx, id, 100, fetch)
	}},
	{"decryption", func(c *keycache.Cache, ctx context.Context, id string, fetch func(context.Context) (*keycache.Materials, error)) (keycache.Handle, error) {
		return c.GetDecryption(ctx, id, fetch)
	}},
}

func TestConcurrentMissesShareOneFetch(t *testing.T) {
	const callers = 1000
	for _, ns := range namespaces {
		for _, gated := range []bool{true, false} {
			name := ns.name + "/free"
			if gated {
				name = ns.name + "/all waiting"
			}
			t.Run(name, func(t *testing.T) {
				c := newCache(t, keycache.Config{})
				f := &fetcher{}
				if gated {
					f.gate = make(chan struct{})
				}
				handles := make([]keycache.Handle, callers)
				errs := make([]error, callers)
				var wg sync.WaitGroup
				for i := range callers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						handles[i], errs[i] = ns.get(c, context.Background(), "id", f.fetch)
					}()
				}
				if gated {
					// Release the fetch only once every other caller waits on it.
					waitFor(func() bool { return c.Stats().SharedWaits == callers-1 })
					close(f.gate)
				}
				wg.Wait()

				require.Equal(t, 1, f.count(), "exactly one fetch")
				for i := range callers {
					require.NoError(t, errs[i])
					require.Equal(t, 1, handles[i].Aux())
					require.Equal(t, keyBytesFor(1), keyOf(t, handles[i]))
				}
				s := c.Stats()
				assert.Equal(t, uint64(1), s.Fetches)
				assert.Equal(t, uint64(callers), s.Hits+s.Misses)
				assert.Equal(t, s.Misses, 1+s.SharedWaits)
				assert.Equal(t, 1, s.Entries)
				if gated {
					assert.Equal(t, keycache.Stats{Misses: callers, Fetches: 1, SharedWaits: callers - 1, Entries: 1}, s)
				}
			})
		}
	}
}

func TestWaitersBeyondLimitsFetchAgain(t *testing.T) {
	const callers = 25
	c := newCache(t, keycache.Config{MaxMessages: 10})
	f := &fetcher{gate: make(chan struct{})}
	got := make(chan int, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h, err := c.GetEncryption(context.Background(), "id", 1, f.fetch)
			assert.NoError(t, err)
			got <- h.Aux().(int)
		}()
	}
	waitFor(func() bool { return c.Stats().SharedWaits == callers-1 })
	close(f.gate)
	wg.Wait()
	close(got)
	perFetch := map[int]int{}
	for aux := range got {
		perFetch[aux]++
	}
	assert.Equal(t, map[int]int{1: 10, 2: 10, 3: 5}, perFetch)
	assert.Equal(t, 3, f.count())
	s := c.Stats()
	assert.Equal(t, uint64(callers), s.Misses)
	assert.Equal(t, uint64(2), s.Evictions.Messages)
	requireBalanced(t, c)
}

type ctxKey struct{}

func TestFetchSurvivesFirstCallerCancellation(t *testing.T) {
	c := newCache(t, keycache.Config{})
	release := make(chan struct{})
	type seen struct {
		err error
		val any
	}
	inFetch := make(chan seen, 1)
	var calls atomic.Int32
	fetch := func(ctx context.Context) (*keycache.Materials, error) {
		calls.Add(1)
		<-release
		inFetch <- seen{ctx.Err(), ctx.Value(ctxKey{})}
		return &keycache.Materials{Key: keycache.NewKey(keyBytesFor(7)), Aux: "m"}, nil
	}

	ctx1, cancel1 := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	err1 := make(chan error)
	go func() {
		_, err := c.GetEncryption(ctx1, "id", 0, fetch)
		err1 <- err
	}()
	waitFor(func() bool { return c.Stats().Fetches == 1 })

	type result struct {
		h   keycache.Handle
		err error
	}
	res2 := make(chan result)
	go func() {
		h, err := c.GetEncryption(context.Background(), "id", 0, fetch)
		res2 <- result{h, err}
	}()
	waitFor(func() bool { return c.Stats().SharedWaits == 1 })

	cancel1()
	err := <-err1
	require.ErrorIs(t, err, context.Canceled)
	assert.Regexp(t, `^keycache: `, err.Error())

	close(release) // the fetch completes after its first caller gave up
	r := <-res2
	require.NoError(t, r.err)
	assert.Equal(t, "m", r.h.Aux())
	assert.Equal(t, keyBytesFor(7), keyOf(t, r.h))
	s := <-inFetch
	assert.NoError(t, s.err, "fetch context must not inherit the caller's cancellation")
	assert.Equal(t, "v", s.val, "fetch context keeps the caller's values")

	h, err := c.GetEncryption(context.Background(), "id", 0, fetch)
	require.NoError(t, err)
	assert.Equal(t, "m", h.Aux())
	assert.Equal(t, int32(1), calls.Load())
	assert.Equal(t, keycache.Stats{Hits: 1, Misses: 2, Fetches: 1, SharedWaits: 1, Entries: 1}, c.Stats())
}

func TestFetchTimeoutCancelsFetchContext(t *testing.T) {
	c := newCache(t, keycache.Config{FetchTimeout: time.Millisecond})
	seen := make(chan error, 1)
	hasDeadline := make(chan bool, 1)
	fetch := func(ctx context.Context) (*keycache.Materials, error) {
		_, ok := ctx.Deadline()
		hasDeadline <- ok
		<-ctx.Done() // returns only because of FetchTimeout
		seen <- ctx.Err()
		return nil, ctx.Err()
	}
	_, err := c.GetDecryption(context.Background(), "id", fetch)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.True(t, <-hasDeadline)
	assert.Equal(t, context.DeadlineExceeded, <-seen)
	assert.Equal(t, keycache.Stats{Misses: 1, Fetches: 1, FetchErrors: 1}, c.Stats())
}

func TestWaiterGivesUpWhileFetchContinues(t *testing.T) {
	c := newCache(t, keycache.Config{})
	f := &fetcher{gate: make(chan struct{})}
	leader := make(chan keycache.Handle)
	go func() {
		h, err := c.GetDecryption(context.Background(), "id", f.fetch)
		assert.NoError(t, err)
		leader <- h
	}()
	waitFor(func() bool { return c.Stats().Fetches == 1 })

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() {
		_, err := c.GetDecryption(ctx, "id", f.fetch)
		errc <- err
	}()
	waitFor(func() bool { return c.Stats().SharedWaits == 1 })
	cancel()
	require.ErrorIs(t, <-errc, context.Canceled)

	close(f.gate)
	assert.Equal(t, 1, (<-leader).Aux())
	h, err := c.GetDecryption(context.Background(), "id", f.fetch)
	require.NoError(t, err)
	assert.Equal(t, 1, h.Aux())
	assert.Equal(t, 1, f.count())
}

func TestCancelledCallerDoesNotStartFetch(t *testing.T) {
	c := newCache(t, keycache.Config{})
	f := &fetcher{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.GetEncryption(ctx, "id", 0, f.fetch)
	require.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, f.count())
	assert.Equal(t, keycache.Stats{Misses: 1}, c.Stats())

	// A hit needs no waiting, so it is served even to a cancelled caller.
	_, err = c.GetEncryption(context.Background(), "id", 0, f.fetch)
	require.NoError(t, err)
	h, err := c.GetEncryption(ctx, "id", 0, f.fetch)
	require.NoError(t, err)
	assert.Equal(t, 1, h.Aux())
}

func TestFetchErrorGoesToAllWaitersAndIsNotCached(t *testing.T) {
	const callers = 50
	errBoom := errors.New("kms: throttled")
	c := newCache(t, keycache.Config{})
	f := &fetcher{gate: make(chan struct{}), err: errBoom}
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = c.GetEncryption(context.Background(), "id", 0, f.fetch)
		}()
	}
	waitFor(func() bool { return c.Stats().SharedWaits == callers-1 })
	close(f.gate)
	wg.Wait()
	for _, err := range errs {
		require.ErrorIs(t, err, errBoom)
	}
	assert.Equal(t, keycache.Stats{Misses: callers, Fetches: 1, FetchErrors: 1, SharedWaits: callers - 1}, c.Stats())

	f.err = nil
	h, err := c.GetEncryption(context.Background(), "id", 0, f.fetch)
	require.NoError(t, err)
	assert.Equal(t, 2, h.Aux(), "the error was not cached")
}

func TestFetchExitingWithoutReturnReleasesWaiters(t *testing.T) {
	c := newCache(t, keycache.Config{})
	fetch := func(context.Context) (*keycache.Materials, error) {
		runtime.Goexit()
		return nil, nil
	}
	_, err := c.GetEncryption(context.Background(), "id", 0, fetch)
	require.ErrorContains(t, err, "keycache: fetch exited")
	assert.Equal(t, uint64(1), c.Stats().FetchErrors)
}

func TestPurgeDuringFetchDiscardsItsResult(t *testing.T) {
	c := newCache(t, keycache.Config{})
	f := &fetcher{gate: make(chan struct{}, 2)}
	res := make(chan keycache.Handle)
	go func() {
		h, err := c.GetEncryption(context.Background(), "id", 0, f.fetch)
		assert.NoError(t, err)
		res <- h
	}()
	waitFor(func() bool { return c.Stats().Fetches == 1 })
	c.Purge() // e.g. key rotation while GenerateDataKey is in flight
	f.gate <- struct{}{}
	f.gate <- struct{}{}

	h := <-res
	assert.Equal(t, 2, h.Aux(), "the waiter fetched again after the purge")
	assert.Zero(t, f.key(t, 1).Len(), "the discarded key was wiped")
	s := c.Stats()
	assert.Equal(t, uint64(2), s.Fetches)
	assert.Equal(t, uint64(1), s.Evictions.Purged)
	assert.Equal(t, uint64(1), s.Misses)
	requireBalanced(t, c)
}

func TestEvictionWipesKey(t *testing.T) {
	tests := []struct {
		name   string
		cfg    keycache.Config
		evict  func(c *keycache.Cache, clock *fakeClock, f *fetcher, h keycache.Handle)
		reason keycache.EvictReason
	}{
		{"capacity", keycache.Config{Capacity: 1}, func(c *keycache.Cache, _ *fakeClock, f *fetcher, _ keycache.Handle) {
			_, _ = c.GetEncryption(context.Background(), "other", 0, f.fetch)
		}, keycache.EvictCapacity},
		{"age", keycache.Config{}, func(c *keycache.Cache, clock *fakeClock, f *fetcher, _ keycache.Handle) {
			clock.Advance(keycache.DefaultMaxAge)
			_, _ = c.GetEncryption(context.Background(), "id", 0, f.fetch)
		}, keycache.EvictAge},
		{"messages", keycache.Config{MaxMessages: 1}, func(c *keycache.Cache, _ *fakeClock, f *fetcher, _ keycache.Handle) {
			_, _ = c.GetEncryption(context.Background(), "id", 0, f.fetch)
		}, keycache.EvictMessages},
		{"bytes", keycache.Config{MaxBytes: 10}, func(c *keycache.Cache, _ *fakeClock, f *fetcher, _ keycache.Handle) {
			_, _ = c.GetEncryption(context.Background(), "id", 10, f.fetch)
		}, keycache.EvictBytes},
		{"AddBytes", keycache.Config{MaxBytes: 10}, func(_ *keycache.Cache, _ *fakeClock, _ *fetcher, h keycache.Handle) {
			h.AddBytes(11)
		}, keycache.EvictBytes},
		{"purge", keycache.Config{}, func(c *keycache.Cache, _ *fakeClock, _ *fetcher, _ keycache.Handle) {
			c.Purge()
		}, keycache.EvictPurged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			rec := &recorder{}
			cfg := tt.cfg
			cfg.Now, cfg.OnEvent = clock.Now, rec.record
			c := newCache(t, cfg)
			f := &fetcher{}
			h, err := c.GetEncryption(context.Background(), "id", 1, f.fetch)
			require.NoError(t, err)
			live := f.liveBytes(t, 1)
			require.Equal(t, keyBytesFor(1), live)

			tt.evict(c, clock, f, h)
			assert.Equal(t, make([]byte, 32), live, "key memory zeroed")
			assert.Zero(t, f.key(t, 1).Len())
			assert.ErrorIs(t, h.WithKey(func([]byte) { t.Error("f called with a wiped key") }), keycache.ErrRetired)
			assert.Equal(t, 1, rec.count(keycache.EventEvict))
			assert.Contains(t, rec.take(), evict(tt.reason))
		})
	}
}

func TestWithKeyDuringPurgeSeesIntactKey(t *testing.T) {
	c := newCache(t, keycache.Config{})
	f := &fetcher{}
	h, err := c.GetEncryption(context.Background(), "id", 0, f.fetch)
	require.NoError(t, err)
	live := f.liveBytes(t, 1)

	inF := make(chan struct{})
	purged := make(chan struct{})
	var inside []byte
	done := make(chan error)
	go func() {
		done <- h.WithKey(func(k []byte) {
			close(inF)
			<-purged // Purge ran to completion on another goroutine
			inside = bytes.Clone(k)
		})
	}()
	<-inF
	go func() {
		c.Purge()
		close(purged)
	}()
	require.NoError(t, <-done)
	assert.Equal(t, keyBytesFor(1), inside, "key intact while WithKey runs")
	assert.Equal(t, make([]byte, 32), live, "key zeroed once WithKey returned")
	assert.ErrorIs(t, h.WithKey(func([]byte) {}), keycache.ErrRetired)
	assert.Equal(t, uint64(1), c.Stats().Evictions.Purged)
}

func TestRetirementInsideWithKeyDoesNotDeadlock(t *testing.T) {
	c := newCache(t, keycache.Config{MaxBytes: 10, MaxMessages: 1})
	f := &fetcher{}
	h, err := c.GetEncryption(context.Background(), "id", 0, f.fetch)
	require.NoError(t, err)
	live := f.liveBytes(t, 1)
	require.NoError(t, h.WithKey(func(k []byte) {
		h.AddBytes(11) // retires the entry
		_, err := c.GetEncryption(context.Background(), "id", 0, f.fetch)
		assert.NoError(t, err)
		c.Purge()
		assert.Equal(t, keyBytesFor(1), k, "intact until f returns")
	}))
	assert.Equal(t, make([]byte, 32), live)
	assert.Zero(t, f.key(t, 2).Len(), "purged inside f, wiped at once")
}

// TestStress mixes gets, WithKey, AddBytes, limits, capacity eviction and
// Purge. Under -race it checks the locking; in every mode it checks that f
// never sees a wiped or foreign key.
func TestStress(t *testing.T) {
	clock := newFakeClock()
	c := newCache(t, keycache.Config{Capacity: 3, MaxMessages: 5, MaxBytes: 64, Now: clock.Now})
	f := &fetcher{}
	ids := []string{"a", "b", "c", "d"}
	var retired atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				id := ids[(g+i)%len(ids)]
				var h keycache.Handle
				var err error
				if i%3 == 0 {
					h, err = c.GetDecryption(context.Background(), id, f.fetch)
				} else {
					h, err = c.GetEncryption(context.Background(), id, uint64(i%7), f.fetch)
				}
				if !assert.NoError(t, err) {
					return
				}
				want := keyBytesFor(h.Aux().(int))
				err = h.WithKey(func(k []byte) {
					if !bytes.Equal(want, k) {
						t.Errorf("WithKey saw %x, want %x", k, want)
					}
				})
				if errors.Is(err, keycache.ErrRetired) {
					retired.Add(1)
				} else {
					assert.NoError(t, err)
				}
				h.AddBytes(uint64(i % 5))
				switch {
				case g == 0 && i%50 == 0:
					c.Purge()
				case g == 1 && i%40 == 0:
					clock.Advance(time.Minute)
				}
			}
		}()
	}
	wg.Wait()
	s := c.Stats()
	assert.Equal(t, uint64(16*300), s.Hits+s.Misses)
	requireBalanced(t, c)
	t.Logf("stats %+v, WithKey after retirement: %d", s, retired.Load())
}
