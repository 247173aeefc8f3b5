package secrets

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/kmsenvelope/kmsenvelope/kmsclient"
)

// RAMCredentials is a [kmsclient.CredentialsProvider] whose access key is
// the value of a RAM credential secret (a managed secret of SecretType
// "RAMCredentials" that KMS rotates), read through a secrets [Client]:
//
//	reader, _ := secrets.New(bootstrapKMS, secrets.Config{})  // e.g. an ECS role
//	creds := secrets.NewRAMCredentials(reader, "ram/app")
//	kc, _ := kmsclient.New(kmsclient.Config{Region: r, Credentials: creds})
//
// The secret's value is JSON holding AccessKeyId and AccessKeySecret (and
// GenerateTimestamp), as Alibaba documents for RAM credential secrets
// (https://www.alibabacloud.com/help/en/kms/key-management-service/user-guide/manage-and-use-ram-secrets);
// other fields are ignored. The value is cached and refreshed by the
// Client (give the secret a short [Policy] TTL, or rely on its
// NextRotationDate), so rotation is picked up without a KMS call per
// request.
//
// A rotation never fails a call in flight. It implements
// [kmsclient.RefreshableCredentials]: when a request signed with the key
// it handed out is refused as unauthenticated (the key was deleted or
// disabled by the rotation), the kmsclient asks it again; it re-reads the
// secret (one KMS call, shared by every call that was refused meanwhile)
// and the request is repeated at once with the new key. If the new key is
// refused in turn while the previous one is still known (a new key not
// yet propagated through RAM), it goes back to the previous key for
// [RAMCredentialsFallback] before trying the new one again.
type RAMCredentials struct {
	c    *Client
	name string

	mu            sync.Mutex  // guards the fields below
	refresh       *ramRefresh // the re-read of Rejected in progress, if any
	cur, prev     *ramKey
	fallbackUntil time.Time
	stuck         string    // the access key id a re-read in Rejected found still current
	stuckAt       time.Time // when
}

// RAMCredentialsFallback is how long [RAMCredentials] signs with the
// previous access key after the new one was refused.
const RAMCredentialsFallback = 30 * time.Second

// ramKey is one parsed version of the secret.
type ramKey struct {
	version   string
	fetchedAt time.Time
	creds     kmsclient.Credentials
}

// ErrInvalidRAMCredentials is what the error of a RAM credential secret
// whose value is not the expected JSON unwraps to.
var ErrInvalidRAMCredentials = errors.New("secrets: not a RAM credential secret value")

// NewRAMCredentials returns a provider of the access key kept in secret
// name, read through c (which must outlive it).
func NewRAMCredentials(c *Client, name string) *RAMCredentials {
	return &RAMCredentials{c: c, name: name}
}

// Retrieve returns the current access key, reading the secret through the
// Client's cache.
func (p *RAMCredentials) Retrieve(ctx context.Context) (kmsclient.Credentials, error) {
	v, err := p.c.Get(ctx, p.name)
	if err != nil {
		return kmsclient.Credentials{}, &kmsclient.CredentialsError{Err: err}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.adoptLocked(v); err != nil {
		return kmsclient.Credentials{}, &kmsclient.CredentialsError{Err: err}
	}
	if p.prev != nil && p.c.cfg.Now().Before(p.fallbackUntil) {
		return p.prev.creds, nil
	}
	return p.cur.creds, nil
}

// adoptLocked makes v the current key if it is a version not seen yet.
func (p *RAMCredentials) adoptLocked(v *Value) error {
	if p.cur != nil && (p.cur.version == v.VersionID() || v.FetchedAt().Before(p.cur.fetchedAt)) {
		// The same version, or an older read that lost a race with a
		// refresh: never go back to a key already replaced.
		return nil
	}
	k, err := parseRAMKey(v)
	if err != nil {
		return err
	}
	if p.cur != nil && p.cur.creds.AccessKeyID != k.creds.AccessKeyID {
		p.prev = p.cur
	}
	p.cur, p.fallbackUntil = k, time.Time{}
	return nil
}

func parseRAMKey(v *Value) (*ramKey, error) {
	var doc struct {
		AccessKeyID     string `json:"AccessKeyId"`
		AccessKeySecret string `json:"AccessKeySecret"`
	}
	if err := v.JSON(&doc); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidRAMCredentials, v.Name(), err)
	}
	if doc.AccessKeyID == "" || doc.AccessKeySecret == "" {
		return nil, fmt.Errorf("%w: %s: AccessKeyId and AccessKeySecret are required", ErrInvalidRAMCredentials, v.Name())
	}
	return &ramKey{version: v.VersionID(), fetchedAt: v.FetchedAt(), creds: kmsclient.Credentials{AccessKeyID: doc.AccessKeyID, AccessKeySecret: doc.AccessKeySecret}}, nil
}

