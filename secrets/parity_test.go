package secrets_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// metaSource adds the rotation metadata the emulator does not model (it
// answers SecretType Generic and no rotation dates) to what the real
// kmsclient returns from the emulator.
type metaSource struct {
	src  secrets.Source
	mu   sync.Mutex
	meta func(*kmsclient.SecretValue)
	ins  []kmsclient.GetSecretValueInput
}

func (m *metaSource) GetSecretValue(ctx context.Context, in *kmsclient.GetSecretValueInput) (*kmsclient.SecretValue, error) {
	m.mu.Lock()
	m.ins = append(m.ins, *in)
	f := m.meta
	m.mu.Unlock()
	sv, err := m.src.GetSecretValue(ctx, in)
	if err == nil && f != nil {
		f(sv)
	}
	return sv, err
}

func (m *metaSource) set(f func(*kmsclient.SecretValue)) {
	m.mu.Lock()
	m.meta = f
	m.mu.Unlock()
}

func TestValueMetadata(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "app/ram", `{"AccessKeyId":"x","AccessKeySecret":"y"}`)
	next := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	ms := &metaSource{src: e.kms, meta: func(sv *kmsclient.SecretValue) {
		sv.SecretType, sv.ExtendedConfig = "RAMCredentials", `{"SecretSubType":"RamUserAccessKey","UserName":"app"}`
		sv.AutomaticRotation, sv.RotationInterval = "Enabled", "604800s"
		sv.LastRotationDate, sv.NextRotationDate = next.Add(-7*24*time.Hour), next
	}}
	c, err := secrets.New(ms, secrets.Config{})
	require.NoError(t, err)
	defer c.Close()
	v, err := c.Get(context.Background(), "app/ram")
	require.NoError(t, err)
	assert.Equal(t, "RAMCredentials", v.SecretType())
	assert.JSONEq(t, `{"SecretSubType":"RamUserAccessKey","UserName":"app"}`, v.ExtendedConfig())
	assert.Equal(t, "Enabled", v.AutomaticRotation())
	assert.Equal(t, "604800s", v.RotationInterval())
	assert.Equal(t, next, v.NextRotationDate())
	assert.Equal(t, next.Add(-7*24*time.Hour), v.LastRotationDate())
	assert.False(t, v.CreateTime().IsZero(), "the emulator reports CreateTime")
	assert.False(t, v.FromFileCache())
	require.Len(t, ms.ins, 1)
	assert.True(t, ms.ins[0].FetchExtendedConfig, "the client asks for the extended configuration")
}

func TestPerSecretPolicy(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "short", "a")
	e.secret(t, "long", "b")
	clock := newFakeClock()
	cfg := manual(clock) // TTL 1m
	cfg.Policies = map[string]secrets.Policy{"short": {TTL: 10 * time.Second}, "long": {TTL: time.Hour}}
	c := e.client(t, cfg)
	ctx := context.Background()
	for _, n := range []string{"short", "long"} {
		_, err := c.Get(ctx, n)
		require.NoError(t, err)
	}
	clock.Advance(15 * time.Second)
	before := e.calls()
	_, err := c.Get(ctx, "long")
	require.NoError(t, err)
	assert.Equal(t, before, e.calls(), "long is still fresh")
	_, err = c.Get(ctx, "short")
	require.NoError(t, err)
	assert.Equal(t, before+1, e.calls(), "short expired after its own TTL")
	clock.Advance(50 * time.Minute)
	_, err = c.Get(ctx, "long")
	require.NoError(t, err)
	assert.Equal(t, before+1, e.calls(), "long outlives the default TTL")
}

func TestPolicyValidation(t *testing.T) {
	for _, tc := range []struct {
		name     string
		policies map[string]secrets.Policy
		field    string
	}{
		{"negative TTL", map[string]secrets.Policy{"a": {TTL: -1}}, "Policies[a]"},
		{"refresh ahead past TTL", map[string]secrets.Policy{"a": {TTL: time.Minute, RefreshAhead: time.Minute}}, "Policies[a]"},
		{"invalid name", map[string]secrets.Policy{"a\x00b": {}}, "Policies"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := secrets.New(&metaSource{}, secrets.Config{Policies: tc.policies})
			var ce *secrets.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
			assert.ErrorIs(t, err, secrets.ErrInvalidConfig)
		})
	}
	_, err := secrets.New(&metaSource{}, secrets.Config{RotationPoll: -1})
	require.ErrorIs(t, err, secrets.ErrInvalidConfig)
}

