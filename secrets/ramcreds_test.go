package secrets_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

func ramJSON(c testkms.Credential) string {
	return fmt.Sprintf(`{"AccessKeyId":%q,"AccessKeySecret":%q,"GenerateTimestamp":"2025-01-02 03:04:05"}`, c.AccessKeyID, c.AccessKeySecret)
}

// ramEnv: a reader identity (the bootstrap credentials) reads the RAM
// credential secret of user "app"; a second kmsclient signs with what the
// secret holds.
type ramEnv struct {
	*env
	mu     sync.Mutex // guards app and prev
	app    testkms.Credential
	prev   testkms.Credential
	reader *secrets.Client
	creds  *secrets.RAMCredentials
	target *kmsclient.Client
}

func newRAMEnv(t *testing.T, cfg secrets.Config) *ramEnv {
	t.Helper()
	e := newEnv(t)
	app := e.srv.AddUser(e.acct, "ramapp")
	_, err := e.srv.CreateSecret(e.acct, "ram/ramapp", []byte(ramJSON(app)), testkms.SecretOptions{VersionID: "v1"})
	require.NoError(t, err)
	reader := e.client(t, cfg)
	creds := secrets.NewRAMCredentials(reader, "ram/ramapp")
	target, err := kmsclient.New(kmsclient.Config{
		Region: e.srv.Region(), Endpoint: strings.ToLower(e.srv.Scheme()) + "://" + e.srv.Endpoint(),
		Credentials: creds, MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = target.Close() })
	return &ramEnv{env: e, app: app, reader: reader, creds: creds, target: target}
}

