package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// Source is what the package needs from KMS: one GetSecretValue call.
// [*kmsclient.Client] satisfies it, and so does any wrapper with the same
// method (one that enforces a policy, counts calls, or reads a fixture).
//
// The package never modifies the returned [kmsclient.SecretValue]; it copies
// the bytes it keeps.
type Source interface {
	GetSecretValue(ctx context.Context, in *kmsclient.GetSecretValueInput) (*kmsclient.SecretValue, error)
}

// Config configures a [Client]. The zero value of every field is a usable
// default. [New] copies the Config, so changing it afterwards has no effect.
type Config struct {
	// TTL is how long a fetched value is served from the cache before it
	// must be fetched again. Zero means 5 minutes; negative is an error.
	TTL time.Duration

	// Jitter spreads expiry: each value lives TTL×(1+Jitter×(2r−1)) for a
	// random r in [0, 1), so a fleet started together does not refresh in
	// lockstep. It must be in [0, 0.5]; zero means 0.1.
	Jitter float64

	// RefreshAhead makes the background refresher fetch a value again when
	// it is within RefreshAhead of expiry and has been read since it was
	// last fetched, so that callers reading it keep hitting the cache.
	// Values nobody reads are left to expire. Zero means TTL/4; a negative
	// value disables background refresh (and its goroutine). It must be
	// less than the shortest jittered TTL, TTL×(1−Jitter).
	RefreshAhead time.Duration

	// StaleIfError is how long past expiry a value may still be served,
	// marked [Value.Stale], when fetching it again fails with a retryable
	// error (KMS unavailable or throttling, a network failure, a timeout).
	// Access denied, not found and every other error are never masked. Zero
	// means 1 hour; negative disables stale serving.
	StaleIfError time.Duration

	// MaxEntries bounds the number of cached (secret, stage or version)
	// entries; the least recently used one is evicted to make room. Zero
	// means 1000; negative is an error.
	MaxEntries int

	// Parallelism bounds the concurrent fetches of [Client.Prefetch]. Zero
	// means 8; negative is an error.
	Parallelism int

	// OnChange, when non-nil, is called after a fetch of a cached
	// (name, stage) returned a VersionId different from the cached one, that
	// is after the secret was rotated. The cache already holds the new value
	// when it is called. It is called from the goroutine that made the
	// fetch (the background refresher, the shared fetch of an expired value,
	// or the caller of [Client.RefreshNow]), never while the client holds a
	// lock, so it may call the client; it must be safe for concurrent use.
	// Pinned versions ([VersionID]) never change.
	OnChange func(Change)

	// Explain, when non-nil, rewrites an error returned by the Source before
	// it is wrapped and returned (for example to turn access denied into a
	// sentence naming the missing permission). Return an error that wraps
	// err to keep errors.Is working. A nil result keeps err.
	Explain func(name string, err error) error

	// Logger receives a warning when a stale value is served or a
	// background refresh fails, and an info record on version changes. It
	// never receives secret values. Nil disables logging.
	Logger *slog.Logger

	// Policies overrides TTL, RefreshAhead and StaleIfError for the named
	// secrets, and says whether their NextRotationDate drives refresh (see
	// [Policy]). Secrets not named use the fields above.
	Policies map[string]Policy

	// RotationPoll is how often a secret whose NextRotationDate has passed
	// less than an hour ago is fetched again while its rotation is
	// awaited (KMS rotates shortly after that date). Zero means 1 minute;
	// it is never more than the secret's TTL.
	RotationPoll time.Duration

	// FileCache, when non-nil, keeps an encrypted copy of every fetched
	// value on disk and serves it, marked stale, when the Source fails with
	// a retryable error and nothing is cached in memory: a process
	// restarted during a KMS outage still starts. See [NewFileCache].
	FileCache *FileCache

	// OnEvent, when non-nil, is called for every [Event] (hits, misses,
	// fetches, evictions, stale serves, refresh failures, rotations),
	// synchronously and possibly with the client's lock held: it must be
	// fast, safe for concurrent use, and must not call the Client. Package
	// otelkms turns events into OpenTelemetry metrics.
	OnEvent func(Event)

	// Now is the clock, for tests. Nil means time.Now. The background
	// refresher still sleeps in real time for the durations it computes
	// from this clock.
	Now func() time.Time
}

