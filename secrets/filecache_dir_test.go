//go:build unix

package secrets_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// TestFileCacheRefusesAnUnsafeDirectory: a directory open to others, or a
// symbolic link to one, is refused (both used to be accepted as they were).
func TestFileCacheRefusesAnUnsafeDirectory(t *testing.T) {
	base := t.TempDir()
	loose := filepath.Join(base, "loose")
	require.NoError(t, os.Mkdir(loose, 0o700))
	require.NoError(t, os.Chmod(loose, 0o777))
	private := filepath.Join(base, "private")
	require.NoError(t, os.Mkdir(private, 0o700))
	link := filepath.Join(base, "link")
	require.NoError(t, os.Symlink(private, link))
	notDir := filepath.Join(base, "file")
	require.NoError(t, os.WriteFile(notDir, nil, 0o600))
	tests := []struct {
		name, dir, want string
	}{
		{"open to others", loose, "must not be open to group or others"},
		{"symbolic link", link, "symbolic link"},
		{"not a directory", notDir, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := secrets.NewFileCache(secrets.FileCacheOptions{Dir: tt.dir, Key: make([]byte, 32)})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
	_, err := secrets.NewFileCache(secrets.FileCacheOptions{Dir: private, Key: make([]byte, 32)})
	assert.NoError(t, err)
}

// TestFileCacheRefusesAFIFO: a FIFO planted as a cache file is refused at
// once (opening it used to block the fetch goroutine, and so Close,
// until a writer came).
func TestFileCacheRefusesAFIFO(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	src := &scriptSrc{}
	c, err := secrets.New(src, secrets.Config{FileCache: newFileCache(t, dir)})
	require.NoError(t, err)
	_, err = c.Get(context.Background(), "db")
	require.NoError(t, err)
	require.NoError(t, c.Close())
	files := cacheFiles(t, dir)
	require.Len(t, files, 1)
	require.NoError(t, os.Remove(files[0]))
	require.NoError(t, syscall.Mkfifo(files[0], 0o600))
	t.Cleanup(func() { // unblock a stuck open, if any
		if f, err := os.OpenFile(files[0], os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})

	src.mode.Store(srcDown)
	var (
		mu     sync.Mutex
		events []secrets.EventKind
	)
	onEvent := func(e secrets.Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e.Kind)
	}
	c2, err := secrets.New(src, secrets.Config{FileCache: newFileCache(t, dir), OnEvent: onEvent})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	_, err = c2.Get(ctx, "db")
	assert.Error(t, err)
	assert.Less(t, time.Since(start), 2*time.Second, "the Get must not wait for the FIFO")
	done := make(chan struct{})
	go func() { c2.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked on a FIFO in the cache directory")
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Contains(t, events, secrets.EventFileCacheError)
}

// TestFileCacheRefusesAFutureFetchTime: a file fetched (by its record)
// beyond the clock skew in the future is refused, not served.
func TestFileCacheRefusesAFutureFetchTime(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	clock := newFakeClock()
	fc, err := secrets.NewFileCache(secrets.FileCacheOptions{Dir: dir, Key: make([]byte, 32), Now: clock.Now})
	require.NoError(t, err)
	src := &scriptSrc{}
	cfg := secrets.Config{FileCache: fc, Now: clock.Now, RefreshAhead: -1}
	c, err := secrets.New(src, cfg)
	require.NoError(t, err)
	_, err = c.Get(context.Background(), "db")
	require.NoError(t, err)
	require.NoError(t, c.Close())

	clock.Advance(-10 * time.Minute) // the file now says it was fetched 10m from now
	src.mode.Store(srcDown)
	c2, err := secrets.New(src, cfg)
	require.NoError(t, err)
	defer c2.Close()
	_, err = c2.Get(context.Background(), "db")
	assert.Error(t, err)
}
