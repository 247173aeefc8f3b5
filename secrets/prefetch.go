package secrets

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
)

// Prefetch gets every named secret (ACSCurrent) as [Client.Get] does, at
// most Config.Parallelism at a time, so that a service can fail fast at
// start-up and later Gets hit the cache. Duplicate names are fetched once.
// It returns nil when every secret was fetched (or is cached, or served
// stale), [ErrClosed] after Close, and otherwise a [*PrefetchError] that
// lists every failure, not just the first. ctx bounds the whole call.
func (c *Client) Prefetch(ctx context.Context, names ...string) error {
	if c.closedFlag.Load() {
		return ErrClosed
	}
	unique := make([]string, 0, len(names))
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			unique = append(unique, n)
		}
	}
	errs := make([]error, len(unique))
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(c.cfg.Parallelism, len(unique)) {
		wg.Go(func() {
			for i := range work {
				_, errs[i] = c.Get(ctx, unique[i])
			}
		})
	}
	for i := range unique {
		work <- i
	}
	close(work)
	wg.Wait()

	var pe PrefetchError
	for i, err := range errs {
		if err != nil {
			if errors.Is(err, ErrClosed) {
				return ErrClosed
			}
			pe.Failures = append(pe.Failures, Failure{Name: unique[i], Err: err})
		}
	}
	if pe.Failures == nil {
		return nil
	}
	pe.Total = len(unique)
	return &pe
}

// PrefetchError reports the secrets [Client.Prefetch] could not fetch.
type PrefetchError struct {
	// Failures lists every secret that failed, in the order requested.
	Failures []Failure
	// Total is how many distinct secrets were requested.
	Total int
}

// Failure is one secret that could not be fetched, with the error Get
// returned for it.
type Failure struct {
	Name string
	Err  error
}

// Error lists every failure on its own line:
//
//	secrets: 2 of 5 secrets could not be fetched:
//	  db-password: <reason>
//	  api-key: <reason>
func (e *PrefetchError) Error() string {
	var b strings.Builder
	b.WriteString("secrets: ")
	b.WriteString(strconv.Itoa(len(e.Failures)))
	b.WriteString(" of ")
	b.WriteString(strconv.Itoa(max(e.Total, len(e.Failures))))
	b.WriteString(" secrets could not be fetched:")
	for _, f := range e.Failures {
		b.WriteString("\n  ")
		b.WriteString(f.Name)
		b.WriteString(": ")
		reason := "<nil>"
		if f.Err != nil {
			reason = strings.TrimPrefix(f.Err.Error(), "secrets: "+f.Name+": ")
		}
		b.WriteString(reason)
	}
	return b.String()
}

// Unwrap returns the error of every failure, so that errors.Is and
// errors.As look through all of them.
func (e *PrefetchError) Unwrap() []error {
	errs := make([]error, 0, len(e.Failures))
	for _, f := range e.Failures {
		errs = append(errs, f.Err)
	}
	return errs
}
