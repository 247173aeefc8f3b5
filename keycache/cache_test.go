package keycache_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/keycache"
)

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     keycache.Config
		wantErr string
	}{
		{name: "zero", cfg: keycache.Config{}},
		{name: "all set", cfg: keycache.Config{Capacity: 1, MaxAge: time.Second, MaxMessages: 1, MaxBytes: 1, FetchTimeout: time.Second}},
		{name: "negative capacity", cfg: keycache.Config{Capacity: -1}, wantErr: "Config.Capacity"},
		{name: "negative max age", cfg: keycache.Config{MaxAge: -time.Second}, wantErr: "Config.MaxAge"},
		{name: "negative fetch timeout", cfg: keycache.Config{FetchTimeout: -time.Second}, wantErr: "Config.FetchTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := keycache.New(tt.cfg)
			if tt.wantErr == "" {
				require.NoError(t, err)
				require.NotNil(t, c)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			assert.Regexp(t, `^keycache: `, err.Error())
			assert.Nil(t, c)
		})
	}
}

func TestEncryptionLimits(t *testing.T) {
	type step struct {
		advance time.Duration // clock advance before the Get
		n       uint64        // bytes charged by GetEncryption
		add     uint64        // AddBytes after the Get
		want    int           // fetch number whose materials the Get returns
	}
	tests := []struct {
		name       string
		cfg        keycache.Config
		steps      []step
		wantEvict  keycache.EvictionStats
		wantEvents []keycache.Event
		wantCached int
	}{
		{
			name:       "age below limit hits, at limit refetches",
			cfg:        keycache.Config{MaxAge: time.Minute},
			steps:      []step{{want: 1}, {advance: time.Minute - time.Nanosecond, want: 1}, {advance: time.Nanosecond, want: 2}},
			wantEvict:  keycache.EvictionStats{Age: 1},
			wantEvents: []keycache.Event{miss, fetchEv, hit, evict(keycache.EvictAge), miss, fetchEv},
			wantCached: 1,
		},
		{
			name:       "clock going backwards extends the age limit",
			cfg:        keycache.Config{MaxAge: time.Minute},
			steps:      []step{{want: 1}, {advance: -time.Second, want: 1}, {advance: time.Minute, want: 1}, {advance: time.Second, want: 2}},
			wantEvict:  keycache.EvictionStats{Age: 1},
			wantEvents: []keycache.Event{miss, fetchEv, hit, hit, evict(keycache.EvictAge), miss, fetchEv},
			wantCached: 1,
		},
		{
			name:       "messages",
			cfg:        keycache.Config{MaxMessages: 3},
			steps:      []step{{want: 1}, {want: 1}, {want: 1}, {want: 2}, {want: 2}},
			wantEvict:  keycache.EvictionStats{Messages: 1},
			wantEvents: []keycache.Event{miss, fetchEv, hit, hit, evict(keycache.EvictMessages), miss, fetchEv, hit},
			wantCached: 1,
		},
		{
			name:       "bytes up to the limit, then one more",
			cfg:        keycache.Config{MaxBytes: 100},
			steps:      []step{{n: 60, want: 1}, {n: 40, want: 1}, {n: 0, want: 1}, {n: 1, want: 2}, {n: 99, want: 2}, {n: 1, want: 3}},
			wantEvict:  keycache.EvictionStats{Bytes: 2},
			wantEvents: []keycache.Event{miss, fetchEv, hit, hit, evict(keycache.EvictBytes), miss, fetchEv, hit, evict(keycache.EvictBytes), miss, fetchEv},
			wantCached: 1,
		},
		{
			name:       "AddBytes to the limit keeps, past it retires at once",
			cfg:        keycache.Config{MaxBytes: 100},
			steps:      []step{{add: 50, want: 1}, {add: 50, want: 1}, {add: 1, want: 1}, {want: 2}},
			wantEvict:  keycache.EvictionStats{Bytes: 1},
			wantEvents: []keycache.Event{miss, fetchEv, hit, hit, evict(keycache.EvictBytes), miss, fetchEv},
			wantCached: 1,
		},
		{
			name:       "AddBytes saturates instead of wrapping",
			steps:      []step{{n: 10, add: math.MaxUint64 - 5, want: 1}, {want: 2}},
			wantEvict:  keycache.EvictionStats{Bytes: 1},
			wantEvents: []keycache.Event{miss, fetchEv, evict(keycache.EvictBytes), miss, fetchEv},
			wantCached: 1,
		},
		{
			name:       "AddBytes and n add up",
			cfg:        keycache.Config{MaxBytes: 100},
			steps:      []step{{n: 30, add: 30, want: 1}, {n: 40, want: 1}, {n: 1, want: 2}},
			wantEvict:  keycache.EvictionStats{Bytes: 1},
			wantEvents: []keycache.Event{miss, fetchEv, hit, evict(keycache.EvictBytes), miss, fetchEv},
			wantCached: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			rec := &recorder{}
			cfg := tt.cfg
			cfg.Now, cfg.OnEvent = clock.Now, rec.record
			c := newCache(t, cfg)
			f := &fetcher{}
			for i, s := range tt.steps {
				clock.Advance(s.advance)
				h, err := c.GetEncryption(context.Background(), "key-1", s.n, f.fetch)
				require.NoError(t, err, "step %d", i)
				require.Equal(t, s.want, h.Aux(), "step %d", i)
				require.Equal(t, keyBytesFor(s.want), keyOf(t, h), "step %d", i)
				h.AddBytes(s.add)
			}
			events := rec.take()
			assert.Equal(t, tt.wantEvents, events)

			s := c.Stats()
			assert.Equal(t, tt.wantEvict, s.Evictions)
			assert.Equal(t, tt.wantCached, s.Entries)
			assert.Equal(t, uint64(count(events, keycache.EventHit)), s.Hits)
			assert.Equal(t, uint64(count(events, keycache.EventMiss)), s.Misses)
			assert.Equal(t, uint64(f.count()), s.Fetches)
			assert.Equal(t, uint64(len(tt.steps)), s.Hits+s.Misses)
			assert.Zero(t, s.FetchErrors)
			assert.Zero(t, s.SharedWaits)
			requireBalanced(t, c)

			// Every retired key is wiped; the cached one is not.
			for i := 1; i <= f.count(); i++ {
				wiped := f.key(t, i).Len() == 0
				assert.Equal(t, i <= int(s.Evictions.Total()), wiped, "key of fetch %d", i)
			}
		})
	}
}