// rotate rotates the RAM credential secret: a new access key for the
// user, stored as the new ACSCurrent version; then an old key is disabled.
// With keepPrevious, as KMS does it, the key that was current stays valid
// and the one before it is disabled (a RAM user holds at most two access
// keys, so each rotation deletes the older one: an assumption from
// Alibaba's description of RAM secret rotation, which the emulator does not
// model); without, the worst case, the key that was current is disabled at
// once.
func (r *ramEnv) rotate(t *testing.T, version string, keepPrevious bool) testkms.Credential {
	nk := r.srv.AddUser(r.acct, "ramapp")
	if err := r.srv.PutSecretValue(r.acct, "ram/ramapp", []byte(ramJSON(nk)), version); err != nil {
		t.Error(err) // (also called from the soak's rotator goroutine)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := r.app
	if keepPrevious {
		old, r.prev = r.prev, r.app
	}
	r.app = nk
	if old.AccessKeyID != "" {
		r.srv.ExpireCredential(old.AccessKeyID)
	}
	return nk
}

func (r *ramEnv) whoami(t *testing.T) string {
	t.Helper()
	id, err := r.target.GetCallerIdentity(context.Background())
	require.NoError(t, err)
	return id.ARN
}

func TestRAMCredentialsFollowRotation(t *testing.T) {
	r := newRAMEnv(t, secrets.Config{})
	ctx := context.Background()
	c, err := r.creds.Retrieve(ctx)
	require.NoError(t, err)
	assert.Equal(t, r.app.AccessKeyID, c.AccessKeyID)
	assert.Equal(t, r.app.Principal, r.whoami(t))

	nk := r.rotate(t, "v2", false)
	// The cached value still holds the old, now disabled key: the call is
	// refused once, the secret is read again, and the call is repeated.
	before := r.srv.Calls("GetSecretValue")
	assert.Equal(t, nk.Principal, r.whoami(t))
	assert.Equal(t, before+1, r.srv.Calls("GetSecretValue"))
	c, err = r.creds.Retrieve(ctx)
	require.NoError(t, err)
	assert.Equal(t, nk.AccessKeyID, c.AccessKeyID)
	assert.Contains(t, fmt.Sprint(c), "redacted")
}

// TestRAMCredentialsFallBackToPreviousKey: a new key refused (not yet
// propagated) while the previous one still works: the previous key signs
// for RAMCredentialsFallback.
func TestRAMCredentialsFallBackToPreviousKey(t *testing.T) {
	r := newRAMEnv(t, secrets.Config{TTL: time.Hour})
	old := r.app
	_ = r.whoami(t)
	// A new version holding a key the emulator does not know yet.
	require.NoError(t, r.srv.PutSecretValue(r.acct, "ram/ramapp", []byte(`{"AccessKeyId":"LTAInotpropagatedyet0000","AccessKeySecret":"x"}`), "v2"))
	_, err := r.reader.RefreshNow(context.Background(), "ram/ramapp")
	require.NoError(t, err)
	assert.Equal(t, old.Principal, r.whoami(t), "signed with the previous key")
	c, err := r.creds.Retrieve(context.Background())
	require.NoError(t, err)
	assert.Equal(t, old.AccessKeyID, c.AccessKeyID)
}

func TestRAMCredentialsInvalidValue(t *testing.T) {
	for _, tc := range []struct{ name, value string }{
		{"not JSON", "not json at all"},
		{"no secret", `{"AccessKeyId":"LTAI123"}`},
		{"wrong types", `{"AccessKeyId":1,"AccessKeySecret":2}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.secret(t, "ram", tc.value)
			p := secrets.NewRAMCredentials(e.client(t, secrets.Config{}), "ram")
			_, err := p.Retrieve(context.Background())
			require.ErrorIs(t, err, secrets.ErrInvalidRAMCredentials)
			var ce *kmsclient.CredentialsError
			require.ErrorAs(t, err, &ce)
			assert.NotContains(t, err.Error(), "LTAI123")
		})
	}
}

// TestSoakRotationUnderLoad: 64 goroutines use a kmsclient signed with a
// RAM credential secret and read a generic secret through a short-TTL
// cache, while both are rotated repeatedly. Not one call fails. Bounded:
// 2.5 seconds (3.2 for the worst case) or 300 iterations per goroutine,
// whichever comes first, per case. "kms" rotates as KMS does (the previous
// key stays valid until the next rotation) every 400 ms; "worst case"
// disables the replaced key at once, every 1.5 seconds. The pace is bounded by the slowest call: under the
// race detector on two loaded shared cores a call took up to 2 seconds,
// and a call signed with a key, refused, re-read and repeated must finish
// before the next rotation disables its new key too.
func TestSoakRotationUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("soak")
	}
	for _, tc := range []struct {
		name         string
		every        time.Duration
		keepPrevious bool
		minRotations int
	}{
		{"kms", 400 * time.Millisecond, true, 4},
		{"worst case", 1500 * time.Millisecond, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) { soak(t, tc.every, tc.keepPrevious, tc.minRotations) })
	}
}

func soak(t *testing.T, every time.Duration, keepPrevious bool, minRotations int) {
	// The RAM secret is re-read every 100 ms, so the provider moves to a
	// new key on its own soon after a rotation (in production: minutes
	// against a rotation period of days).
	r := newRAMEnv(t, secrets.Config{Policies: map[string]secrets.Policy{"ram/ramapp": {TTL: 100 * time.Millisecond}}})
	r.secret(t, "db", "db-v0")
	seen := make(chan secrets.Change, 1)
	cache := r.client(t, secrets.Config{TTL: 100 * time.Millisecond, RefreshAhead: 60 * time.Millisecond, OnChange: func(c secrets.Change) {
		select {
		case seen <- c:
		default:
		}
	}})
	ctx := context.Background()
	const workers, maxIter = 64, 300
	deadline := time.Now().Add(max(2500*time.Millisecond, 2*every+200*time.Millisecond))
	var (
		calls, reads, failures atomic.Int64
		slowest                atomic.Int64 // the longest KMS call, ns
		firstErr               atomic.Value
		wg                     sync.WaitGroup
		stop                   = make(chan struct{})
	)
	fail := func(err error) {
		failures.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < maxIter && time.Now().Before(deadline); i++ {
				if (w+i)%2 == 0 {
					start := time.Now()
					if _, err := r.target.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: r.keyID}); err != nil {
						fail(err)
					}
					calls.Add(1)
					for d := int64(time.Since(start)); ; {
						m := slowest.Load()
						if d <= m || slowest.CompareAndSwap(m, d) {
							break
						}
					}
				} else {
					v, err := cache.Get(ctx, "db")
					if err != nil {
						fail(err)
					} else if !strings.HasPrefix(v.Text(), "db-v") {
						fail(fmt.Errorf("unexpected value version %s", v.VersionID()))
					}
					reads.Add(1)
				}
			}
		}()
	}
	var rotations atomic.Int64
	var rwg sync.WaitGroup
	rwg.Add(1)
	go func() {
		defer rwg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for n := 1; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			r.rotate(t, fmt.Sprintf("ram-v%d", n+1), keepPrevious)
			assert.NoError(t, r.srv.PutSecretValue(r.acct, "db", []byte(fmt.Sprintf("db-v%d", n)), fmt.Sprintf("db-v%d", n)))
			rotations.Store(int64(n))
		}
	}()
	wg.Wait()
	close(stop)
	rwg.Wait()

	t.Logf("soak: %d KMS calls signed with the rotating key (slowest %v), %d cached reads, %d rotations of each secret, %d failures",
		calls.Load(), time.Duration(slowest.Load()).Round(time.Millisecond), reads.Load(), rotations.Load(), failures.Load())
	require.Zero(t, failures.Load(), "first failure: %v", firstErr.Load())
	assert.GreaterOrEqual(t, rotations.Load(), int64(minRotations))
	assert.Positive(t, calls.Load())
	select {
	case <-seen:
	default:
		t.Error("no rotation of db was seen")
	}
	// After the last rotation, the provider ends on the current key.
	_, err := r.target.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: r.keyID})
	require.NoError(t, err)
	if !keepPrevious {
		c, err := r.creds.Retrieve(ctx)
		require.NoError(t, err)
		r.mu.Lock()
		assert.Equal(t, r.app.AccessKeyID, c.AccessKeyID)
		r.mu.Unlock()
	}
}
