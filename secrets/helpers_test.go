package secrets_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// env is one emulator with one RAM user, one customer key, and a real
// kmsclient for the user.
type env struct {
	srv   *testkms.Server
	acct  string
	cred  testkms.Credential
	keyID string
	kms   *kmsclient.Client
}

// newEnv starts an emulator. Retries are fast and few so that injected
// faults resolve quickly without changing their logic.
func newEnv(t *testing.T, mutate ...func(*kmsclient.Config)) *env {
	t.Helper()
	srv := testkms.Start(t)
	acct := srv.DefaultAccount()
	cred := srv.AddUser(acct, "app")
	keyID, _, err := srv.CreateKey(acct, testkms.KeyOptions{Description: "secrets test"})
	require.NoError(t, err)
	cfg := kmsclient.Config{
		Region:         srv.Region(),
		Endpoint:       strings.ToLower(srv.Scheme()) + "://" + srv.Endpoint(),
		Credentials:    kmsclient.StaticCredentials(cred.AccessKeyID, cred.AccessKeySecret),
		MaxAttempts:    2,
		InitialBackoff: time.Millisecond,
		MaxBackoff:     5 * time.Millisecond,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	kc, err := kmsclient.New(cfg)
	require.NoError(t, err)
	return &env{srv: srv, acct: acct, cred: cred, keyID: keyID, kms: kc}
}

// secret creates a text secret with first version id "v1".
func (e *env) secret(t *testing.T, name, value string) {
	t.Helper()
	_, err := e.srv.CreateSecret(e.acct, name, []byte(value), testkms.SecretOptions{VersionID: "v1"})
	require.NoError(t, err)
}

// put adds a new ACSCurrent version.
func (e *env) put(t *testing.T, name, value, versionID string) {
	t.Helper()
	require.NoError(t, e.srv.PutSecretValue(e.acct, name, []byte(value), versionID))
}

// client returns a secrets client over the env's kmsclient, closed at the
// end of the test.
func (e *env) client(t *testing.T, cfg secrets.Config) *secrets.Client {
	t.Helper()
	c, err := secrets.New(e.kms, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (e *env) calls() int { return e.srv.Calls("GetSecretValue") }

// fakeClock is a settable clock for Config.Now.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// manual is a Config with a fake clock and no background refresher, so that
// tests decide exactly when time passes and when KMS is called.
func manual(clock *fakeClock) secrets.Config {
	return secrets.Config{TTL: time.Minute, RefreshAhead: -1, Now: clock.Now}
}

// changeRecorder collects OnChange calls.
type changeRecorder struct {
	mu      sync.Mutex
	changes []secrets.Change
	ch      chan secrets.Change
}

func newChangeRecorder() *changeRecorder {
	return &changeRecorder{ch: make(chan secrets.Change, 100)}
}

func (r *changeRecorder) record(c secrets.Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
	r.ch <- c
}

func (r *changeRecorder) all() []secrets.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]secrets.Change(nil), r.changes...)
}

// next waits (generously) for the next OnChange call.
func (r *changeRecorder) next(t *testing.T) secrets.Change {
	t.Helper()
	select {
	case c := <-r.ch:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("OnChange was not called")
		return secrets.Change{}
	}
}
