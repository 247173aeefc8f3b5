package keycache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults applied by [New] to zero [Config] fields. The package comment
// explains why these values are safe.
const (
	DefaultCapacity            = 1024
	DefaultMaxAge              = 5 * time.Minute
	DefaultMaxMessages  uint64 = 1 << 20
	DefaultMaxBytes     uint64 = 1 << 36 // 64 GiB
	DefaultFetchTimeout        = 30 * time.Second
)

var (
	// ErrRetired is returned by [Handle.WithKey] when the entry was retired
	// (its key is wiped, or will be when the callbacks still running
	// return) before WithKey could run. The callback was not called; get a
	// new Handle.
	ErrRetired = errors.New("keycache: entry retired and its key wiped")

	// ErrMessageTooLarge is returned by [Cache.GetEncryption] when n alone
	// exceeds [Config.MaxBytes], so no cached entry could ever serve it.
	ErrMessageTooLarge = errors.New("keycache: message larger than Config.MaxBytes")

	errNilMaterials = errors.New("keycache: fetch returned nil materials")
	errNilKey       = errors.New("keycache: fetch returned materials with a nil key")
	errEmptyKey     = errors.New("keycache: fetch returned an empty or wiped key")
	errFetchExited  = errors.New("keycache: fetch exited without returning")

	errFetchPanicked = errors.New("keycache: the data key fetch panicked")

	// ErrClosed is returned by [Cache.GetEncryption] and
	// [Cache.GetDecryption] after [Cache.Close] (unless
	// [Cache.CloseWithError] named another error).
	ErrClosed = errors.New("keycache: cache closed")
)

// Materials are what one cache entry holds: the data key and opaque caller
// data (package envelope keeps its wrapped keys there).
//
// Once a fetch returns Materials, the cache owns Key: it wipes it when the
// entry is retired, so the fetch must return a Key of its own and not use it
// afterwards. Aux must be treated as immutable once cached; it is shared by
// every Handle for the entry.
type Materials struct {
	Key *Key
	Aux any
}

// Config configures a [Cache]. The zero value of every field selects the
// documented default. New copies the Config, so changing it afterwards has
// no effect.
type Config struct {
	// Capacity is the maximum number of entries, encryption and decryption
	// together. Beyond it, the least recently used entry is evicted. 0 means
	// DefaultCapacity (1024).
	Capacity int

	// MaxAge is how long an entry may be used after its fetch completed: an
	// entry whose age is MaxAge or more is never returned. It bounds how long
	// a disabled KMS key or a revoked permission keeps working from the
	// cache. 0 means DefaultMaxAge (5 minutes).
	MaxAge time.Duration

	// MaxMessages is how many messages one encryption entry may serve.
	// 0 means DefaultMaxMessages (1<<20).
	MaxMessages uint64

	// MaxBytes is how many plaintext bytes one encryption entry may protect,
	// counting the n of every GetEncryption and every Handle.AddBytes.
	// 0 means DefaultMaxBytes (1<<36, 64 GiB).
	MaxBytes uint64

	// FetchTimeout bounds one shared fetch: the fetch's context is cancelled
	// with context.DeadlineExceeded after it, and its waiters get an error
	// then even if the fetch ignores its context (a key it returns later is
	// wiped). A fetch that panics gives its waiters an error too. 0 means
	// DefaultFetchTimeout (30 seconds).
	FetchTimeout time.Duration

	// Now is the clock for entry ages. nil means time.Now. Tests inject a fake
	// clock here. The clock should not go backwards: if it does, entries live
	// longer by as much.
	Now func() time.Time

	// OnEvent, if not nil, is called for every [Event], synchronously on the
	// goroutine that caused it (a caller's, or for a fetch's outcome the
	// fetch's own) and never with a cache lock held. It must be fast, safe
	// for concurrent use and must not panic; it may call into the Cache,
	// even Get the id whose miss it reports. Keys are wiped, and waiters
	// released, before the events that report them.
	OnEvent func(Event)
}

