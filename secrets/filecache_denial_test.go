package secrets_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

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
		dir := t.TempDir()
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
	dir := t.TempDir()
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