func count(events []keycache.Event, kind keycache.EventKind) int {
	n := 0
	for _, ev := range events {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

func TestDecryptionOnlyAgeLimits(t *testing.T) {
	clock := newFakeClock()
	rec := &recorder{}
	c := newCache(t, keycache.Config{MaxAge: time.Minute, MaxMessages: 1, MaxBytes: 1, Now: clock.Now, OnEvent: rec.record})
	f := &fetcher{}
	for i := 0; i < 10; i++ {
		h, err := c.GetDecryption(context.Background(), "wrapped-1", f.fetch)
		require.NoError(t, err)
		require.Equal(t, 1, h.Aux())
		h.AddBytes(1000) // no effect on decryption materials
	}
	clock.Advance(time.Minute)
	h, err := c.GetDecryption(context.Background(), "wrapped-1", f.fetch)
	require.NoError(t, err)
	require.Equal(t, 2, h.Aux())

	want := []keycache.Event{dec(miss), dec(fetchEv)}
	for i := 0; i < 9; i++ {
		want = append(want, dec(hit))
	}
	want = append(want, dec(evict(keycache.EvictAge)), dec(miss), dec(fetchEv))
	assert.Equal(t, want, rec.take())
	assert.Equal(t, keycache.Stats{Hits: 9, Misses: 2, Fetches: 2, Evictions: keycache.EvictionStats{Age: 1}, Entries: 1}, c.Stats())
	assert.Zero(t, f.key(t, 1).Len(), "expired key wiped")
}

func TestNamespacesAreSeparate(t *testing.T) {
	c := newCache(t, keycache.Config{})
	f := &fetcher{}
	ctx := context.Background()
	he, err := c.GetEncryption(ctx, "same-id", 1, f.fetch)
	require.NoError(t, err)
	hd, err := c.GetDecryption(ctx, "same-id", f.fetch)
	require.NoError(t, err)
	assert.Equal(t, 1, he.Aux())
	assert.Equal(t, 2, hd.Aux())

	he, err = c.GetEncryption(ctx, "same-id", 1, f.fetch)
	require.NoError(t, err)
	hd, err = c.GetDecryption(ctx, "same-id", f.fetch)
	require.NoError(t, err)
	assert.Equal(t, 1, he.Aux())
	assert.Equal(t, 2, hd.Aux())
	assert.Equal(t, keycache.Stats{Hits: 2, Misses: 2, Fetches: 2, Entries: 2}, c.Stats())
}

func TestCapacityEvictsLeastRecentlyUsed(t *testing.T) {
	rec := &recorder{}
	c := newCache(t, keycache.Config{Capacity: 3, OnEvent: rec.record})
	f := &fetcher{}
	ctx := context.Background()

	type get struct {
		dec  bool // decryption namespace (shares the capacity)
		id   string
		want int // fetch number returned
	}
	steps := []get{
		{id: "a", want: 1},
		{id: "b", want: 2},
		{id: "c", want: 3},
		{id: "a", want: 1},            // LRU order now b, c, a
		{dec: true, id: "d", want: 4}, // evicts b
		{id: "c", want: 3},            // LRU order now a, d, c
		{id: "b", want: 5},            // evicts a
		{dec: true, id: "d", want: 4}, // LRU order now c, b, d
		{id: "a", want: 6},            // evicts c
		{id: "b", want: 5},
		{id: "c", want: 7}, // evicts d
	}
	for i, s := range steps {
		var h keycache.Handle
		var err error
		if s.dec {
			h, err = c.GetDecryption(ctx, s.id, f.fetch)
		} else {
			h, err = c.GetEncryption(ctx, s.id, 0, f.fetch)
		}
		require.NoError(t, err, "step %d", i)
		require.Equal(t, s.want, h.Aux(), "step %d (%s)", i, s.id)
	}
	var evictions []keycache.Event
	for _, ev := range rec.take() {
		if ev.Kind == keycache.EventEvict {
			evictions = append(evictions, ev)
		}
	}
	assert.Equal(t, []keycache.Event{
		evict(keycache.EvictCapacity),      // b
		evict(keycache.EvictCapacity),      // a
		evict(keycache.EvictCapacity),      // c
		dec(evict(keycache.EvictCapacity)), // d
	}, evictions)
	s := c.Stats()
	assert.Equal(t, keycache.EvictionStats{Capacity: 4}, s.Evictions)
	assert.Equal(t, 3, s.Entries)
	for i, wantWiped := range []bool{true, true, true, true, false, false, false} { // fetches 1..7: a, b, c, d wiped
		assert.Equal(t, wantWiped, f.key(t, i+1).Len() == 0, "key of fetch %d", i+1)
	}
	requireBalanced(t, c)
}

func TestInsertSweepsExpiredEntries(t *testing.T) {
	clock := newFakeClock()
	c := newCache(t, keycache.Config{MaxAge: time.Minute, Now: clock.Now})
	f := &fetcher{}
	ctx := context.Background()
	for _, id := range []string{"a", "b"} {
		_, err := c.GetEncryption(ctx, id, 0, f.fetch)
		require.NoError(t, err)
	}
	clock.Advance(time.Minute)
	_, err := c.GetDecryption(ctx, "c", f.fetch)
	require.NoError(t, err)
	s := c.Stats()
	assert.Equal(t, keycache.EvictionStats{Age: 2}, s.Evictions)
	assert.Equal(t, 1, s.Entries)
	assert.Zero(t, f.key(t, 1).Len())
	assert.Zero(t, f.key(t, 2).Len())
}

func TestPurge(t *testing.T) {
	rec := &recorder{}
	c := newCache(t, keycache.Config{OnEvent: rec.record})
	f := &fetcher{}
	ctx := context.Background()
	var handles []keycache.Handle
	for _, id := range []string{"a", "b"} {
		h, err := c.GetEncryption(ctx, id, 0, f.fetch)
		require.NoError(t, err)
		handles = append(handles, h)
		h, err = c.GetDecryption(ctx, id, f.fetch)
		require.NoError(t, err)
		handles = append(handles, h)
	}
	rec.take()

	c.Purge()
	s := c.Stats()
	assert.Equal(t, 0, s.Entries)
	assert.Equal(t, keycache.EvictionStats{Purged: 4}, s.Evictions)
	assert.ElementsMatch(t, []keycache.Event{
		evict(keycache.EvictPurged), evict(keycache.EvictPurged),
		dec(evict(keycache.EvictPurged)), dec(evict(keycache.EvictPurged)),
	}, rec.take())
	for i := 1; i <= 4; i++ {
		assert.Zero(t, f.key(t, i).Len(), "key of fetch %d wiped", i)
	}
	for _, h := range handles {
		called := false
		assert.ErrorIs(t, h.WithKey(func([]byte) { called = true }), keycache.ErrRetired)
		assert.False(t, called, "WithKey must not call f with a wiped key")
	}

	h, err := c.GetEncryption(ctx, "a", 0, f.fetch)
	require.NoError(t, err)
	assert.Equal(t, 5, h.Aux(), "purged entries are fetched again")
	c.Purge()
	c.Purge() // idempotent on an empty cache
	assert.Equal(t, uint64(5), c.Stats().Evictions.Purged)
	requireBalanced(t, c)
}

func TestGetEncryptionMessageTooLarge(t *testing.T) {
	c := newCache(t, keycache.Config{MaxBytes: 100})
	f := &fetcher{}
	_, err := c.GetEncryption(context.Background(), "a", 101, f.fetch)
	require.ErrorIs(t, err, keycache.ErrMessageTooLarge)
	assert.Zero(t, f.count())
	assert.Equal(t, keycache.Stats{}, c.Stats())

	h, err := c.GetEncryption(context.Background(), "a", 100, f.fetch)
	require.NoError(t, err)
	assert.Equal(t, 1, h.Aux())
}

func TestFetchReturnsInvalidMaterials(t *testing.T) {
	tests := []struct {
		name    string
		m       *keycache.Materials
		wantErr string
	}{
		{name: "nil materials", m: nil, wantErr: "nil materials"},
		{name: "nil key", m: &keycache.Materials{Aux: "x"}, wantErr: "nil key"},
		{name: "empty key", m: &keycache.Materials{Key: keycache.NewKey(nil)}, wantErr: "empty or wiped key"},
		{name: "wiped key", m: func() *keycache.Materials {
			k := keycache.NewKey([]byte("0123456789abcdef0123456789abcdef"))
			k.Wipe()
			return &keycache.Materials{Key: k}
		}(), wantErr: "empty or wiped key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recorder{}
			c := newCache(t, keycache.Config{OnEvent: rec.record})
			calls := 0
			fetch := func(context.Context) (*keycache.Materials, error) {
				calls++
				return tt.m, nil
			}
			for i := 1; i <= 2; i++ {
				_, err := c.GetDecryption(context.Background(), "id", fetch)
				require.ErrorContains(t, err, tt.wantErr)
				assert.Regexp(t, `^keycache: `, err.Error())
				assert.Equal(t, i, calls, "invalid results are not cached")
			}
			assert.Equal(t, keycache.Stats{Misses: 2, Fetches: 2, FetchErrors: 2}, c.Stats())
			// A fetch reports its outcome on its own goroutine after releasing
			// the waiters (see Config.OnEvent): the last fetch-error event may
			// land after Get returns, and a Get's miss after its fetch's events.
			require.Eventually(t, func() bool { return rec.count(keycache.EventFetchError) == 2 }, 5*time.Second, time.Millisecond)
			assert.ElementsMatch(t, []keycache.Event{dec(miss), dec(fetchEv), dec(fetchErrEv), dec(miss), dec(fetchEv), dec(fetchErrEv)}, rec.take())
		})
	}
}

func TestFetchErrorIsReturnedAsIsAndNotCached(t *testing.T) {
	errBoom := errors.New("kms: throttled")
	c := newCache(t, keycache.Config{})
	f := &fetcher{err: errBoom}
	_, err := c.GetEncryption(context.Background(), "a", 0, f.fetch)
	require.Same(t, errBoom, err)

	f.err = nil
	h, err := c.GetEncryption(context.Background(), "a", 0, f.fetch)
	require.NoError(t, err)
	assert.Equal(t, 2, h.Aux())
	assert.Equal(t, keycache.Stats{Misses: 2, Fetches: 2, FetchErrors: 1, Entries: 1}, c.Stats())
}

func TestZeroHandlePanics(t *testing.T) {
	var h keycache.Handle
	assert.PanicsWithValue(t, "keycache: use of zero Handle", func() { _ = h.WithKey(func([]byte) {}) })
	assert.PanicsWithValue(t, "keycache: use of zero Handle", func() { _ = h.Aux() })
	assert.PanicsWithValue(t, "keycache: use of zero Handle", func() { h.AddBytes(1) })
}

func TestNilFetchPanics(t *testing.T) {
	c := newCache(t, keycache.Config{})
	assert.Panics(t, func() { _, _ = c.GetDecryption(context.Background(), "a", nil) })
}

func TestEventAndReasonStrings(t *testing.T) {
	for k, want := range map[keycache.EventKind]string{
		keycache.EventHit: "hit", keycache.EventMiss: "miss", keycache.EventFetch: "fetch",
		keycache.EventFetchError: "fetch error", keycache.EventEvict: "evict", 0: "EventKind(0)",
	} {
		assert.Equal(t, want, k.String())
	}
	for r, want := range map[keycache.EvictReason]string{
		keycache.EvictCapacity: "capacity", keycache.EvictAge: "age", keycache.EvictMessages: "messages",
		keycache.EvictBytes: "bytes", keycache.EvictPurged: "purged", 9: "EvictReason(9)",
	} {
		assert.Equal(t, want, r.String())
	}
	assert.Equal(t, uint64(15), keycache.EvictionStats{1, 2, 3, 4, 5}.Total())
}

func TestLimitsBoundFetches(t *testing.T) {
	c := newCache(t, keycache.Config{MaxMessages: 10})
	f := &fetcher{}
	for i := 0; i < 95; i++ {
		h, err := c.GetEncryption(context.Background(), "a", 1, f.fetch)
		require.NoError(t, err)
		require.Equal(t, i/10+1, h.Aux(), "message %d", i)
	}
	assert.Equal(t, 10, f.count())
	s := c.Stats()
	assert.Equal(t, uint64(10), s.Fetches)
	assert.Equal(t, uint64(9), s.Evictions.Messages)
	assert.Equal(t, uint64(85), s.Hits)
	requireBalanced(t, c)
}