// Cache caches encryption and decryption materials. Create it with [New];
// it is safe for concurrent use.
type Cache struct {
	cfg     Config // defaults applied; read-only after New
	now     func() time.Time
	onEvent func(Event)

	// mu guards entries, calls, lru and gen, and in every entry the fields
	// documented as guarded by Cache.mu. It is never held while calling
	// fetch, OnEvent or a WithKey callback.
	mu      sync.Mutex
	entries map[entryKey]*entry
	calls   map[entryKey]*call // fetches in flight
	lru     lruList
	gen     uint64 // incremented by Purge; fetches started earlier are not cached
	// closeErr is set by Close: every Get returns it, and nothing is
	// cached any more.
	closeErr error

	// closing is cancelled by Close; every fetch's context ends with it.
	closing       context.Context
	cancelClosing context.CancelFunc

	hits, misses, fetches, fetchErrors, sharedWaits atomic.Uint64
	evictions                                       [EvictPurged + 1]atomic.Uint64
}

// entryKey separates the encryption and decryption namespaces.
type entryKey struct {
	id  string
	enc bool
}

// call is one fetch in flight, shared by every Get that waits for it.
type call struct {
	done chan struct{} // closed when the fetch has finished and err is set
	err  error
	gen  uint64 // Cache.gen when the fetch started
}

// entry is one cached Materials.
type entry struct {
	c       *Cache
	k       entryKey
	key     *Key
	aux     any
	created time.Time

	// Guarded by Cache.mu.
	messages, bytes uint64
	inCache         bool   // in Cache.entries and Cache.lru
	prev, next      *entry // Cache.lru links; prev is more recently used

	// state is the number of WithKey callbacks running (the low bits) and
	// the retired flag, in one atomic word. No reader starts once retired is
	// set, so exactly one party sees "retired, no reader": retirement itself
	// (no reader then), or the last reader leaving. That one wipes; there is
	// no wakeup to lose between the two.
	state atomic.Uint64
}

const (
	stateRetired = 1 << 63
	stateReaders = stateRetired - 1
)

