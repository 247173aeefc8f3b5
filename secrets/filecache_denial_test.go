package secrets_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// scriptSrc is a Source whose answer the test switches: a value, a denial
// or an outage. (A Source, not the SDK: these tests order fetches against
// denials precisely, which the emulator cannot.)
type scriptSrc struct{ mode atomic.Int32 }

const (
	srcOK = iota
	srcDenied
	srcDown
)

func (s *scriptSrc) GetSecretValue(_ context.Context, in *kmsclient.GetSecretValueInput) (*kmsclient.SecretValue, error) {
	switch s.mode.Load() {
	case srcDenied:
		return nil, deniedErr{}
	case srcDown:
		return nil, &kmsclient.RequestError{Operation: "GetSecretValue", Attempts: 1, Err: context.DeadlineExceeded}
	}
	return &kmsclient.SecretValue{SecretName: in.SecretName, VersionID: "v1", Value: []byte("hunter2"),
		VersionStages: []string{kmsclient.StageCurrent}}, nil
}

type deniedErr struct{}

func (deniedErr) Error() string { return "denied" }
func (deniedErr) Unwrap() error { return kmsclient.ErrAccessDenied }

func newFileCache(t *testing.T, dir string) *secrets.FileCache {
	t.Helper()
	fc, err := secrets.NewFileCache(secrets.FileCacheOptions{Dir: dir, Key: make([]byte, 32)})
	require.NoError(t, err)
	return fc
}

func cacheFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.sec"))
	require.NoError(t, err)
	return files
}

// TestDenialRemovesTheFileAFetchWasWriting: the file write of a successful
// fetch happens after its waiters are released; a denial right after must
// still leave no file behind (it used to land after the removal in about
// one run in ten, and a restart during an outage served the revoked value).
func TestDenialRemovesTheFileAFetchWasWriting(t *testing.T) {
	for i := 0; i < 50; i++ {
		dir := filepath.Join(t.TempDir(), "cache")
		src := &scriptSrc{}
		c, err := secrets.New(src, secrets.Config{FileCache: newFileCache(t, dir)})
		require.NoError(t, err)
		_, err = c.Get(context.Background(), "db")
		require.NoError(t, err)
		src.mode.Store(srcDenied)
		_, err = c.RefreshNow(context.Background(), "db")
		require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
		require.NoError(t, c.Close())
		require.Empty(t, cacheFiles(t, dir), "run %d: the denied secret is still on disk", i)
	}
}

// slowThenDenied answers its first call (held until gate closes) with the
// value, as KMS did before the revocation, and denies every later one.
type slowThenDenied struct {
	n    atomic.Int32
	gate chan struct{}
}

func (s *slowThenDenied) GetSecretValue(_ context.Context, in *kmsclient.GetSecretValueInput) (*kmsclient.SecretValue, error) {
	if s.n.Add(1) == 1 {
		<-s.gate
		return &kmsclient.SecretValue{SecretName: in.SecretName, VersionID: "v1", Value: []byte("hunter2")}, nil
	}
	return nil, deniedErr{}
}

// TestEarlierFetchCannotUndoADenial: a fetch that started before a
// RefreshNow was denied, and answers after it, is not cached (it used to be
// stored as fresh and written to disk) and its waiters get the denial.
func TestEarlierFetchCannotUndoADenial(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	src := &slowThenDenied{gate: make(chan struct{})}
	c, err := secrets.New(src, secrets.Config{FileCache: newFileCache(t, dir), RefreshAhead: -1})
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	got := make(chan error, 1)
	go func() { _, err := c.Get(ctx, "db"); got <- err }()
	require.Eventually(t, func() bool { return src.n.Load() == 1 }, 5e9, 1e6)
	_, err = c.RefreshNow(ctx, "db")
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
	close(src.gate)
	assert.ErrorIs(t, <-got, kmsclient.ErrAccessDenied, "the older fetch's waiter")
	assert.Equal(t, 0, c.Stats().Entries)
	require.NoError(t, c.Close())
	assert.Empty(t, cacheFiles(t, dir))
}

