package secrets

import "strconv"

// EventKind says what happened in an [Event].
type EventKind int

// The kinds of [Event], for [Config.OnEvent] (package otelkms counts them
// as OpenTelemetry metrics).
const (
	// EventHit: a Get was answered from the cache with a fresh value.
	EventHit EventKind = iota + 1
	// EventMiss: a Get found no fresh value (absent or expired).
	EventMiss
	// EventFetch: a call to the Source started.
	EventFetch
	// EventFetchError: a call to the Source failed.
	EventFetchError
	// EventEvict: a cached value was dropped; [Event.Reason] says why.
	EventEvict
	// EventStaleServed: a value was returned with Stale() true.
	EventStaleServed
	// EventRefresh: a background (refresh-ahead or rotation-driven) fetch
	// succeeded.
	EventRefresh
	// EventRefreshError: a background fetch failed (the cached value, if
	// still usable, is kept).
	EventRefreshError
	// EventRotation: a fetch returned a version other than the cached one.
	EventRotation
	// EventFileCacheLoad: a value was served from the [FileCache] because
	// the Source failed with a retryable error and nothing was cached in
	// memory (a restart during an outage).
	EventFileCacheLoad
	// EventFileCacheError: reading or writing the [FileCache] failed (a
	// tampered or unreadable file, a full disk). The error is not returned
	// to callers; the Logger, if any, gets a warning.
	EventFileCacheError
)

var eventNames = map[EventKind]string{
	EventHit: "hit", EventMiss: "miss", EventFetch: "fetch", EventFetchError: "fetch error",
	EventEvict: "evict", EventStaleServed: "stale served", EventRefresh: "refresh",
	EventRefreshError: "refresh error", EventRotation: "rotation",
	EventFileCacheLoad: "file cache load", EventFileCacheError: "file cache error",
}

// String returns a lowercase name such as "hit" or "stale served".
func (k EventKind) String() string {
	if n, ok := eventNames[k]; ok {
		return n
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Evict reasons of [Event.Reason].
const (
	EvictCapacity = "capacity" // the least recently used value made room
	EvictError    = "error"    // a non-retryable error (denied, not found) removed it
)

// Event is passed to [Config.OnEvent]. It carries no secret name or value,
// so it can become a metric without unbounded labels.
type Event struct {
	Kind EventKind
	// Reason is set for EventEvict: EvictCapacity or EvictError.
	Reason string
}

// emit calls OnEvent, if set.
func (c *Client) emit(k EventKind) {
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(Event{Kind: k})
	}
}

func (c *Client) emitEvict(reason string) {
	if c.cfg.OnEvent != nil {
		c.cfg.OnEvent(Event{Kind: EventEvict, Reason: reason})
	}
}