// Rejected is called by the kmsclient when a request signed with rejected
// was refused as unauthenticated; it reports whether Retrieve now returns
// another key (see [kmsclient.RefreshableCredentials]).
func (p *RAMCredentials) Rejected(ctx context.Context, rejected kmsclient.Credentials) bool {
	if ok, decided := p.decide(rejected.AccessKeyID); decided {
		return ok
	}
	// The current key was refused: read the secret again, once for every
	// call refused meanwhile (they share the re-read, then see the new
	// key), without holding up Retrieve. The re-read is detached from the
	// callers' contexts (bounded by 30s and by Close); each caller stops
	// waiting when its own ctx is done, and then reports no new key.
	p.mu.Lock()
	f := p.refresh
	if f == nil {
		f = &ramRefresh{done: make(chan struct{}), rejected: rejected.AccessKeyID}
		p.refresh = f
		go p.reread(context.WithoutCancel(ctx), f, rejected.AccessKeyID)
	}
	p.mu.Unlock()
	select {
	case <-f.done:
	case <-ctx.Done():
		return false
	}
	if ok, decided := p.decide(rejected.AccessKeyID); decided || f.rejected != rejected.AccessKeyID {
		return ok
	}
	return f.ok
}

// ramRefresh is a re-read of the secret shared by the Rejected calls
// waiting for it.
type ramRefresh struct {
	done     chan struct{}
	rejected string // the access key id whose refusal started it
	ok       bool   // set before done is closed: Rejected's answer for rejected
}

// reread reads the secret again after rejected was refused, adopts a new
// key or falls back to the previous one, and completes f.
func (p *RAMCredentials) reread(ctx context.Context, f *ramRefresh, rejected string) {
	defer func() {
		p.mu.Lock()
		if p.refresh == f {
			p.refresh = nil
		}
		p.mu.Unlock()
		close(f.done)
	}()
	if ok, decided := p.decide(rejected); decided {
		f.ok = ok
		return
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	f.ok = p.rereadOnce(ctx, kmsclient.Credentials{AccessKeyID: rejected})
}

// rereadOnce is the re-read of reread; see Rejected.
func (p *RAMCredentials) rereadOnce(ctx context.Context, rejected kmsclient.Credentials) bool {
	v, err := p.c.RefreshNow(ctx, p.name)
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.c.cfg.Now()
	if err == nil {
		if k, perr := parseRAMKey(v); perr == nil && k.creds.AccessKeyID != rejected.AccessKeyID {
			_ = p.adoptLocked(v)
			return p.cur.creds.AccessKeyID != rejected.AccessKeyID
		}
	}
	// The secret still holds the refused key (or cannot be read): calls
	// refused meanwhile do not each read it again, and the previous key,
	// if any, signs for a while (a new key not yet propagated).
	p.stuck, p.stuckAt = rejected.AccessKeyID, now
	return p.fallBackLocked(rejected.AccessKeyID, now)
}

// decide answers Rejected without reading the secret when it can.
func (p *RAMCredentials) decide(rejected string) (ok, decided bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.c.cfg.Now()
	fallback := p.prev != nil && now.Before(p.fallbackUntil)
	switch {
	case p.cur == nil:
		return false, true
	case p.prev != nil && rejected == p.prev.creds.AccessKeyID:
		// The previous key is gone for good: the current one signs.
		p.prev, p.fallbackUntil = nil, time.Time{}
		return true, true
	case rejected != p.cur.creds.AccessKeyID:
		return true, true // a newer key was adopted meanwhile
	case fallback:
		return true, true // the previous key signs for now
	case rejected == p.stuck && now.Sub(p.stuckAt) < time.Second:
		// Just read again and still this key.
		return p.fallBackLocked(rejected, now), true
	}
	return false, false
}

// fallBackLocked makes the previous key sign for RAMCredentialsFallback,
// if there is one other than rejected; it reports whether there is.
func (p *RAMCredentials) fallBackLocked(rejected string, now time.Time) bool {
	if p.prev == nil || p.prev.creds.AccessKeyID == rejected {
		return false
	}
	if !now.Before(p.fallbackUntil) {
		p.fallbackUntil = now.Add(RAMCredentialsFallback)
	}
	return true
}
