package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// ErrClosed is returned by every method of a [Client] after [Client.Close].
// It is [kmsclient.ErrClosed] (and so kmsenvelope.ErrClosed): one sentinel,
// whichever layer was closed.
var ErrClosed = kmsclient.ErrClosed

// ErrInvalidName is what every rejected secret name unwraps to: empty,
// longer than [MaxNameLen] bytes, or holding a control character. Such a
// name is refused before any KMS call. The error names the byte at fault
// but not the whole name.
var ErrInvalidName = errors.New("secrets: invalid secret name")

// MaxNameLen bounds a secret name (or secret ARN) in bytes. KMS allows
// names of up to 192 characters ("The name can be up to 192 characters in
// length", https://www.alibabacloud.com/help/en/kms/support/api-kms-createsecret);
// an ARN adds its acs:kms:<region>:<account>:secret/ prefix. The bound
// keeps a caller that passes untrusted names from filling memory with long
// ones (each failed name is remembered for its retry delay).
const MaxNameLen = 512

// Client reads secrets through a cache. It is safe for concurrent use. Create
// one with [New] and stop it with [Client.Close].
type Client struct {
	src Source
	cfg Config // defaulted; immutable after New

	// table is the cache: a map replaced, never modified, under mu (copy on
	// write), so that Get reads it without a lock.
	table atomic.Pointer[map[string]*entry]

	// mu guards the writes of table, flights, closed (with closedFlag) and
	// the fields of every entry that are documented as guarded by it.
	mu      sync.Mutex
	flights map[string]*flight // fetches in progress, by cache key
	closed  bool
	// failed holds, by cache key, the last error of a key with no usable
	// cached value, until its retry time: repeated Gets of a secret that is
	// denied, missing or unreachable return it instead of calling KMS each
	// time (1s doubling to 1m, as for refreshes). At most
	// min(MaxEntries, maxFailures): names may come from untrusted input, and
	// each failure holds its error (a local denial carries its whole
	// preflight report).
	failed map[string]failure
	// active holds the seq of every fetch (shared or RefreshNow) not yet
	// finished, its file write included; tombs holds, by secret name, the
	// latest denial or not-found while an operation older than it is still
	// active, so that its late answer cannot undo the decision (in memory
	// or on disk). Both are bounded by the operations in progress.
	active map[uint64]struct{}
	tombs  map[string]tomb
	// fileMu serialises the file cache's writes and removals: a write
	// re-checks tombs under it, and a removal takes it after its tomb is
	// set, so a write older than a denial never lands after its removal.
	fileMu sync.Mutex

	closedFlag atomic.Bool   // mirrors closed for the lock-free Get path
	wake       chan struct{} // nudges the refresher; nil without one
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup // the refresher and every fetch goroutine
	closeOnce  sync.Once

	seq   atomic.Uint64 // orders fetches, so an older answer never replaces a newer one
	stats counters

	policies      map[string]policy // resolved Config.Policies
	defaultPolicy policy
}

type counters struct {
	hits, misses, fetches, fetchErrors, staleServed, refreshes, changes atomic.Uint64
}

// Stats are counters since [New].
type Stats struct {
	Hits        uint64 // Gets answered from the cache with a fresh value
	Misses      uint64 // Gets that found no fresh value (absent or expired)
	Fetches     uint64 // calls made to the Source
	FetchErrors uint64 // calls to the Source that failed
	StaleServed uint64 // values returned with Stale() true
	Refreshes   uint64 // successful background (refresh-ahead) fetches
	Changes     uint64 // version changes seen (OnChange calls, if set)
	Entries     int    // values cached now
}

// request is what to fetch: a secret at a stage or at a version.
type request struct {
	name      string
	stage     string // "" when versionID is set alone
	versionID string
}

func (r request) input() *kmsclient.GetSecretValueInput {
	// FetchExtendedConfig: managed secrets (RAM, RDS, ECS) carry their
	// configuration, exposed as Value.ExtendedConfig, as the Alibaba
	// secrets manager client asks for it too.
	return &kmsclient.GetSecretValueInput{SecretName: r.name, VersionStage: r.stage, VersionID: r.versionID, FetchExtendedConfig: true}
}

