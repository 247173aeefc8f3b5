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
//	creds := secrets.NewRAMCredentials(reader, "acs/ram/user/app")
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

	mu            sync.Mutex // guards the fields below; held across the re-read in Rejected
	cur, prev     *ramKey
	fallbackUntil time.Time
	lastRefresh   time.Time // of the last re-read in Rejected
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
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.c.cfg.Now()
	switch {
	case p.cur == nil:
		return false
	case p.prev != nil && rejected.AccessKeyID == p.prev.creds.AccessKeyID:
		// The previous key is gone for good: use the current one.
		p.fallbackUntil = time.Time{}
		p.prev = nil
		return true
	case rejected.AccessKeyID != p.cur.creds.AccessKeyID:
		return true // a newer key was adopted meanwhile
	case p.prev != nil && now.Before(p.fallbackUntil):
		return true // signing with the previous key for now
	case now.Sub(p.lastRefresh) < time.Second:
		return false // just read again and unchanged: the key is refused for good
	}
	// The current key was refused: read the secret again (once for every
	// call refused meanwhile: they wait on p.mu and then see the new key).
	v, err := p.c.RefreshNow(ctx, p.name)
	p.lastRefresh = now
	if err == nil {
		old := p.cur
		if err := p.adoptLocked(v); err == nil && p.cur != old {
			return true
		}
	}
	if p.prev != nil && !now.Before(p.fallbackUntil) {
		p.fallbackUntil = now.Add(RAMCredentialsFallback)
		return true
	}
	return false
}
