package keycache_test

import (
	"bytes"
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/keycache"
)

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// keyBytesFor returns the 32 key bytes the fetcher hands out on its i-th
// fetch (1-based).
// Never all zeros, so a wiped key cannot pass for a fresh one.
func keyBytesFor(i int) []byte { return bytes.Repeat([]byte{byte(i%251 + 1)}, 32) }

// fetcher counts fetches and returns fresh materials whose Aux is the fetch
// number and whose key is keyBytesFor(number). If gate is not nil, every
// fetch first waits for a value (or close) on it.
type fetcher struct {
	n    atomic.Int64
	gate chan struct{}
	err  error

	mu   sync.Mutex
	keys []*keycache.Key // every key handed out, in order
	live [][]byte        // their live bytes, to check that wiping zeroes memory
}

func (f *fetcher) fetch(ctx context.Context) (*keycache.Materials, error) {
	i := int(f.n.Add(1))
	if f.gate != nil {
		<-f.gate
	}
	if f.err != nil {
		return nil, f.err
	}
	b := keyBytesFor(i)
	k := keycache.NewKey(b)
	clear(b)
	f.mu.Lock()
	f.keys = append(f.keys, k)
	f.live = append(f.live, k.Bytes())
	f.mu.Unlock()
	return &keycache.Materials{Key: k, Aux: i}, nil
}

// liveBytes returns the memory that held the key of the i-th fetch (1-based).
func (f *fetcher) liveBytes(t *testing.T, i int) []byte {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.GreaterOrEqual(t, len(f.live), i, "fetch %d has not returned", i)
	return f.live[i-1]
}

func (f *fetcher) count() int { return int(f.n.Load()) }

// key returns the key of the i-th fetch (1-based).
func (f *fetcher) key(t *testing.T, i int) *keycache.Key {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.GreaterOrEqual(t, len(f.keys), i, "fetch %d has not returned", i)
	return f.keys[i-1]
}

// recorder records events.
type recorder struct {
	mu     sync.Mutex
	events []keycache.Event
}

func (r *recorder) record(ev keycache.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) take() []keycache.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	evs := r.events
	r.events = nil
	return evs
}

func (r *recorder) count(kind keycache.EventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

func newCache(t testing.TB, cfg keycache.Config) *keycache.Cache {
	t.Helper()
	c, err := keycache.New(cfg)
	require.NoError(t, err)
	return c
}

// keyOf returns a copy of the handle's key bytes.
func keyOf(t *testing.T, h keycache.Handle) []byte {
	t.Helper()
	var out []byte
	require.NoError(t, h.WithKey(func(k []byte) { out = bytes.Clone(k) }))
	return out
}

// waitFor spins (yielding) until cond holds. It never sleeps: tests rely on
// channels and counters, not on timing.
func waitFor(cond func() bool) {
	for !cond() {
		runtime.Gosched()
	}
}

// requireBalanced checks that every successful fetch is either cached or
// counted as an eviction.
func requireBalanced(t *testing.T, c *keycache.Cache) {
	t.Helper()
	s := c.Stats()
	require.Equal(t, s.Fetches-s.FetchErrors, uint64(s.Entries)+s.Evictions.Total(), "stats %+v", s)
}

var (
	hit        = keycache.Event{Kind: keycache.EventHit, Encryption: true}
	miss       = keycache.Event{Kind: keycache.EventMiss, Encryption: true}
	fetchEv    = keycache.Event{Kind: keycache.EventFetch, Encryption: true}
	fetchErrEv = keycache.Event{Kind: keycache.EventFetchError, Encryption: true}
)

func evict(r keycache.EvictReason) keycache.Event {
	return keycache.Event{Kind: keycache.EventEvict, Encryption: true, Reason: r}
}

func dec(ev keycache.Event) keycache.Event {
	ev.Encryption = false
	return ev
}
