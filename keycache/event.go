package keycache

import "strconv"

// EventKind says what happened in an [Event].
type EventKind int

// The kinds of [Event].
const (
	// EventHit: a Get was served from a cached entry without waiting.
	EventHit EventKind = iota + 1
	// EventMiss: a Get found no usable entry (reported once per Get, however
	// many fetches it then waits for).
	EventMiss
	// EventFetch: a fetch started (one per KMS call).
	EventFetch
	// EventFetchError: a fetch failed; its error went to every waiter and
	// nothing was cached.
	EventFetchError
	// EventEvict: an entry was retired; [Event.Reason] says why.
	EventEvict
)

// String returns a lowercase name such as "hit" or "fetch error".
func (k EventKind) String() string {
	switch k {
	case EventHit:
		return "hit"
	case EventMiss:
		return "miss"
	case EventFetch:
		return "fetch"
	case EventFetchError:
		return "fetch error"
	case EventEvict:
		return "evict"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// EvictReason says why an entry was retired.
type EvictReason int

// The reasons for [EventEvict]. The zero EvictReason means "not an eviction".
const (
	// EvictCapacity: the least recently used entry made room for a new one.
	EvictCapacity EvictReason = iota + 1
	// EvictAge: the entry reached [Config.MaxAge].
	EvictAge
	// EvictMessages: the encryption entry had served [Config.MaxMessages].
	EvictMessages
	// EvictBytes: the encryption entry could not take the requested bytes
	// within [Config.MaxBytes], or [Handle.AddBytes] pushed it past them.
	EvictBytes
	// EvictPurged: [Cache.Purge] retired it, or a fetch that was in flight
	// during Purge completed and its result was discarded.
	EvictPurged
)

// String returns a lowercase name such as "capacity" or "purged".
func (r EvictReason) String() string {
	switch r {
	case EvictCapacity:
		return "capacity"
	case EvictAge:
		return "age"
	case EvictMessages:
		return "messages"
	case EvictBytes:
		return "bytes"
	case EvictPurged:
		return "purged"
	}
	return "EvictReason(" + strconv.Itoa(int(r)) + ")"
}

// Event is passed to [Config.OnEvent].
type Event struct {
	Kind EventKind
	// Encryption is true for encryption materials, false for decryption
	// materials.
	Encryption bool
	// Reason is set for EventEvict only.
	Reason EvictReason
}

// Stats are counters since [New]. Each counter is exact under concurrency,
// but a Stats value is not an atomic snapshot of all of them together.
//
// Every Get that returns materials or waits for a fetch counts once as a hit
// or a miss. Every successful fetch becomes an entry that is later evicted,
// so Fetches - FetchErrors = Entries + Evictions.Total() whenever no fetch is
// in flight.
type Stats struct {
	Hits        uint64 // Gets served from the cache without waiting
	Misses      uint64 // Gets that found no usable entry
	Fetches     uint64 // fetches started
	FetchErrors uint64 // fetches that failed
	SharedWaits uint64 // times a Get waited on a fetch another Get had started
	Evictions   EvictionStats
	Entries     int // entries currently cached
}

// EvictionStats counts retired entries by [EvictReason].
type EvictionStats struct {
	Capacity, Age, Messages, Bytes, Purged uint64
}

// Total returns the number of evictions for all reasons.
func (s EvictionStats) Total() uint64 {
	return s.Capacity + s.Age + s.Messages + s.Bytes + s.Purged
}