// TestNextRotationDateDrivesRefresh: a value is fresh no longer than its
// NextRotationDate; once that has passed, the rotation is polled for every
// RotationPoll, and the new version is picked up long before the TTL.
func TestNextRotationDateDrivesRefresh(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "rotating", "v1-value")
	clock := newFakeClock()
	rotation := clock.Now().Add(10 * time.Minute)
	ms := &metaSource{src: e.kms, meta: func(sv *kmsclient.SecretValue) { sv.NextRotationDate = rotation }}
	cfg := secrets.Config{TTL: time.Hour, RefreshAhead: -1, Now: clock.Now, RotationPoll: 30 * time.Second}
	c, err := secrets.New(ms, cfg)
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	get := func() *secrets.Value {
		v, err := c.Get(ctx, "rotating")
		require.NoError(t, err)
		return v
	}
	get()
	calls := e.calls()
	clock.Advance(9 * time.Minute)
	get()
	assert.Equal(t, calls, e.calls(), "fresh before the rotation date")
	clock.Advance(time.Minute) // at the rotation date
	assert.Equal(t, "v1", get().VersionID())
	assert.Equal(t, calls+1, e.calls(), "fetched at the rotation date")
	// KMS has not rotated yet: the date is past, poll every 30s.
	clock.Advance(20 * time.Second)
	get()
	assert.Equal(t, calls+1, e.calls())
	e.put(t, "rotating", "v2-value", "v2")
	ms.set(func(sv *kmsclient.SecretValue) { sv.NextRotationDate = rotation.Add(7 * 24 * time.Hour) })
	clock.Advance(11 * time.Second)
	assert.Equal(t, "v2", get().VersionID(), "the rotation is seen within RotationPoll")
	assert.Equal(t, calls+2, e.calls())
	// (50m: within the shortest jittered TTL, 1h×0.9; 59m failed about
	// four runs in ten.)
	clock.Advance(50 * time.Minute)
	get()
	assert.Equal(t, calls+2, e.calls(), "then the TTL applies again")

	// IgnoreRotationDate opts out.
	cfg.Policies = map[string]secrets.Policy{"rotating": {IgnoreRotationDate: true}}
	c2, err := secrets.New(ms, cfg)
	require.NoError(t, err)
	defer c2.Close()
	ms.set(func(sv *kmsclient.SecretValue) { sv.NextRotationDate = clock.Now().Add(time.Minute) })
	_, err = c2.Get(ctx, "rotating")
	require.NoError(t, err)
	calls = e.calls()
	clock.Advance(5 * time.Minute)
	_, err = c2.Get(ctx, "rotating")
	require.NoError(t, err)
	assert.Equal(t, calls, e.calls())
}

// TestRotationDateRefreshedInBackground: with the refresher running, a
// secret in use is fetched at its rotation date (not RefreshAhead before,
// which would only fetch the old version again and again).
func TestRotationDateRefreshedInBackground(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "rotating", "v1-value")
	start := time.Now()
	rotation := start.Add(300 * time.Millisecond)
	ms := &metaSource{src: e.kms, meta: func(sv *kmsclient.SecretValue) { sv.NextRotationDate = rotation }}
	rec := newChangeRecorder()
	c, err := secrets.New(ms, secrets.Config{TTL: time.Hour, RotationPoll: 100 * time.Millisecond, OnChange: rec.record})
	require.NoError(t, err)
	defer c.Close()
	ctx := context.Background()
	_, err = c.Get(ctx, "rotating")
	require.NoError(t, err)
	_, err = c.Get(ctx, "rotating") // a hit: in use
	require.NoError(t, err)
	e.put(t, "rotating", "v2-value", "v2")
	ms.set(func(sv *kmsclient.SecretValue) { sv.NextRotationDate = rotation.Add(time.Hour) })
	ch := rec.next(t)
	assert.Equal(t, "v2", ch.NewVersionID)
	assert.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond, "not fetched before the rotation date")
	assert.LessOrEqual(t, e.calls(), 3)
}

func fileKey(t *testing.T) []byte {
	k := make([]byte, 32)
	_, err := rand.Read(k)
	require.NoError(t, err)
	return k
}

