package keycache_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/keycache"
)

// TestCloseCancelsFetchesAndRefusesGets: Close cancels the context of a
// fetch in flight and releases its waiters at once (even from a fetch that
// ignores its context), wipes what was cached, and every later Get fails
// without fetching.
func TestCloseCancelsFetchesAndRefusesGets(t *testing.T) {
	f := &fetcher{}
	c := newCache(t, keycache.Config{}) // 30s FetchTimeout: Close must not wait for it
	_, err := c.GetEncryption(context.Background(), "cached", 0, f.fetch)
	require.NoError(t, err)
	cachedKey := f.liveBytes(t, 1)

	cancelled := make(chan struct{})
	stuck := make(chan struct{}) // a second fetch that ignores its context
	started := make(chan struct{}, 2)
	errc := make(chan error, 2)
	go func() {
		_, err := c.GetDecryption(context.Background(), "inflight", func(ctx context.Context) (*keycache.Materials, error) {
			started <- struct{}{}
			<-ctx.Done()
			close(cancelled)
			return nil, ctx.Err()
		})
		errc <- err
	}()
	go func() {
		_, err := c.GetDecryption(context.Background(), "ignores-ctx", func(context.Context) (*keycache.Materials, error) {
			started <- struct{}{}
			<-stuck
			return freshMaterials(), nil
		})
		errc <- err
	}()
	<-started
	<-started
	require.NoError(t, c.Close())
	<-cancelled // the fetch's context was cancelled by Close
	for range 2 {
		assert.ErrorIs(t, <-errc, keycache.ErrClosed)
	}
	close(stuck)
	assert.Equal(t, make([]byte, 32), cachedKey, "the cached key was wiped")

	_, err = c.GetEncryption(context.Background(), "cached", 0, f.fetch)
	assert.ErrorIs(t, err, keycache.ErrClosed)
	_, err = c.GetDecryption(context.Background(), "new", f.fetch)
	assert.ErrorIs(t, err, keycache.ErrClosed)
	_, ok := c.LookupEncryption([]byte("cached"), 0)
	assert.False(t, ok)
	assert.Equal(t, 1, f.count(), "no fetch after Close")
	assert.Zero(t, c.Stats().Entries)
	require.NoError(t, c.Close(), "idempotent")
}

// TestCloseWithErrorGivesTheOwnersSentinel: the error named by
// CloseWithError is what every later Get returns, as is.
func TestCloseWithErrorGivesTheOwnersSentinel(t *testing.T) {
	owner := errors.New("owner: closed")
	c := newCache(t, keycache.Config{})
	require.NoError(t, c.CloseWithError(owner))
	require.NoError(t, c.CloseWithError(errors.New("later")), "the first error stays")
	_, err := c.GetEncryption(context.Background(), "id", 0, (&fetcher{}).fetch)
	assert.Same(t, owner, err)
}