// Change describes a rotation seen by a fetch: Name at Stage moved from
// OldVersionID to NewVersionID.
type Change struct {
	Name         string
	Stage        string
	OldVersionID string
	NewVersionID string
}

const (
	defaultTTL          = 5 * time.Minute
	defaultJitter       = 0.1
	defaultStaleIfError = time.Hour
	defaultMaxEntries   = 1000
	defaultParallelism  = 8
	defaultRotationPoll = time.Minute
	// rotationWindow is how long after NextRotationDate the rotation is
	// awaited by polling every RotationPoll.
	rotationWindow = time.Hour

	// fetchTimeout bounds one shared fetch, which is detached from the
	// cancellation of the caller that started it.
	fetchTimeout = 30 * time.Second
	// retryBase and retryMax bound the delay before a value whose fetch
	// failed with a retryable error is fetched again (stale values are
	// served meanwhile); the delay doubles per consecutive failure.
	retryBase = time.Second
	retryMax  = time.Minute
)

// ErrInvalidConfig is what every [*ConfigError] unwraps to. It is
// [kmsclient.ErrInvalidConfig] (and kmsenvelope.ErrInvalidConfig): one
// sentinel for an invalid configuration anywhere in the module.
var ErrInvalidConfig = kmsclient.ErrInvalidConfig

// ConfigError reports an invalid [Config] field. It unwraps to
// [ErrInvalidConfig].
type ConfigError struct {
	Field  string // the Config field, e.g. "TTL"
	Reason string // what is wrong with it
}

func (e *ConfigError) Error() string { return "secrets: Config." + e.Field + " " + e.Reason }

// Unwrap returns [ErrInvalidConfig].
func (e *ConfigError) Unwrap() error { return ErrInvalidConfig }

// withDefaults returns a copy of c with zero fields defaulted, or an error
// naming the invalid field.
func (c Config) withDefaults() (Config, error) {
	switch {
	case c.TTL < 0:
		return c, &ConfigError{"TTL", "must not be negative"}
	case c.TTL == 0:
		c.TTL = defaultTTL
	}
	switch {
	case c.Jitter != c.Jitter || c.Jitter < 0 || c.Jitter > 0.5: // c.Jitter != c.Jitter: NaN
		return c, &ConfigError{"Jitter", fmt.Sprintf("must be in [0, 0.5], got %v", c.Jitter)}
	case c.Jitter == 0:
		c.Jitter = defaultJitter
	}
	if c.RefreshAhead == 0 {
		c.RefreshAhead = c.TTL / 4
	}
	if shortest := time.Duration(float64(c.TTL) * (1 - c.Jitter)); c.RefreshAhead >= shortest {
		return c, &ConfigError{"RefreshAhead", fmt.Sprintf("must be less than TTL×(1−Jitter) = %v, got %v", shortest, c.RefreshAhead)}
	}
	if c.StaleIfError == 0 {
		c.StaleIfError = defaultStaleIfError
	}
	switch {
	case c.MaxEntries < 0:
		return c, &ConfigError{"MaxEntries", "must not be negative"}
	case c.MaxEntries == 0:
		c.MaxEntries = defaultMaxEntries
	}
	switch {
	case c.Parallelism < 0:
		return c, &ConfigError{"Parallelism", "must not be negative"}
	case c.Parallelism == 0:
		c.Parallelism = defaultParallelism
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.RotationPoll < 0:
		return c, &ConfigError{"RotationPoll", "must not be negative"}
	case c.RotationPoll == 0:
		c.RotationPoll = defaultRotationPoll
	}
	for name, p := range c.Policies {
		if err := CheckName(name); err != nil {
			return c, &ConfigError{"Policies", fmt.Sprintf("names an invalid secret: %v", err)}
		}
		if _, err := c.resolvePolicy(p); err != nil {
			return c, &ConfigError{"Policies[" + name + "]", err.Error()}
		}
	}
	return c, nil
}

var errNoSource = errors.New("secrets: New: Source is nil")
