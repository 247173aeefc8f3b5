package kmsenvelope

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// Defaults of live policy refresh (see Config.PolicyRefresh).
const (
	DefaultPolicyRefresh = 5 * time.Minute
	// minRefreshGap bounds how often a disagreement may trigger a refresh,
	// as a fraction of the interval: a burst of denials makes one refresh.
	minRefreshGapDivisor = 10
)

// PolicyStats describes the policy set local checks use.
type PolicyStats struct {
	// Source is where the set came from ("live policies", "configured
	// policies", ...), "" without one.
	Source string
	// LoadedAt is when the set in use was read; zero without live policies.
	LoadedAt time.Time
	// Refreshes and RefreshFailures count re-reads of live policies; a
	// failed one keeps the last good set.
	Refreshes, RefreshFailures uint64
	// LastRefreshError is the error of the latest failed refresh, "" after
	// a success.
	LastRefreshError string
	// Stale is set when the set is older than Config.MaxPolicyAge: Enforce
	// then sends calls the set does not allow to KMS, which decides
	// (StaleDeferrals counts them), instead of refusing them on old
	// knowledge.
	Stale          bool
	StaleDeferrals uint64
	// Disagreements counts calls KMS decided differently from the local
	// check; each triggers a refresh.
	Disagreements uint64
	// ConditionalCalls counts calls whose local decision hinged on a request
	// condition key the Client does not know (see Config.RequestFacts):
	// sent to KMS to decide, or refused under Config.StrictConditions.
	ConditionalCalls uint64
}

// refresher re-reads live policies on an interval (jittered) and when KMS
// disagrees with a local decision, one refresh at a time.
type refresher struct {
	c        *Client
	interval time.Duration // <= 0: only on disagreement
	maxAge   time.Duration // 0: no bound
	kick     chan struct{}
	cancel   context.CancelFunc
	done     chan struct{}

	mu        sync.Mutex // guards the fields below
	loadedAt  time.Time
	lastRun   time.Time
	refreshes uint64
	failures  uint64
	lastErr   string
}

func newRefresher(c *Client, loadedAt time.Time) *refresher {
	interval := c.cfg.PolicyRefresh
	if interval == 0 {
		interval = DefaultPolicyRefresh
	}
	maxAge := c.cfg.MaxPolicyAge
	if maxAge == 0 && interval > 0 {
		maxAge = 3 * interval
	}
	return &refresher{c: c, interval: interval, maxAge: maxAge, kick: make(chan struct{}, 1), loadedAt: loadedAt, done: make(chan struct{})}
}

// start runs the loop until stop.
func (r *refresher) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.loop(ctx)
}

func (r *refresher) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
	}
}

// disagreement asks for a refresh without waiting for it.
func (r *refresher) disagreement(string) {
	select {
	case r.kick <- struct{}{}:
	default: // one is already pending
	}
}

// stale reports whether the set in use is older than maxAge.
func (r *refresher) stale() bool {
	if r.maxAge <= 0 {
		return false
	}
	r.mu.Lock()
	stale := time.Since(r.loadedAt) > r.maxAge
	r.mu.Unlock()
	if stale {
		// Without a periodic refresh (PolicyRefresh < 0) nothing else would
		// ever make the set fresh again: ask for a refresh.
		r.disagreement("")
	}
	return stale
}

func (r *refresher) loop(ctx context.Context) {
	defer close(r.done)
	var tick <-chan time.Time
	var timer *time.Timer
	if r.interval > 0 {
		timer = time.NewTimer(jitter(r.interval))
		defer timer.Stop()
		tick = timer.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			r.refresh(ctx)
			timer.Reset(jitter(r.interval))
		case <-r.kick:
			r.mu.Lock()
			gap := time.Since(r.lastRun)
			r.mu.Unlock()
			if min := r.interval / minRefreshGapDivisor; r.interval > 0 && gap < min {
				// Just refreshed: wait out the gap, then refresh once.
				select {
				case <-ctx.Done():
					return
				case <-time.After(min - gap):
				}
			}
			r.refresh(ctx)
		}
	}
}

// jitter spreads d by ±10%, so that many processes do not refresh at once.
func jitter(d time.Duration) time.Duration {
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}

// refresh re-reads the live policies into a new set: the configured
// policies plus what RAM and KMS say now. The facts learned at New (the
// key's ARN and instance, the secrets' keys) are kept. On failure the last
// good set stays in use, and the failure is counted and logged.
func (r *refresher) refresh(ctx context.Context) {
	c := r.c
	st := &policyState{principal: c.state.principal, account: c.state.account, facts: c.state.facts, context: c.state.context}
	set, err := configuredPolicies(c.cfg)
	if err == nil {
		if set == nil {
			set = &localauthz.PolicySet{}
		}
		st.set = set
		err = c.fetchLivePolicies(ctx, st)
	}
	now := time.Now()
	r.mu.Lock()
	r.lastRun = now
	if err != nil {
		r.failures++
		r.lastErr = err.Error()
		loadedAt := r.loadedAt
		r.mu.Unlock()
		if ctx.Err() == nil && c.cfg.Logger != nil {
			c.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "kmsenvelope: refreshing live policies failed; keeping the last good set",
				slog.String("error", err.Error()), slog.Time("loadedAt", loadedAt))
		}
		return
	}
	r.refreshes++
	r.lastErr = ""
	r.loadedAt = now
	r.mu.Unlock()
	c.guard.SetPolicies(st.set)
}

// stats fills the refresh part of PolicyStats.
func (r *refresher) stats(ps *PolicyStats) {
	r.mu.Lock()
	ps.LoadedAt, ps.Refreshes, ps.RefreshFailures, ps.LastRefreshError = r.loadedAt, r.refreshes, r.failures, r.lastErr
	r.mu.Unlock()
	ps.Stale = r.stale()
}
