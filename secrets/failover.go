package secrets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// RegionalSource is one region's [Source] for [NewFailover]: typically a
// [*kmsclient.Client] for that region, reading secrets replicated there
// under the same name.
type RegionalSource struct {
	Region string
	Source Source
}

// FailoverOptions configure [NewFailover].
type FailoverOptions struct {
	// TryTimeout bounds one region's attempt before the next region is
	// tried; the caller's context still bounds the whole call. Zero means
	// 5 seconds. Give each kmsclient few retries (Config.MaxAttempts) so
	// that an unreachable region is left quickly.
	TryTimeout time.Duration
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
}

// Failover is a [Source] over the same secrets replicated in several
// regions. Each call goes to the region that has answered fastest, as
// measured in this process from the calls it made (an exponentially
// weighted moving average of their durations; regions not measured yet are
// tried first, in the order given, so every region is measured by ordinary
// traffic, and no probe or ping is ever sent). A region that fails with a
// retryable error (KMS unavailable, throttling, a network failure or
// timeout) is passed over, the next one is tried, and it is set aside for
// a retry delay (1s doubling to 1m) before it is tried again. A
// non-retryable answer (access denied, not found, a malformed answer) is a
// decision and is returned at once, not masked by another region.
//
// It is safe for concurrent use.
type Failover struct {
	opts FailoverOptions

	mu      sync.Mutex // guards the fields of members
	members []*member
}

type member struct {
	region    string
	src       Source
	ewma      time.Duration // 0: not measured yet
	failures  int
	downUntil time.Time
}

// ewmaWeight is the weight of a new sample in a region's latency average.
const ewmaWeight = 0.2

// NewFailover returns a Failover over sources, which must name at least one
// Source, each with a distinct non-empty Region.
func NewFailover(sources []RegionalSource, opts FailoverOptions) (*Failover, error) {
	if len(sources) == 0 {
		return nil, &ConfigError{"Failover", "needs at least one RegionalSource"}
	}
	if opts.TryTimeout < 0 {
		return nil, &ConfigError{"Failover.TryTimeout", "must not be negative"}
	}
	if opts.TryTimeout == 0 {
		opts.TryTimeout = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	f := &Failover{opts: opts}
	seen := map[string]bool{}
	for i, s := range sources {
		switch {
		case s.Source == nil:
			return nil, &ConfigError{fmt.Sprintf("Failover[%d].Source", i), "is nil"}
		case s.Region == "":
			return nil, &ConfigError{fmt.Sprintf("Failover[%d].Region", i), "is required"}
		case seen[s.Region]:
			return nil, &ConfigError{fmt.Sprintf("Failover[%d].Region", i), fmt.Sprintf("%q is named twice", s.Region)}
		}
		seen[s.Region] = true
		f.members = append(f.members, &member{region: s.Region, src: s.Source})
	}
	return f, nil
}

// Order returns the regions in the order the next call would try them.
func (f *Failover) Order() []string {
	ms := f.order()
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.region
	}
	return out
}

// Latencies returns each region's measured latency average (absent when not
// measured yet).
func (f *Failover) Latencies() map[string]time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]time.Duration{}
	for _, m := range f.members {
		if m.ewma > 0 {
			out[m.region] = m.ewma
		}
	}
	return out
}

// order returns the members by preference: available ones (unmeasured
// first in configuration order, then by latency), then those set aside,
// soonest available first.
func (f *Failover) order() []*member {
	now := f.opts.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	ms := slices.Clone(f.members)
	idx := map[*member]int{}
	for i, m := range f.members {
		idx[m] = i
	}
	slices.SortStableFunc(ms, func(a, b *member) int {
		ad, bd := now.Before(a.downUntil), now.Before(b.downUntil)
		switch {
		case ad != bd:
			if ad {
				return 1
			}
			return -1
		case ad:
			return a.downUntil.Compare(b.downUntil)
		case (a.ewma == 0) != (b.ewma == 0):
			if a.ewma == 0 {
				return -1
			}
			return 1
		case a.ewma != b.ewma:
			return int(a.ewma - b.ewma)
		}
		return idx[a] - idx[b]
	})
	return ms
}

func (f *Failover) record(m *member, d time.Duration, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		m.failures++
		m.downUntil = f.opts.Now().Add(retryDelay(m.failures))
		return
	}
	m.failures, m.downUntil = 0, time.Time{}
	if d <= 0 {
		d = 1
	}
	if m.ewma == 0 {
		m.ewma = d
	} else {
		m.ewma = time.Duration(ewmaWeight*float64(d) + (1-ewmaWeight)*float64(m.ewma))
	}
}

// GetSecretValue reads the secret from the preferred region, failing over
// to the next on a retryable error. When every region fails, the error
// joins each region's (errors.Is and errors.As see all of them; the last
// one is the one retry decisions read first).
func (f *Failover) GetSecretValue(ctx context.Context, in *kmsclient.GetSecretValueInput) (*kmsclient.SecretValue, error) {
	var errs []error
	for _, m := range f.order() {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		tctx, cancel := context.WithTimeout(ctx, f.opts.TryTimeout)
		start := time.Now()
		sv, err := m.src.GetSecretValue(tctx, in)
		d := time.Since(start)
		cancel()
		if err == nil && sv == nil {
			err = &kmsclient.RequestError{Operation: "GetSecretValue", Attempts: 1,
				Err: fmt.Errorf("%w: the source returned no value", kmsclient.ErrMalformedResponse)}
		}
		if err == nil {
			f.record(m, d, nil)
			return sv, nil
		}
		if ctx.Err() != nil { // the caller gave up: no verdict on the region
			errs = append(errs, fmt.Errorf("region %s: %w", m.region, err))
			break
		}
		if !retryable(err) {
			// A decision, not an outage: the region answered. (It still
			// counts as a latency sample.)
			f.record(m, d, nil)
			return nil, err
		}
		f.record(m, d, err)
		errs = append(errs, fmt.Errorf("region %s: %w", m.region, err))
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	slices.Reverse(errs) // the last region's error first, for errors.As
	return nil, fmt.Errorf("secrets: every region failed: %w", errors.Join(errs...))
}
