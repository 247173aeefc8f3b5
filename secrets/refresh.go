package secrets

import (
	"time"
)

// refresher is the background goroutine: it sleeps until the earliest entry
// is due for refresh-ahead, refreshes due entries one at a time, and is
// woken early when an entry is first read after a fetch or a fetch ends.
func (c *Client) refresher() {
	defer c.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		f, next := c.startDue(c.cfg.Now())
		if f != nil {
			select {
			case <-f.done:
			case <-c.ctx.Done():
				return
			}
			continue
		}
		var fire <-chan time.Time
		if !next.IsZero() {
			// With Go 1.23+ timers, Reset discards any stale expiry.
			timer.Reset(max(next.Sub(c.cfg.Now()), time.Millisecond))
			fire = timer.C
		}
		select {
		case <-c.ctx.Done():
			return
		case <-fire:
		case <-c.wake:
		}
	}
}

// startDue starts the background refresh of the entry most overdue at now
// and returns its flight; if none is due, it returns when the next one will
// be (zero if none is scheduled).
//
// An entry is due RefreshAhead before it expires if it was read since its
// last fetch, and not before the retry delay of a failed fetch has passed.
// Pinned versions and entries being fetched are skipped (a finished fetch
// wakes the refresher).
func (c *Client) startDue(now time.Time) (*flight, time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, time.Time{}
	}
	var (
		best     *entry
		bestDue  time.Time
		earliest time.Time
	)
	for key, e := range *c.table.Load() {
		if e.req.pinned() || !e.used.Load() || c.flights[key] != nil || e.pol.refreshAhead < 0 {
			continue
		}
		s := e.snap.Load()
		due := s.expires.Add(-e.pol.refreshAhead)
		if s.rotation {
			due = s.expires // fetch at the rotation date, not before it
		}
		if e.retryAt.After(due) {
			due = e.retryAt
		}
		if due.After(now) {
			if earliest.IsZero() || due.Before(earliest) {
				earliest = due
			}
			continue
		}
		if best == nil || due.Before(bestDue) {
			best, bestDue = e, due
		}
	}
	if best == nil {
		return nil, earliest
	}
	// Reads from now on count towards the next refresh. If this one fails
	// with a retryable error, settle marks the entry used again so that it
	// is retried after its retry delay.
	best.used.Store(false)
	f := c.startFetchLocked(c.ctx, best.key, best.req)
	f.background = true // read by settle under c.mu
	return f, time.Time{}
}