// pinned reports whether the request names an immutable version.
func (r request) pinned() bool { return r.versionID != "" }

// entry is one cached (name, stage) or (name, version).
type entry struct {
	key string
	req request
	pol policy // the secret's caching policy

	// snap is the value and its expiry, replaced under mu and read without
	// a lock by Get.
	snap atomic.Pointer[snapshot]
	// used is set by the first cache hit after the value was fetched and
	// cleared when a background refresh starts: only entries read since
	// their last fetch are refreshed ahead of expiry.
	used atomic.Bool
	// lastUse is the clock reading (UnixNano) of the latest hit, to the
	// millisecond, for LRU.
	lastUse atomic.Int64

	// Guarded by Client.mu:
	seq      uint64    // seq of the fetch that produced snap
	failures int       // consecutive retryable fetch failures
	retryAt  time.Time // no fetch before this after a failure; stale values are served meanwhile
	staleVal *Value    // snap.val marked stale, made on first need
}

// snapshot is an immutable cached value with its expiry.
type snapshot struct {
	val     *Value
	expires time.Time // zero for a pinned version: never expires
	// rotation reports that expires is the secret's NextRotationDate: the
	// refresher fetches it then, not RefreshAhead before.
	rotation bool
	// staleFor is the entry's StaleIfError (negative: never stale).
	staleFor time.Duration
}

func (s *snapshot) fresh(now time.Time) bool {
	return s.expires.IsZero() || now.Before(s.expires)
}

// flight is one fetch shared by every caller that wants the same key.
type flight struct {
	done chan struct{} // closed when the fields below are set
	val  *Value
	// stale reports that val is a stale value served because the fetch
	// failed.
	stale bool
	err   error
	// background marks a refresh-ahead started by the refresher.
	background bool
}

// New returns a Client reading from src. It validates cfg and starts the
// background refresher goroutine unless cfg.RefreshAhead is negative. Close
// the Client to stop it.
func New(src Source, cfg Config) (*Client, error) {
	if src == nil {
		return nil, errNoSource
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{src: src, cfg: cfg, flights: make(map[string]*flight), active: make(map[uint64]struct{})}
	c.defaultPolicy, _ = cfg.resolvePolicy(Policy{}) // checked by withDefaults
	for name, p := range cfg.Policies {
		if c.policies == nil {
			c.policies = make(map[string]policy, len(cfg.Policies))
		}
		c.policies[name], _ = cfg.resolvePolicy(p)
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	empty := make(map[string]*entry)
	c.table.Store(&empty)
	if cfg.RefreshAhead >= 0 {
		c.wake = make(chan struct{}, 1)
		c.wg.Add(1)
		go c.refresher()
	}
	return c, nil
}

// Close stops the refresher and cancels the fetches in progress, waits for
// every goroutine the client started to return, and empties the cache. Gets
// waiting for a fetch return [ErrClosed], and so does every later call.
// Close is idempotent and always returns nil.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.closedFlag.Store(true)
		c.mu.Unlock()
		c.cancel()
		c.wg.Wait()
		c.mu.Lock()
		empty := make(map[string]*entry)
		c.table.Store(&empty)
		c.mu.Unlock()
	})
	return nil
}

// GetOption modifies one [Client.Get].
type GetOption func(*getOptions)

type getOptions struct {
	stage     string
	versionID string
}

// Stage selects a version stage, such as [kmsclient.StagePrevious]. The
// default is [kmsclient.StageCurrent].
func Stage(stage string) GetOption { return func(o *getOptions) { o.stage = stage } }

// VersionID pins a version. Versions are immutable, so a pinned value never
// expires and is never refreshed (it is still subject to MaxEntries). With
// [Stage] as well, the version must also carry that stage.
func VersionID(id string) GetOption { return func(o *getOptions) { o.versionID = id } }

