// Package secrets reads values from the KMS secrets manager (GetSecretValue)
// for service start-up and runtime use: caching, background refresh,
// stale-on-outage and JSON decoding, with values that redact themselves.
//
// Create one [Client] per process with [New] over a [kmsclient.Client] (or
// any [Source]), prefetch what the service needs at start-up, then call
// [Client.Get] wherever a secret is used:
//
//	kc, err := kmsclient.New(kmsclient.Config{Region: "cn-hangzhou"})
//	…
//	sc, err := secrets.New(kc, secrets.Config{})
//	…
//	defer sc.Close()
//	if err := sc.Prefetch(ctx, "db-password", "api-key"); err != nil {
//		log.Fatal(err) // a *PrefetchError listing every secret that failed
//	}
//	v, err := sc.Get(ctx, "db-password")
//	…
//	db := connect(v.Text())
//
// [Client.GetJSON] decodes a JSON secret into a struct; [Client.RefreshNow]
// fetches one again on demand (after a rotation you triggered, say), and
// [Config.OnChange] reports rotations the client notices on its own.
//
// # Caching
//
// Values are cached per (name, stage) — ACSCurrent unless [Stage] says
// otherwise — and per (name, version) for [VersionID], whose values never
// expire because versions are immutable. A cached value is fresh for
// [Config.TTL] (5 minutes), plus or minus [Config.Jitter] (10%) so that a
// fleet does not refresh in lockstep. A Get of a fresh value takes no lock,
// and without options allocates nothing. A value that has been read since it
// was fetched is fetched again by one background goroutine
// [Config.RefreshAhead] (TTL/4) before it expires, so a secret in steady use
// is always served from the cache; values nobody reads simply expire. At
// most [Config.MaxEntries] (1000) values are kept, evicting the least
// recently used.
//
// Concurrent Gets of a value that is not cached share one KMS call. That
// call is detached from the cancellation of the Get that started it and
// bounded by 30 seconds, so a caller that gives up (its context ends) does
// not fail the others, and the answer still fills the cache. Each caller
// waits only as long as its own context allows.
//
// [Client.Prefetch] fetches many secrets at once, [Config.Parallelism] (8)
// at a time, and reports every failure together in a [*PrefetchError].
//
// # Outages
//
// When a value has expired and fetching it again fails with an error that
// may be transient — KMS unavailable (5xx) or throttling, a network failure
// or timeout — Get returns the expired value for up to
// [Config.StaleIfError] (1 hour) past its expiry, with [Value.Stale]
// reporting true, counts it in [Stats].StaleServed and logs a warning. KMS
// is then asked again only after a retry delay (1s, doubling to 1 minute),
// in the background when the refresher is running; until then Gets return
// the stale value without waiting on KMS. A background refresh that fails
// before expiry keeps the current value and is retried the same way.
//
// Stale values never mask a decision: access denied, not found, a malformed
// answer or any other non-transient error is returned (through
// [Config.Explain] if set, then wrapped as "secrets: <name>: …", so
// errors.Is(err, kmsclient.ErrAccessDenied) holds) and the cached value is
// removed, so that revoking access or deleting a secret takes effect at the
// next fetch. Past the StaleIfError window the error is returned as well. A
// negative StaleIfError disables stale serving.
//
// # Per-secret policies and rotation
//
// [Config.Policies] gives named secrets their own TTL, RefreshAhead and
// StaleIfError ([Policy]). A value's NextRotationDate (KMS sets it for
// secrets with automatic rotation) caps its freshness: the value is fetched
// again at that date (by the refresher if it is in use, else by the next
// Get), and while the rotation is awaited, for an hour after that date, it
// is fetched every [Config.RotationPoll] (1 minute), as the Alibaba secrets
// manager client's rotation-aware refresh does. [Value] exposes what KMS
// says about the version: [Value.SecretType], [Value.ExtendedConfig] (asked
// for on every fetch), [Value.CreateTime], [Value.LastRotationDate],
// [Value.NextRotationDate], [Value.AutomaticRotation] and
// [Value.RotationInterval].
//
// # Restarts during an outage: the file cache
//
// With [Config.FileCache] ([NewFileCache]), every fetched value is also
// written to a directory, sealed with AES-256-GCM under a key the user
// supplies (or derives with [DeriveFileCacheKey]), bound to its cache key,
// in files of mode 0600 replaced atomically. When the Source fails with a
// retryable error and nothing is cached in memory — a process restarted
// while KMS is unreachable — the copy on disk (at most min(StaleIfError,
// FileCacheOptions.MaxAge) old; never for a secret whose StaleIfError is
// negative) is served, marked [Value.Stale] and [Value.FromFileCache]. A denial or not-found removes the
// file; a tampered file, or one sealed under another key, is ignored and
// reported as an [EventFileCacheError].
//
// # Regions
//
// [NewFailover] makes one [Source] of several regions holding the same
// secrets (replicated under the same name): each call goes to the region
// that has answered fastest so far in this process (no ping is sent), a
// retryable failure moves on to the next region and sets the failed one
// aside for a while, and a denial or not-found is returned as it is.
//
// # RAM credentials kept in a secret
//
// [NewRAMCredentials] turns a RAM credential secret (JSON with
// AccessKeyId and AccessKeySecret, rotated by KMS) into a
// kmsclient.CredentialsProvider. It implements
// kmsclient.RefreshableCredentials: a call refused because a rotation
// disabled the key it was signed with is repeated at once with the
// secret's new value, so a rotation fails no call in flight.
//
// # Metrics
//
// [Config.OnEvent] receives every hit, miss, fetch, fetch error, eviction,
// stale serve, background refresh and its failure, rotation and file-cache
// load or error as an [Event] with no secret name; package otelkms counts
// them as OpenTelemetry metrics.
//
// # Security
//
// A [Value] never prints its contents: fmt with any verb, slog, and
// encoding/json or encoding.TextMarshaler users see its name, version and
// length only ("secrets.Value{name=db-password version=v2 [REDACTED 7
// bytes]}"). Read it explicitly with [Value.Bytes], [Value.Text] or
// [Value.JSON]. No error or log record of this package contains a secret
// value: errors come from kmsclient, whose messages are sanitised, and a JSON
// decoding error (a [*JSONError], matching [ErrInvalidJSON]) gives the
// position and Go type but not encoding/json's own message, which may quote
// the input.
//
// # Errors
//
// Callers tell failures apart with errors.Is and errors.As: [ErrClosed]
// after [Client.Close] (the same value as kmsclient.ErrClosed and
// kmsenvelope.ErrClosed); [ErrInvalidName] for a name refused before any
// KMS call (see [CheckName] and [MaxNameLen]); [*ConfigError], matching
// [ErrInvalidConfig], from [New]; [*JSONError] from [Value.JSON];
// [*PrefetchError] from [Client.Prefetch]; and the kmsclient sentinels
// (kmsclient.ErrAccessDenied, kmsclient.ErrNotFound, ...) for what KMS
// answered.
//
// Values are shared by every caller of the same cache entry and are not
// wiped on eviction, since a caller may still hold them; treat [Value.Bytes]
// as read-only. Anyone who can call [Client.Get] reads the secret: the
// cache holds it under the permissions of the [Source]'s credentials, not
// the caller's.
package secrets
