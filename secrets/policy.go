package secrets

import (
	"errors"
	"fmt"
	"time"
)

// Policy is the caching policy of one secret, in [Config.Policies]. Zero
// fields take the Client's: Config.TTL, Config.StaleIfError, and for
// RefreshAhead a quarter of the policy's TTL (none at all when
// Config.RefreshAhead is negative, which stops the refresher).
//
// A secret's NextRotationDate (set by KMS for secrets with automatic
// rotation) drives its refresh unless IgnoreRotationDate is set: a value is
// fresh no longer than that date, when the refresher (or the next Get)
// fetches it again, and for an hour after it, while the rotation is
// awaited, it is fetched every Config.RotationPoll. This is how
// aliyun-secretsmanager-client-go's rotation-aware refresh behaves; a
// secret rotated by hand (PutSecretValue) is still seen within its TTL.
type Policy struct {
	TTL                time.Duration
	RefreshAhead       time.Duration // negative disables refresh-ahead for this secret
	StaleIfError       time.Duration // negative disables stale serving for this secret
	IgnoreRotationDate bool
}

// policy is a resolved Policy.
type policy struct {
	ttl          time.Duration
	refreshAhead time.Duration // < 0: none
	staleIfError time.Duration // < 0: none
	rotation     bool
}

// resolvePolicy fills p's zero fields from c (already defaulted).
func (c Config) resolvePolicy(p Policy) (policy, error) {
	r := policy{ttl: p.TTL, refreshAhead: p.RefreshAhead, staleIfError: p.StaleIfError, rotation: !p.IgnoreRotationDate}
	if r.ttl < 0 {
		return r, errors.New("TTL must not be negative")
	}
	if r.ttl == 0 {
		r.ttl = c.TTL
	}
	switch {
	case c.RefreshAhead < 0:
		r.refreshAhead = -1
	case r.refreshAhead == 0 && p.TTL == 0:
		r.refreshAhead = c.RefreshAhead
	case r.refreshAhead == 0:
		r.refreshAhead = r.ttl / 4
	}
	if shortest := time.Duration(float64(r.ttl) * (1 - c.Jitter)); r.refreshAhead >= shortest {
		return r, fmt.Errorf("RefreshAhead must be less than TTL×(1−Jitter) = %v, got %v", shortest, r.refreshAhead)
	}
	if r.staleIfError == 0 {
		r.staleIfError = c.StaleIfError
	}
	return r, nil
}

// policyFor returns the resolved policy of secret name.
func (c *Client) policyFor(name string) policy {
	if p, ok := c.policies[name]; ok {
		return p
	}
	return c.defaultPolicy
}

// expiry returns when a value fetched at now, whose NextRotationDate is
// nextRotation, stops being fresh, and whether that is its rotation date
// (then it is refreshed at that moment, not RefreshAhead before).
func (c *Client) expiry(p policy, now, nextRotation time.Time) (time.Time, bool) {
	exp := now.Add(c.jitteredTTLFor(p.ttl))
	if !p.rotation || nextRotation.IsZero() {
		return exp, false
	}
	switch {
	case nextRotation.After(now):
		if nextRotation.Before(exp) {
			return nextRotation, true
		}
	case now.Sub(nextRotation) < rotationWindow:
		// The rotation is due: poll for it.
		if poll := now.Add(min(c.cfg.RotationPoll, p.ttl)); poll.Before(exp) {
			return poll, false
		}
	}
	return exp, false
}