// TestFileCacheOutageRestart: a process that read its secrets once starts
// again during a KMS outage from the encrypted file cache; the files are
// 0600, hold no plaintext, and resist tampering and a wrong key.
func TestFileCacheOutageRestart(t *testing.T) {
	e := newEnv(t)
	const value = "FILE-CACHE-CANARY-9d1e"
	e.secret(t, "db", value)
	dir := filepath.Join(t.TempDir(), "cache")
	key := fileKey(t)
	fc, err := secrets.NewFileCache(secrets.FileCacheOptions{Dir: dir, Key: key})
	require.NoError(t, err)

	first := e.client(t, secrets.Config{FileCache: fc})
	v, err := first.Get(context.Background(), "db")
	require.NoError(t, err)
	require.Equal(t, value, v.Text())
	require.NoError(t, first.Close())

	st, err := os.Stat(dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	require.NoError(t, err)
	require.Len(t, files, 1, "one file, no temporary left behind")
	fst, err := os.Stat(files[0])
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fst.Mode().Perm())
	raw, err := os.ReadFile(files[0])
	require.NoError(t, err)
	assert.False(t, bytes.Contains(raw, []byte(value)), "no plaintext on disk")
	assert.False(t, bytes.Contains(raw, []byte("db")) && bytes.Contains(raw, []byte(`"n":"db"`)), "no readable record")
	assert.Regexp(t, `^[0-9a-f]{32}-[0-9a-f]{40}\.sec$`, filepath.Base(files[0]), "file names are keyed hashes, not secret names")

	// The outage: every KMS call fails. A fresh process (a new client and
	// a new FileCache over the same directory and key) still starts.
	e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultUnavailable})
	fc2, err := secrets.NewFileCache(secrets.FileCacheOptions{Dir: dir, Key: key})
	require.NoError(t, err)
	var events []secrets.Event
	var mu sync.Mutex
	restarted := e.client(t, secrets.Config{FileCache: fc2, OnEvent: func(ev secrets.Event) { mu.Lock(); events = append(events, ev); mu.Unlock() }})
	require.NoError(t, restarted.Prefetch(context.Background(), "db"))
	v, err = restarted.Get(context.Background(), "db")
	require.NoError(t, err)
	assert.Equal(t, value, v.Text())
	assert.True(t, v.Stale())
	assert.True(t, v.FromFileCache())
	assert.Equal(t, "v1", v.VersionID())
	mu.Lock()
	assert.Contains(t, events, secrets.Event{Kind: secrets.EventFileCacheLoad})
	mu.Unlock()

	// Another key neither finds the file (names are keyed) nor opens it.
	fcWrong, err := secrets.NewFileCache(secrets.FileCacheOptions{Dir: dir, Key: fileKey(t)})
	require.NoError(t, err)
	wrong := e.client(t, secrets.Config{FileCache: fcWrong})
	_, err = wrong.Get(context.Background(), "db")
	require.ErrorIs(t, err, kmsclient.ErrServiceUnavailable)

	// A flipped byte does not open it.
	raw[len(raw)-1] ^= 1
	require.NoError(t, os.WriteFile(files[0], raw, 0o600))
	fc3, err := secrets.NewFileCache(secrets.FileCacheOptions{Dir: dir, Key: key})
	require.NoError(t, err)
	var fileErrors int
	tampered := e.client(t, secrets.Config{FileCache: fc3, OnEvent: func(ev secrets.Event) {
		if ev.Kind == secrets.EventFileCacheError {
			mu.Lock()
			fileErrors++
			mu.Unlock()
		}
	}})
	_, err = tampered.Get(context.Background(), "db")
	require.ErrorIs(t, err, kmsclient.ErrServiceUnavailable)
	mu.Lock()
	assert.Equal(t, 1, fileErrors)
	mu.Unlock()
}

// TestFileCacheNeverMasksADecision: a denied secret is not served from the
// file, and its file is removed; a record older than MaxAge is not served.
func TestFileCacheNeverMasksADecision(t *testing.T) {
	e := newEnv(t)
	e.secret(t, "db", "pw")
	dir := filepath.Join(t.TempDir(), "cache")
	key := fileKey(t)
	clock := newFakeClock()
	fc, err := secrets.NewFileCache(secrets.FileCacheOptions{Dir: dir, Key: key, MaxAge: time.Hour, Now: clock.Now})
	require.NoError(t, err)
	cfg := manual(clock)
	cfg.FileCache = fc
	c := e.client(t, cfg)
	_, err = c.Get(context.Background(), "db")
	require.NoError(t, err)
	require.NoError(t, c.Close()) // the file is written once the Get is answered; Close waits for it

	// Too old: not served.
	clock.Advance(2 * time.Hour)
	id := e.srv.InjectFault(testkms.Fault{Kind: testkms.FaultUnavailable})
	c2 := e.client(t, cfg)
	_, err = c2.Get(context.Background(), "db")
	require.ErrorIs(t, err, kmsclient.ErrServiceUnavailable)
	e.srv.RemoveFault(id)

	// Denied: the error is returned and the file removed.
	e.srv.Deny(e.cred.Principal, "GetSecretValue")
	c3 := e.client(t, cfg)
	_, err = c3.Get(context.Background(), "db")
	require.ErrorIs(t, err, kmsclient.ErrAccessDenied)
	files, err := filepath.Glob(filepath.Join(dir, "*.sec"))
	require.NoError(t, err)
	assert.Empty(t, files)
}

func TestFileCacheOptionsValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		o     secrets.FileCacheOptions
		field string
	}{
		{"no dir", secrets.FileCacheOptions{Key: make([]byte, 32)}, "FileCache.Dir"},
		{"short key", secrets.FileCacheOptions{Dir: t.TempDir(), Key: make([]byte, 16)}, "FileCache.Key"},
		{"negative age", secrets.FileCacheOptions{Dir: t.TempDir(), Key: make([]byte, 32), MaxAge: -1}, "FileCache.MaxAge"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := secrets.NewFileCache(tc.o)
			var ce *secrets.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field)
		})
	}
	k1, err := secrets.DeriveFileCacheKey([]byte("0123456789abcdef-deployment-token"), "svc-a")
	require.NoError(t, err)
	k2, err := secrets.DeriveFileCacheKey([]byte("0123456789abcdef-deployment-token"), "svc-b")
	require.NoError(t, err)
	assert.Len(t, k1, 32)
	assert.NotEqual(t, k1, k2)
	_, err = secrets.DeriveFileCacheKey([]byte("short"), "svc")
	require.ErrorIs(t, err, secrets.ErrInvalidConfig)
}