// TestFileCacheKeepsToStaleIfError: the file never serves what the
// secret's StaleIfError forbids (it used to clamp a negative StaleIfError
// to zero and serve anyway, and to serve again once the in-memory stale
// window ran out). TTL is 1m; KMS is down after the first fetch.
func TestFileCacheKeepsToStaleIfError(t *testing.T) {
	tests := []struct {
		name         string
		staleIfError time.Duration
		restart      bool            // a new process, or the same one
		steps        []time.Duration // clock advances, a Get after each
		served       bool            // by the last Get
	}{
		{"negative, restart", -1, true, []time.Duration{0}, false},
		{"negative, same process past expiry", -1, false, []time.Duration{2 * time.Minute}, false},
		{"restart within StaleIfError", 10 * time.Minute, true, []time.Duration{5 * time.Minute}, true},
		{"restart past StaleIfError", 10 * time.Minute, true, []time.Duration{11 * time.Minute}, false},
		{"same process within the stale window", 10 * time.Minute, false, []time.Duration{5 * time.Minute}, true},
		{"same process past the stale window", 10 * time.Minute, false, []time.Duration{5 * time.Minute, 7 * time.Minute}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "cache")
			clock := newFakeClock()
			src := &scriptSrc{}
			fc, err := secrets.NewFileCache(secrets.FileCacheOptions{Dir: dir, Key: make([]byte, 32), Now: clock.Now})
			require.NoError(t, err)
			cfg := secrets.Config{StaleIfError: tt.staleIfError, TTL: time.Minute, RefreshAhead: -1, Now: clock.Now, FileCache: fc}
			c, err := secrets.New(src, cfg)
			require.NoError(t, err)
			defer c.Close()
			ctx := context.Background()
			_, err = c.Get(ctx, "db")
			require.NoError(t, err)
			require.Eventually(t, func() bool { return len(cacheFiles(t, dir)) == 1 }, 5*time.Second, time.Millisecond)
			if tt.restart {
				require.NoError(t, c.Close())
				c, err = secrets.New(src, cfg)
				require.NoError(t, err)
				defer c.Close()
			}
			src.mode.Store(srcDown)
			var v *secrets.Value
			for _, d := range tt.steps {
				clock.Advance(d)
				v, err = c.Get(ctx, "db")
			}
			if tt.served {
				require.NoError(t, err)
				assert.True(t, v.Stale())
				return
			}
			assert.Error(t, err, "served %v", v)
		})
	}
}

// TestDenialDropsEveryStageAndVersion: a denial or not-found of a secret
// removes every cached stage and version of it, in memory and on disk (it
// used to remove only the key it was fetched under, and a restart during an
// outage served the revoked secret's ACSPrevious).
func TestDenialDropsEveryStageAndVersion(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	src := &scriptSrc{}
	c, err := secrets.New(src, secrets.Config{FileCache: newFileCache(t, dir), RefreshAhead: -1})
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	for _, opts := range [][]secrets.GetOption{nil, {secrets.Stage(kmsclient.StagePrevious)}, {secrets.VersionID("v1")}} {
		_, err := c.Get(ctx, "db", opts...)
		require.NoError(t, err)
	}
	_, err = c.Get(ctx, "other")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(cacheFiles(t, dir)) == 4 }, 5*time.Second, time.Millisecond)

	src.mode.Store(srcDenied)
	_, err = c.RefreshNow(ctx, "db")
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
	assert.Equal(t, 1, c.Stats().Entries, "only other is left in memory")
	assert.Len(t, cacheFiles(t, dir), 1, "only other is left on disk")

	// A restart during an outage serves none of db's stages.
	require.NoError(t, c.Close())
	src.mode.Store(srcDown)
	c2, err := secrets.New(src, secrets.Config{FileCache: newFileCache(t, dir), RefreshAhead: -1})
	require.NoError(t, err)
	defer c2.Close()
	_, err = c2.Get(ctx, "db", secrets.Stage(kmsclient.StagePrevious))
	assert.Error(t, err)
	v, err := c2.Get(ctx, "other")
	require.NoError(t, err)
	assert.True(t, v.FromFileCache())
}