// resolve returns the cache key and request for name and opts. Without
// options, or with only the default stage, the key is the name itself.
func resolve(name string, opts []GetOption) (string, request) {
	var o getOptions
	for _, f := range opts {
		if f != nil {
			f(&o)
		}
	}
	req := request{name: name, stage: o.stage, versionID: o.versionID}
	switch {
	case o.versionID == "" && (o.stage == "" || o.stage == kmsclient.StageCurrent):
		req.stage = kmsclient.StageCurrent
		return name, req
	case o.versionID == "":
		return name + "\x00stage\x00" + o.stage, req
	default:
		// Control characters cannot appear in secret names, stages or
		// version ids, so keys cannot collide.
		return name + "\x00version\x00" + o.versionID + "\x00" + o.stage, req
	}
}

var errNoName = fmt.Errorf("%w: a secret name is required", ErrInvalidName)

// CheckName returns nil if name may be passed to [Client.Get], and
// otherwise the error Get would return, which unwraps to [ErrInvalidName].
// It does not check that the secret exists.
func CheckName(name string) error {
	if name == "" {
		return errNoName
	}
	return checkName(name)
}

// checkName rejects names longer than MaxNameLen and names with control
// characters, which no secret name has, and which would otherwise let a
// name reach another name's cache entry for a stage or version (their keys
// join parts with 0x00).
func checkName(name string) error {
	if len(name) > MaxNameLen {
		return fmt.Errorf("%w: %d bytes, more than MaxNameLen (%d)", ErrInvalidName, len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		if name[i] < 0x20 || name[i] == 0x7f {
			return fmt.Errorf("%w: %q has a control character at byte %d", ErrInvalidName, name, i)
		}
	}
	return nil
}

// Get returns the secret name (its ACSCurrent version unless an option says
// otherwise). A fresh cached value is returned at once, without allocating;
// otherwise Get fetches it, sharing one fetch with every concurrent Get of
// the same secret and stage or version. The shared fetch is detached from
// ctx's cancellation and bounded by 30s, so it completes and fills the cache
// even if this caller stops waiting; ctx bounds only the wait.
//
// When the cached value has expired and the fetch fails with a retryable
// error, Get returns the old value marked [Value.Stale] for up to
// Config.StaleIfError past expiry. Other errors (access denied, not found)
// are returned, wrapped as "secrets: <name>: …" so that errors.Is sees the
// kmsclient sentinels, and remove every cached stage and version of the
// secret (and their file cache copies); a fetch that started before such
// an answer and succeeds after it is not cached.
//
// A failure that leaves no value to serve is remembered: until its retry
// delay has passed (1s after the first failure, doubling to 1m), Get
// returns the same error without calling KMS, so a denied or missing secret
// read on every request does not become a KMS request each time.
// [Client.RefreshNow] always asks KMS; a success clears the failure.
func (c *Client) Get(ctx context.Context, name string, opts ...GetOption) (*Value, error) {
	if c.closedFlag.Load() {
		return nil, ErrClosed
	}
	key, req := name, request{}
	if len(opts) > 0 {
		key, req = resolve(name, opts)
	}
	now := c.cfg.Now()
	if e := (*c.table.Load())[key]; e != nil {
		// (The name check keeps a name holding the key separators, which
		// checkName rejects below, off another entry.)
		if s := e.snap.Load(); s != nil && s.fresh(now) && s.val.name == name {
			c.hit(e, now)
			return s.val, nil
		}
	}
	if name == "" {
		return nil, errNoName
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	if len(opts) == 0 {
		key, req = resolve(name, nil)
	}
	return c.load(ctx, key, req)
}

// hit records a cache hit on e.
func (c *Client) hit(e *entry, now time.Time) {
	c.stats.hits.Add(1)
	if c.cfg.OnEvent != nil {
		c.emit(EventHit)
	}
	// Writing lastUse on every hit would bounce the entry's cache line
	// between cores; millisecond resolution is plenty for LRU.
	if t := now.UnixNano(); t-e.lastUse.Load() >= int64(time.Millisecond) {
		e.lastUse.Store(t)
	}
	if !e.used.Load() && e.used.CompareAndSwap(false, true) && c.wake != nil {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// load is the slow path of Get: no fresh value is cached under key.
func (c *Client) load(ctx context.Context, key string, req request) (*Value, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	now := c.cfg.Now()
	e := (*c.table.Load())[key]
	if e != nil {
		s := e.snap.Load()
		if s.fresh(now) { // filled while we were taking the lock
			c.mu.Unlock()
			c.hit(e, now)
			return s.val, nil
		}
		if now.Before(e.retryAt) && c.staleAllowed(s, now) {
			// A fetch failed recently: serve the stale value until the
			// retry delay has passed instead of calling KMS again.
			v := c.staleValueLocked(e)
			c.mu.Unlock()
			c.stats.misses.Add(1)
			c.stats.staleServed.Add(1)
			c.emit(EventMiss)
			c.emit(EventStaleServed)
			return v, nil
		}
	}
	c.stats.misses.Add(1)
	c.emit(EventMiss)
	f := c.flights[key]
	if fl, ok := c.failed[key]; ok && f == nil && now.Before(fl.until) {
		c.mu.Unlock()
		return nil, fl.err
	}
	if f == nil {
		if err := ctx.Err(); err != nil {
			// Do not start a 30-second fetch for a caller that has
			// already given up (Prefetch past its deadline, say).
			c.mu.Unlock()
			if v := c.staleIfAllowed(key); v != nil {
				c.stats.staleServed.Add(1)
				c.emit(EventStaleServed)
				return v, nil
			}
			return nil, fmt.Errorf("secrets: %s: %w", req.name, err)
		}
		f = c.startFetchLocked(ctx, key, req)
	}
	c.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		// A hanging KMS must not turn stale-if-error into an error: if a
		// stale value may be served, serve it now; the fetch goes on.
		if v := c.staleIfAllowed(key); v != nil {
			c.stats.staleServed.Add(1)
			c.emit(EventStaleServed)
			return v, nil
		}
		return nil, fmt.Errorf("secrets: %s: %w", req.name, ctx.Err())
	case <-c.ctx.Done():
		return nil, ErrClosed
	}
	if f.stale {
		c.stats.staleServed.Add(1)
		c.emit(EventStaleServed)
	}
	return f.val, f.err
}

// maxFailures bounds the failures remembered (see Client.failed), whatever
// MaxEntries is.
const maxFailures = 256

// failure is a remembered fetch error; see Client.failed.
type failure struct {
	err   error
	until time.Time
	n     int
}

// rememberFailure records err for key. c.mu must be held.
func (c *Client) rememberFailure(key string, err error, now time.Time) {
	if c.failed == nil {
		c.failed = map[string]failure{}
	}
	f, ok := c.failed[key]
	if !ok && len(c.failed) >= min(c.cfg.MaxEntries, maxFailures) {
		for k := range c.failed { // full: forget one (any)
			delete(c.failed, k)
			break
		}
	}
	f.n++
	f.err, f.until = err, now.Add(retryDelay(f.n))
	c.failed[key] = f
}

// staleIfAllowed returns the cached value of key marked stale, if it is
// still within the StaleIfError window, or nil.
func (c *Client) staleIfAllowed(key string) *Value {
	now := c.cfg.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e := (*c.table.Load())[key]
	if e == nil || c.closed {
		return nil
	}
	s := e.snap.Load()
	if s == nil || !c.staleAllowed(s, now) {
		return nil
	}
	if s.fresh(now) {
		return s.val
	}
	return c.staleValueLocked(e)
}

// staleAllowed reports whether s may be served stale at now.
func (c *Client) staleAllowed(s *snapshot, now time.Time) bool {
	return s.staleFor >= 0 && !s.expires.IsZero() && now.Before(s.expires.Add(s.staleFor))
}

// staleValueLocked returns e's value marked stale. c.mu must be held.
func (c *Client) staleValueLocked(e *entry) *Value {
	s := e.snap.Load()
	if e.staleVal == nil { // reset whenever snap changes
		v := *s.val
		v.stale = true
		e.staleVal = &v
	}
	return e.staleVal
}

// startFetchLocked starts the shared fetch of key in its own goroutine and
// registers it in c.flights. c.mu must be held and c.closed false.
func (c *Client) startFetchLocked(ctx context.Context, key string, req request) *flight {
	f := &flight{done: make(chan struct{})}
	c.flights[key] = f
	seq := c.beginLocked()
	c.wg.Add(1)
	go func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		stop := context.AfterFunc(c.ctx, cancel)
		sv, err := c.fetch(fctx, req)
		stop()
		cancel()
		change := c.settle(key, req, f, seq, sv, err)
		c.finish(seq)
		// Close waits for fetches, not for OnChange: leave the group first,
		// so an OnChange that calls Close does not wait for itself.
		c.wg.Done()
		c.report(change)
	}()
	return f
}

// fetch calls the Source once.
func (c *Client) fetch(ctx context.Context, req request) (*kmsclient.SecretValue, error) {
	c.stats.fetches.Add(1)
	c.emit(EventFetch)
	sv, err := c.src.GetSecretValue(ctx, req.input())
	if err == nil && sv == nil {
		err = &kmsclient.RequestError{Operation: "GetSecretValue", Attempts: 1,
			Err: fmt.Errorf("%w: the source returned no value", kmsclient.ErrMalformedResponse)}
	}
	if err != nil {
		c.stats.fetchErrors.Add(1)
		c.emit(EventFetchError)
		return nil, err
	}
	return sv, nil
}

// settle records the outcome of the shared fetch f in the cache, completes
// f, and then (without the lock) logs and reports a version change.
func (c *Client) settle(key string, req request, f *flight, seq uint64, sv *kmsclient.SecretValue, ferr error) *Change {
	now := c.cfg.Now()
	var (
		change *Change
		prev   *snapshot
	)
	c.mu.Lock()
	if c.flights[key] == f {
		delete(c.flights, key)
	}
	switch {
	case c.closed:
		f.err = ErrClosed
	case ferr == nil:
		f.val, change = c.storeLocked(key, req, sv, seq, now)
		if f.background {
			c.stats.refreshes.Add(1)
			c.emit(EventRefresh)
		}
	default:
		f.val, f.stale, prev, f.err = c.failLocked(key, req, seq, ferr, now)
		if f.err != nil && !retryable(ferr) {
			c.tombLocked(req.name, seq, ferr)
			for range c.removeNameLocked(req.name) {
				c.emitEvict(EvictError)
			}
		}
		if f.background {
			c.emit(EventRefreshError)
		}
	}
	if f.val == nil && f.err == nil { // overtaken by a later denial
		f.err = c.tombs[req.name].err
	}
	c.mu.Unlock()
	switch {
	case c.cfg.FileCache == nil || f.err == ErrClosed || ferr == nil:
		// (A fetched value is written once the waiters are released.)
	case f.err != nil && !retryable(ferr):
		c.fileDeleteName(req.name) // a decision (denied, not found) is never masked, at any stage or version
	case f.err != nil && prev == nil:
		// An outage with nothing in memory: a cold start (a restart, or an
		// entry evicted). Serve the copy on disk if the secret's
		// StaleIfError allows it; never once an in-memory value ran out
		// of its stale window (fileLoad's age limit keeps to that window).
		if v := c.fileLoad(key, req, seq, now); v != nil {
			f.val, f.stale, f.err = v, true, nil
		}
	}
	if f.err != nil && f.err != ErrClosed {
		f.err = c.wrapErr(req.name, f.err)
		c.mu.Lock()
		if !c.closed && c.flights[key] == nil {
			c.rememberFailure(key, f.err, now)
		}
		c.mu.Unlock()
	}

	// Log before releasing the waiters, so that what they observe includes
	// the record; report the change after, so that a slow OnChange does not
	// hold them up.
	if c.cfg.Logger != nil && ferr != nil && f.val != nil {
		msg := "secrets: refreshing a secret failed; keeping the cached value"
		if f.stale {
			msg = "secrets: refreshing a secret failed; serving the expired value"
		}
		attrs := req.logAttrs()
		if prev != nil {
			attrs = append(attrs, slog.Time("expires", prev.expires))
		} else {
			msg = "secrets: fetching a secret failed; serving the copy from the file cache"
		}
		attrs = append(attrs, slog.String("error", ferr.Error()))
		c.cfg.Logger.LogAttrs(context.Background(), slog.LevelWarn, msg, attrs...)
	}
	close(f.done)
	c.nudge()
	if c.cfg.FileCache != nil && ferr == nil && f.err == nil && f.val != nil {
		c.fileStore(key, f.val, seq) // Close waits for it: the fetch goroutine is still counted
	}
	return change
}

// storeLocked caches a fetched value under key and returns the value to
// hand out and the version change it makes, if any. c.mu must be held.
func (c *Client) storeLocked(key string, req request, sv *kmsclient.SecretValue, seq uint64, now time.Time) (*Value, *Change) {
	return c.storeValueLocked(key, req, newValue(req.name, sv, now), seq, now)
}

// newValue builds the Value of a fetched secret.
func newValue(name string, sv *kmsclient.SecretValue, now time.Time) *Value {
	return &Value{
		name:      name,
		versionID: sv.VersionID,
		stages:    slices.Clone(sv.VersionStages),
		binary:    sv.Binary,
		data:      newSecretBytes(sv.Value),
		fetchedAt: now,
		meta: &valueMeta{
			secretType: sv.SecretType, extendedConfig: sv.ExtendedConfig,
			createTime: sv.CreateTime, lastRotation: sv.LastRotationDate, nextRotation: sv.NextRotationDate,
			automaticRotation: sv.AutomaticRotation, rotationInterval: sv.RotationInterval,
		},
	}
}

// storeValueLocked caches v under key; see storeLocked. It stores nothing
// and returns a nil value if a denial or not-found of the secret newer than
// seq was recorded: the decision stands.
func (c *Client) storeValueLocked(key string, req request, v *Value, seq uint64, now time.Time) (*Value, *Change) {
	if c.revokedLocked(req.name, seq) {
		return nil, nil
	}
	e := c.entryLocked(key, req, now)
	old := e.snap.Load()
	if old != nil && seq < e.seq {
		// A fetch that started later has already been stored; it wins.
		return old.val, nil
	}
	s := &snapshot{val: v, staleFor: e.pol.staleIfError}
	if !req.pinned() {
		s.expires, s.rotation = c.expiry(e.pol, now, v.meta.nextRotation)
	}
	e.snap.Store(s)
	e.seq, e.failures, e.retryAt, e.staleVal = seq, 0, time.Time{}, nil
	delete(c.failed, key)
	if old == nil || req.pinned() || old.val.versionID == v.versionID {
		return v, nil
	}
	c.stats.changes.Add(1)
	c.emit(EventRotation)
	return v, &Change{Name: req.name, Stage: req.stage, OldVersionID: old.val.versionID, NewVersionID: v.versionID}
}

// failLocked records a failed fetch of key. It returns the value to serve
// instead (the cached one if still fresh, or marked stale within the
// StaleIfError window, both only for retryable errors), or the error to
// return. c.mu must be held.
func (c *Client) failLocked(key string, req request, seq uint64, ferr error, now time.Time) (v *Value, stale bool, prev *snapshot, err error) {
	e := (*c.table.Load())[key]
	if e != nil {
		prev = e.snap.Load()
		if seq < e.seq && prev.fresh(now) {
			return prev.val, false, prev, nil // a newer fetch succeeded meanwhile
		}
		if retryable(ferr) {
			e.failures++
			e.retryAt = now.Add(retryDelay(e.failures))
			switch {
			case prev.fresh(now):
				e.used.Store(true) // have the refresher retry after retryAt
				return prev.val, false, prev, nil
			case c.staleAllowed(prev, now):
				e.used.Store(true)
				return c.staleValueLocked(e), true, prev, nil
			}
		}
		c.removeLocked(key)
		c.emitEvict(EvictError)
	}
	return nil, false, prev, ferr // wrapped by the caller, without c.mu (Explain is caller code)
}

// tomb is a denial or not-found of a secret: the seq of the request that
// got it and its error (unwrapped).
type tomb struct {
	seq uint64
	err error
}

// beginLocked allocates the seq of a fetch and records it as active until
// [Client.finish]. c.mu must be held.
func (c *Client) beginLocked() uint64 {
	seq := c.seq.Add(1)
	c.active[seq] = struct{}{}
	return seq
}

// finish marks the operation seq as done (its file write included) and
// forgets the tombstones no active operation predates.
func (c *Client) finish(seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.active, seq)
	if len(c.tombs) == 0 {
		return
	}
	lo := uint64(math.MaxUint64)
	for s := range c.active {
		lo = min(lo, s)
	}
	for name, t := range c.tombs {
		if t.seq <= lo {
			delete(c.tombs, name)
		}
	}
}

// tombLocked records that the request seq for name was denied or found
// the secret missing. c.mu must be held.
func (c *Client) tombLocked(name string, seq uint64, err error) {
	if c.tombs == nil {
		c.tombs = make(map[string]tomb)
	}
	if t, ok := c.tombs[name]; !ok || t.seq < seq {
		c.tombs[name] = tomb{seq: seq, err: err}
	}
}

// revokedLocked reports whether a denial or not-found of name newer than
// seq was recorded. c.mu must be held.
func (c *Client) revokedLocked(name string, seq uint64) bool {
	t, ok := c.tombs[name]
	return ok && seq < t.seq
}

// retryDelay is the delay before fetching again after n consecutive
// retryable failures: 1s doubling to 1m, with ±20% jitter.
func retryDelay(n int) time.Duration {
	d := retryMax
	if n <= 6 {
		d = min(retryBase<<(n-1), retryMax)
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// entryLocked returns the entry for key, creating it (and evicting the least
// recently used entry when full) if needed. c.mu must be held.
func (c *Client) entryLocked(key string, req request, now time.Time) *entry {
	old := *c.table.Load()
	if e := old[key]; e != nil {
		return e
	}
	e := &entry{key: key, req: req, pol: c.policyFor(req.name)}
	e.lastUse.Store(now.UnixNano())
	m := make(map[string]*entry, min(len(old)+1, c.cfg.MaxEntries))
	var victim string
	if len(old) >= c.cfg.MaxEntries {
		oldest := int64(0)
		for k, x := range old {
			if u := x.lastUse.Load(); victim == "" || u < oldest {
				victim, oldest = k, u
			}
		}
	}
	for k, x := range old {
		if k != victim {
			m[k] = x
		}
	}
	m[key] = e
	c.table.Store(&m)
	if victim != "" {
		c.emitEvict(EvictCapacity)
	}
	return e
}

// removeNameLocked drops every entry of the secret name (each stage and
// version) and returns how many there were. It scans the table, at most
// MaxEntries entries, once per denial or not-found (which are then
// remembered, not fetched again, for their retry delay). c.mu must be held.
func (c *Client) removeNameLocked(name string) int {
	old := *c.table.Load()
	n := 0
	for _, x := range old {
		if x.req.name == name {
			n++
		}
	}
	if n == 0 {
		return 0
	}
	m := make(map[string]*entry, len(old)-n)
	for k, x := range old {
		if x.req.name != name {
			m[k] = x
		}
	}
	c.table.Store(&m)
	return n
}

// removeLocked drops key from the cache. c.mu must be held.
func (c *Client) removeLocked(key string) {
	old := *c.table.Load()
	if _, ok := old[key]; !ok {
		return
	}
	m := make(map[string]*entry, len(old))
	for k, x := range old {
		if k != key {
			m[k] = x
		}
	}
	c.table.Store(&m)
}

func (c *Client) jitteredTTLFor(ttl time.Duration) time.Duration {
	r := rand.Float64()
	return time.Duration(float64(ttl) * (1 + c.cfg.Jitter*(2*r-1)))
}

// nudge wakes the refresher, if any, without blocking.
func (c *Client) nudge() {
	if c.wake != nil {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// report logs a version change and calls OnChange. No lock may be held.
func (c *Client) report(ch *Change) {
	if ch == nil {
		return
	}
	if c.cfg.Logger != nil {
		c.cfg.Logger.LogAttrs(context.Background(), slog.LevelInfo, "secrets: secret version changed",
			slog.String("name", ch.Name), slog.String("stage", ch.Stage),
			slog.String("old_version", ch.OldVersionID), slog.String("new_version", ch.NewVersionID))
	}
	if c.cfg.OnChange != nil {
		c.cfg.OnChange(*ch)
	}
}

func (r request) logAttrs() []slog.Attr {
	attrs := []slog.Attr{slog.String("name", r.name)}
	if r.stage != "" {
		attrs = append(attrs, slog.String("stage", r.stage))
	}
	if r.versionID != "" {
		attrs = append(attrs, slog.String("version", r.versionID))
	}
	return attrs
}

// wrapErr turns a Source error into the error callers see.
func (c *Client) wrapErr(name string, err error) error {
	if c.cfg.Explain != nil {
		if x := c.cfg.Explain(name, err); x != nil {
			err = x
		}
	}
	return fmt.Errorf("secrets: %s: %w", name, err)
}

// retryable reports whether a fetch error may be a transient outage, which
// a stale value may mask: service unavailable, throttling, a timeout, or a
// request that got no usable answer (but not a malformed one). Access denied
// and not found never are.
func retryable(err error) bool {
	if errors.Is(err, kmsclient.ErrAccessDenied) || errors.Is(err, kmsclient.ErrNotFound) ||
		errors.Is(err, kmsclient.ErrMalformedResponse) {
		return false
	}
	if errors.Is(err, kmsclient.ErrServiceUnavailable) || errors.Is(err, kmsclient.ErrThrottled) ||
		errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var re *kmsclient.RequestError
	if errors.As(err, &re) {
		return true
	}
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}

// GetJSON gets the secret name as [Client.Get] does and decodes it into dst
// with [Value.JSON].
func (c *Client) GetJSON(ctx context.Context, name string, dst any, opts ...GetOption) error {
	v, err := c.Get(ctx, name, opts...)
	if err != nil {
		return err
	}
	return v.JSON(dst)
}

// RefreshNow fetches the secret name from KMS now, bypassing the cache and
// any fetch in progress, stores the result in the cache and returns it. It
// calls Config.OnChange (before returning) if the version differs from the
// cached one. It never serves a stale value: a failure is returned, and
// removes every cached stage and version of the secret unless the error is
// retryable.
func (c *Client) RefreshNow(ctx context.Context, name string, opts ...GetOption) (*Value, error) {
	if c.closedFlag.Load() {
		return nil, ErrClosed
	}
	if name == "" {
		return nil, errNoName
	}
	if err := checkName(name); err != nil {
		return nil, err
	}
	key, req := resolve(name, opts)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	seq := c.beginLocked()
	c.mu.Unlock()
	defer c.finish(seq)
	fctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.ctx, cancel) // Close cancels it too
	sv, err := c.fetch(fctx, req)
	stop()
	cancel()
	now := c.cfg.Now()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if err != nil {
		removed := 0
		if !retryable(err) {
			// The decision covers the secret, not one stage or version:
			// drop every entry of the name.
			removed = c.removeNameLocked(name)
			c.tombLocked(name, seq, err)
		}
		c.mu.Unlock()
		for range removed {
			c.emitEvict(EvictError)
		}
		if c.cfg.FileCache != nil && !retryable(err) {
			c.fileDeleteName(name)
		}
		return nil, c.wrapErr(name, err)
	}
	v, change := c.storeLocked(key, req, sv, seq, now)
	if v == nil { // a later request was denied or found it missing
		err := c.tombs[name].err
		c.mu.Unlock()
		return nil, c.wrapErr(name, err)
	}
	c.mu.Unlock()
	if c.cfg.FileCache != nil {
		c.fileStore(key, v, seq)
	}
	c.nudge()
	c.report(change)
	return v, nil
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	return Stats{
		Hits:        c.stats.hits.Load(),
		Misses:      c.stats.misses.Load(),
		Fetches:     c.stats.fetches.Load(),
		FetchErrors: c.stats.fetchErrors.Load(),
		StaleServed: c.stats.staleServed.Load(),
		Refreshes:   c.stats.refreshes.Load(),
		Changes:     c.stats.changes.Load(),
		Entries:     len(*c.table.Load()),
	}
}