// New returns a Cache configured by cfg. It returns an error naming the field
// if a field is negative.
func New(cfg Config) (*Cache, error) {
	switch {
	case cfg.Capacity < 0:
		return nil, fmt.Errorf("keycache: Config.Capacity is negative (%d)", cfg.Capacity)
	case cfg.MaxAge < 0:
		return nil, fmt.Errorf("keycache: Config.MaxAge is negative (%v)", cfg.MaxAge)
	case cfg.FetchTimeout < 0:
		return nil, fmt.Errorf("keycache: Config.FetchTimeout is negative (%v)", cfg.FetchTimeout)
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = DefaultCapacity
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MaxMessages == 0 {
		cfg.MaxMessages = DefaultMaxMessages
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Cache{
		cfg:     cfg,
		now:     cfg.Now,
		onEvent: cfg.OnEvent,
		entries: make(map[entryKey]*entry),
		calls:   make(map[entryKey]*call),
	}
	c.closing, c.cancelClosing = context.WithCancel(context.Background())
	return c, nil
}

// Close purges the cache for good: every entry is retired and its key
// wiped (as by [Cache.Purge]); the fetches in flight have their contexts
// cancelled, and their waiters are released at once with [ErrClosed] (a
// key a fetch returns afterwards is wiped, not cached); and every later
// GetEncryption and GetDecryption returns ErrClosed without fetching, and
// every Lookup misses. Stats still work. Close is idempotent and returns
// nil.
func (c *Cache) Close() error { return c.CloseWithError(nil) }

// CloseWithError is [Cache.Close], except that the fetches in flight and
// every later Get fail with err (nil means [ErrClosed]), returned as is: an
// owner that closes its cache gives it its own "closed" sentinel, so its
// callers see one error whichever layer refused them. Only the first Close
// or CloseWithError sets the error.
func (c *Cache) CloseWithError(err error) error {
	if err == nil {
		err = ErrClosed
	}
	c.mu.Lock()
	if c.closeErr == nil {
		c.closeErr = err
	}
	c.mu.Unlock()
	c.cancelClosing()
	c.Purge()
	return nil
}

// GetEncryption returns the encryption materials cached under id, charging
// one message and n plaintext bytes to them.
//
// A cached entry is returned only if its age is less than MaxAge, it has
// served fewer than MaxMessages messages, and its bytes plus n do not exceed
// MaxBytes; otherwise it is retired (removed, and its key wiped once no
// [Handle.WithKey] is running) and replaced. If n alone exceeds MaxBytes,
// GetEncryption returns [ErrMessageTooLarge]. Pass n = 0 when the size is not
// known yet and charge it later with [Handle.AddBytes].
//
// On a miss, fetch is called once for all concurrent callers of the same id.
// It runs on its own goroutine with a context that keeps ctx's values but not
// its cancellation, bounded by [Config.FetchTimeout]. Each caller waits until
// the fetch finishes or its own ctx is done; in the latter case it returns an
// error wrapping ctx.Err() while the fetch goes on and still fills the cache.
// After the fetch every waiter is charged against the new entry like a hit;
// waiters beyond its limits make another fetch. A fetch error is returned, as
// is, to every waiter and is not cached; so is a nil Materials or Key.
//
// A hit does not allocate, but fetch escapes (it may outlive the call), so a
// closure built for each call costs one allocation even on a hit.
func (c *Cache) GetEncryption(ctx context.Context, id string, n uint64, fetch func(context.Context) (*Materials, error)) (Handle, error) {
	if n > c.cfg.MaxBytes {
		return Handle{}, ErrMessageTooLarge
	}
	return c.get(ctx, entryKey{id: id, enc: true}, n, fetch)
}

// GetDecryption is [Cache.GetEncryption] for decryption materials, which live
// in a namespace of their own: only MaxAge limits them.
func (c *Cache) GetDecryption(ctx context.Context, id string, fetch func(context.Context) (*Materials, error)) (Handle, error) {
	return c.get(ctx, entryKey{id: id}, 0, fetch)
}

// LookupEncryption is the hit path of [Cache.GetEncryption] without a
// fetch: if an entry for id can serve one more message of n bytes, it is
// charged and returned. Otherwise nothing changes and ok is false; call
// GetEncryption then (with string(id)). Hot paths try it first and build
// their fetch function only on a miss, which keeps a hit allocation-free;
// the id is taken as bytes so that callers can assemble it in a reused or
// stack buffer without allocating a string per message.
func (c *Cache) LookupEncryption(id []byte, n uint64) (h Handle, ok bool) {
	if n > c.cfg.MaxBytes {
		return Handle{}, false
	}
	return c.lookup(id, true, n)
}

// LookupDecryption is [Cache.LookupEncryption] for decryption materials.
func (c *Cache) LookupDecryption(id []byte) (h Handle, ok bool) {
	return c.lookup(id, false, 0)
}

// lookup returns a usable entry for (id, enc), charging it, or false. An
// exhausted entry is left for get to retire with its reason.
func (c *Cache) lookup(id []byte, enc bool, n uint64) (Handle, bool) {
	now := c.now()
	c.mu.Lock()
	e := c.entries[entryKey{id: string(id), enc: enc}] // no allocation: the compiler converts in place
	if e == nil || c.exhausted(e, n, now) != 0 {
		c.mu.Unlock()
		return Handle{}, false
	}
	if enc {
		e.messages++
		e.bytes += n
	}
	c.lru.moveToFront(e)
	c.mu.Unlock()
	c.hits.Add(1)
	c.emit(Event{Kind: EventHit, Encryption: enc})
	return Handle{e}, true
}

func (c *Cache) get(ctx context.Context, k entryKey, n uint64, fetch func(context.Context) (*Materials, error)) (Handle, error) {
	if fetch == nil {
		panic("keycache: nil fetch function")
	}
	missed := false
	for {
		now := c.now()
		gaveUp := ctx.Err() != nil // read outside the lock: ctx is caller code
		c.mu.Lock()
		if err := c.closeErr; err != nil {
			c.mu.Unlock()
			return Handle{}, err
		}
		var reason EvictReason
		e := c.entries[k]
		if e != nil {
			if reason = c.exhausted(e, n, now); reason == 0 {
				if k.enc {
					e.messages++
					e.bytes += n
				}
				c.lru.moveToFront(e)
				c.mu.Unlock()
				if !missed {
					c.hits.Add(1)
					c.emit(Event{Kind: EventHit, Encryption: k.enc})
				}
				return Handle{e}, nil
			}
			c.removeLocked(e)
		}
		cl, leader := c.calls[k], false
		if cl == nil && !gaveUp {
			// Do not start a fetch for a caller that has already given up.
			cl = &call{done: make(chan struct{}), gen: c.gen}
			c.calls[k] = cl
			leader = true
		}
		c.mu.Unlock()

		// Start the fetch before anything calls the hook: a hook may call
		// back into the cache (even Get this id) or panic, and neither may
		// leave waiters on a fetch that never started.
		if leader {
			c.fetches.Add(1)
			go c.runFetch(ctx, k, cl, fetch)
		}
		if e != nil {
			c.retire(e, reason)
		}
		if !missed {
			missed = true
			c.misses.Add(1)
			c.emit(Event{Kind: EventMiss, Encryption: k.enc})
		}
		if cl == nil {
			return Handle{}, waitErr(ctx)
		}
		if leader {
			c.emit(Event{Kind: EventFetch, Encryption: k.enc})
		} else {
			c.sharedWaits.Add(1)
		}
		select {
		case <-cl.done:
		default:
			select {
			case <-cl.done:
			case <-ctx.Done():
				return Handle{}, waitErr(ctx)
			}
		}
		if cl.err != nil {
			return Handle{}, cl.err
		}
		// The fetch cached a new entry (unless it was purged or already used
		// up by others): charge this caller against it on the next pass.
	}
}

func waitErr(ctx context.Context) error {
	return fmt.Errorf("keycache: gave up waiting for data key fetch: %w", ctx.Err())
}

// exhausted returns why e cannot serve one more message of n bytes, or 0.
func (c *Cache) exhausted(e *entry, n uint64, now time.Time) EvictReason {
	if c.expired(e, now) {
		return EvictAge
	}
	if !e.k.enc {
		return 0
	}
	if e.messages >= c.cfg.MaxMessages {
		return EvictMessages
	}
	if e.bytes > c.cfg.MaxBytes || n > c.cfg.MaxBytes-e.bytes {
		return EvictBytes
	}
	return 0
}

// fetchResult is what one fetch returned.
type fetchResult struct {
	m   *Materials
	err error
}

// runFetch runs one shared fetch and publishes its result. The fetch runs in
// a goroutine of its own so that FetchTimeout holds even for a fetch that
// ignores its context: the waiters are released with an error at the
// deadline, and a result that comes later is wiped. A panic or
// runtime.Goexit in fetch becomes an error for the waiters, not a crash.
func (c *Cache) runFetch(parent context.Context, k entryKey, cl *call, fetch func(context.Context) (*Materials, error)) {
	// Detached from the first caller, bounded by FetchTimeout, and ended
	// by Close.
	base, cancelBase := context.WithCancel(context.WithoutCancel(parent))
	defer cancelBase()
	stop := context.AfterFunc(c.closing, cancelBase)
	defer stop()
	ctx, cancel := context.WithTimeout(base, c.cfg.FetchTimeout)
	defer cancel()
	done := make(chan fetchResult, 1)
	go func() {
		r := fetchResult{err: errFetchExited}
		defer func() {
			if p := recover(); p != nil {
				// The panic value is not included: it is caller data and
				// might hold key material.
				r = fetchResult{err: fmt.Errorf("%w (a %T)", errFetchPanicked, p)}
			}
			done <- r
		}()
		r.m, r.err = fetch(ctx)
	}()
	var r fetchResult
	select {
	case r = <-done:
	case <-ctx.Done():
		if c.closing.Err() != nil {
			r = fetchResult{err: ErrClosed} // replaced by closeErr below
		} else {
			r = fetchResult{err: fmt.Errorf("keycache: the data key fetch did not return within FetchTimeout (%v): %w", c.cfg.FetchTimeout, ctx.Err())}
		}
		go func() { wipeMaterials(<-done) }()
	}
	if c.closing.Err() != nil {
		// Whatever the fetch made of its cancelled context, its waiters
		// learn that the cache was closed (the result is not cached).
		wipeMaterials(r)
		c.mu.Lock()
		r = fetchResult{err: c.closeErr}
		c.mu.Unlock()
	}
	if r.err != nil {
		wipeMaterials(r) // a key returned with an error is never used
		r.m = nil
	} else {
		switch {
		case r.m == nil:
			r.err = errNilMaterials
		case r.m.Key == nil:
			r.err = errNilKey
		case r.m.Key.Len() == 0:
			r.err = errEmptyKey
		}
	}
	c.finish(k, cl, r.m, r.err)
}

// wipeMaterials wipes the key of a fetch result that will not be cached.
func wipeMaterials(r fetchResult) {
	if r.m != nil && r.m.Key != nil {
		r.m.Key.Wipe()
	}
}

type eviction struct {
	e      *entry
	reason EvictReason
}

// finish caches a successful fetch's result, releases the waiters and
// reports what happened.
func (c *Cache) finish(k entryKey, cl *call, m *Materials, err error) {
	var evicted []eviction
	var stale *entry
	c.mu.Lock()
	if c.calls[k] == cl {
		delete(c.calls, k)
	}
	if err == nil {
		now := c.now()
		e := &entry{c: c, k: k, key: m.Key, aux: m.Aux, created: now}
		if cl.gen != c.gen {
			stale = e // Purge ran while the fetch was in flight
		} else {
			if old := c.entries[k]; old != nil {
				// Not expected: a key has at most one fetch in flight, and
				// entries are only added by fetches.
				c.removeLocked(old)
				evicted = append(evicted, eviction{old, EvictPurged})
			}
			c.entries[k] = e
			e.inCache = true
			c.lru.pushFront(e)
			evicted = c.trimLocked(now, evicted)
		}
	}
	c.mu.Unlock()

	if err != nil {
		c.fetchErrors.Add(1)
	}
	if stale != nil {
		evicted = append(evicted, eviction{stale, EvictPurged})
	}
	// Wipe (or mark) every retired key and count it, then release the
	// waiters (so the Stats they read add up), and only then run the hooks.
	for _, ev := range evicted {
		ev.e.markRetired()
		c.evictions[ev.reason].Add(1)
	}
	cl.err = err
	close(cl.done)
	if err != nil {
		c.emit(Event{Kind: EventFetchError, Encryption: k.enc})
	}
	for _, ev := range evicted {
		c.emit(Event{Kind: EventEvict, Encryption: ev.e.k.enc, Reason: ev.reason})
	}
}

// trimLocked removes entries beyond Capacity, least recently used first, and
// then expired entries from the cold end of the list.
func (c *Cache) trimLocked(now time.Time, evicted []eviction) []eviction {
	for len(c.entries) > c.cfg.Capacity {
		e := c.lru.tail
		c.removeLocked(e)
		evicted = append(evicted, eviction{e, EvictCapacity})
	}
	for e := c.lru.tail; e != nil; e = c.lru.tail {
		if !c.expired(e, now) {
			break
		}
		c.removeLocked(e)
		evicted = append(evicted, eviction{e, EvictAge})
	}
	return evicted
}

// expired reports whether e has reached MaxAge at now. A Get reads the clock
// before taking Cache.mu, so it may see an entry created a moment "after" its
// now: a negative age counts as zero.
func (c *Cache) expired(e *entry, now time.Time) bool {
	return now.Sub(e.created) >= c.cfg.MaxAge
}

func (c *Cache) removeLocked(e *entry) {
	delete(c.entries, e.k)
	c.lru.remove(e)
	e.inCache = false
}

// retire marks an entry already removed from the cache as retired, wipes its
// key now or, if WithKey callbacks are running, when the last one returns,
// and then counts and reports the eviction (after the wipe, so a panicking
// hook cannot leave a key unwiped). It never blocks on a WithKey callback.
func (c *Cache) retire(e *entry, reason EvictReason) {
	e.markRetired()
	c.reportEviction(e, reason)
}

func (c *Cache) reportEviction(e *entry, reason EvictReason) {
	c.evictions[reason].Add(1)
	c.emit(Event{Kind: EventEvict, Encryption: e.k.enc, Reason: reason})
}

// markRetired sets the retired flag; with no reader left, it also wipes.
func (e *entry) markRetired() {
	if old := e.state.Or(stateRetired); old == 0 { // not retired before, no reader
		e.key.Wipe()
	}
}

func (c *Cache) emit(ev Event) {
	if c.onEvent != nil {
		c.onEvent(ev)
	}
}

// Purge retires every entry and wipes its key (immediately, or as soon as the
// WithKey calls running on it return). Fetches in flight finish, but their
// results are not cached: their waiters fetch again. Use it on key rotation
// or shutdown.
func (c *Cache) Purge() {
	c.mu.Lock()
	all := make([]*entry, 0, len(c.entries))
	for e := c.lru.head; e != nil; e = e.next {
		all = append(all, e)
	}
	for _, e := range all {
		c.removeLocked(e)
	}
	clear(c.calls)
	c.gen++
	c.mu.Unlock()
	for _, e := range all { // every key first, then the hooks
		e.markRetired()
	}
	for _, e := range all {
		c.reportEviction(e, EvictPurged)
	}
}

// Stats returns the counters since New.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	n := len(c.entries)
	c.mu.Unlock()
	return Stats{
		Hits:        c.hits.Load(),
		Misses:      c.misses.Load(),
		Fetches:     c.fetches.Load(),
		FetchErrors: c.fetchErrors.Load(),
		SharedWaits: c.sharedWaits.Load(),
		Evictions: EvictionStats{
			Capacity: c.evictions[EvictCapacity].Load(),
			Age:      c.evictions[EvictAge].Load(),
			Messages: c.evictions[EvictMessages].Load(),
			Bytes:    c.evictions[EvictBytes].Load(),
			Purged:   c.evictions[EvictPurged].Load(),
		},
		Entries: n,
	}
}

// Handle gives access to the materials a Get returned. It is a small value:
// copy it freely, but do not keep it beyond the operation it was obtained
// for, since the entry may be retired and its key wiped at any time after
// the Get.
type Handle struct {
	e *entry
}

func (h Handle) entry() *entry {
	if h.e == nil {
		panic("keycache: use of zero Handle")
	}
	return h.e
}

// WithKey runs f with the data key bytes. The key is not wiped while f runs:
// a retired entry's key is wiped when the last running callback returns. f
// must not retain or modify the slice and should be short (derive what you
// need and return). f may call other Cache and Handle methods.
//
// If the entry was retired after the Get that returned h, WithKey does not
// call f and returns [ErrRetired]; get a new Handle. This can happen
// whenever another goroutine retires the entry (its limits, LRU eviction,
// Purge) between the Get and WithKey.
func (h Handle) WithKey(f func(key []byte)) error {
	e := h.entry()
	for {
		s := e.state.Load()
		if s&stateRetired != 0 {
			return ErrRetired
		}
		if e.state.CompareAndSwap(s, s+1) {
			break
		}
	}
	defer e.endRead()
	f(e.key.Bytes())
	return nil
}

// endRead ends one WithKey; the last reader of a retired entry wipes it.
func (e *entry) endRead() {
	if e.state.Add(^uint64(0)) == stateRetired { // retired, and this was the last reader
		e.key.Wipe()
	}
}

// Aux returns the caller data cached with the key ([Materials.Aux]).
func (h Handle) Aux() any { return h.entry().aux }

// AddBytes charges n more plaintext bytes to an encryption entry, for
// streaming encryption that learns its size late. If the charge takes the
// entry past MaxBytes it is retired at once: no later Get returns it, and its
// key is wiped as soon as no WithKey is running (so derive what you need
// before charging). AddBytes on decryption materials does nothing.
func (h Handle) AddBytes(n uint64) {
	e := h.entry()
	if !e.k.enc || n == 0 {
		return
	}
	c := e.c
	c.mu.Lock()
	if e.bytes > ^uint64(0)-n {
		e.bytes = ^uint64(0)
	} else {
		e.bytes += n
	}
	retire := e.inCache && e.bytes > c.cfg.MaxBytes
	if retire {
		c.removeLocked(e)
	}
	c.mu.Unlock()
	if retire {
		c.retire(e, EvictBytes)
	}
}

// lruList is an intrusive doubly linked list of entries, most recently used
// at head.
type lruList struct {
	head, tail *entry
}

func (l *lruList) pushFront(e *entry) {
	e.prev, e.next = nil, l.head
	if l.head != nil {
		l.head.prev = e
	} else {
		l.tail = e
	}
	l.head = e
}

func (l *lruList) remove(e *entry) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		l.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		l.tail = e.prev
	}
	e.prev, e.next = nil, nil
}

func (l *lruList) moveToFront(e *entry) {
	if l.head == e {
		return
	}
	l.remove(e)
	l.pushFront(e)
}
