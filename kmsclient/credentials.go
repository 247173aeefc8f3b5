package kmsclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	sdkcred "github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
)

// Credentials is an Alibaba Cloud access key, optionally with an STS
// security token. Printed with fmt (any verb), slog, encoding/json or a
// TextMarshaler user, it shows the access key id only. Its fields are plain
// exported strings, so a Credentials held in an unexported field of another
// struct (which fmt prints field by field) is not protected: keep it in an
// exported field or behind a provider.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string // set for STS (assumed-role) credentials
}

// String returns the access key id and redacts everything else.
func (c Credentials) String() string {
	kind := "access key"
	if c.SecurityToken != "" {
		kind = "STS token"
	}
	return kind + " " + c.AccessKeyID + " (secret redacted)"
}

// GoString redacts like String, so %#v cannot leak the secret.
func (c Credentials) GoString() string { return c.String() }

// Format redacts like String for every fmt verb (%d, %x and the rest would
// otherwise print the fields).
func (c Credentials) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, c.String()) }

// LogValue redacts like String for log/slog.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON encodes the access key id only: the secret and the token are
// never serialised.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		AccessKeyID     string
		AccessKeySecret string `json:",omitempty"`
		SecurityToken   string `json:",omitempty"`
	}{AccessKeyID: c.AccessKeyID, AccessKeySecret: redactedIfSet(c.AccessKeySecret), SecurityToken: redactedIfSet(c.SecurityToken)})
}

// MarshalText redacts like String (for encoders that use TextMarshaler).
func (c Credentials) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

func redactedIfSet(s string) string {
	if s == "" {
		return ""
	}
	return "[REDACTED]"
}

// CredentialsProvider supplies the credentials that sign each request. It is
// called before every attempt and must be safe for concurrent use; providers
// that fetch credentials remotely should cache them until shortly before
// they expire.
type CredentialsProvider interface {
	Retrieve(ctx context.Context) (Credentials, error)
}

// CredentialsProviderFunc adapts a function to [CredentialsProvider].
type CredentialsProviderFunc func(ctx context.Context) (Credentials, error)

// Retrieve calls f(ctx).
func (f CredentialsProviderFunc) Retrieve(ctx context.Context) (Credentials, error) { return f(ctx) }

// StaticCredentials returns a provider of a fixed RAM user access key.
func StaticCredentials(accessKeyID, accessKeySecret string) CredentialsProvider {
	c := Credentials{AccessKeyID: accessKeyID, AccessKeySecret: accessKeySecret}
	return CredentialsProviderFunc(func(context.Context) (Credentials, error) { return c, nil })
}

// STSCredentials returns a provider of fixed STS credentials (for example
// from AssumeRole). They stop working when the token expires.
func STSCredentials(accessKeyID, accessKeySecret, securityToken string) CredentialsProvider {
	c := Credentials{AccessKeyID: accessKeyID, AccessKeySecret: accessKeySecret, SecurityToken: securityToken}
	return CredentialsProviderFunc(func(context.Context) (Credentials, error) { return c, nil })
}

// DefaultCredentials returns the default credentials chain,
// [CredentialsChain] with zero [ChainOptions]: the environment
// (ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET,
// ALIBABA_CLOUD_SECURITY_TOKEN), OIDC role assumption (RRSA), the aliyun CLI
// profile and the credentials file, the ECS RAM role from instance metadata
// (IMDSv2; disable with ALIBABA_CLOUD_ECS_METADATA_DISABLED=true) and
// ALIBABA_CLOUD_CREDENTIALS_URI, read through
// github.com/aliyun/credentials-go. A walk in which no source succeeds is
// repeated on the next call (the SDK's own chain stayed pinned to its last
// source).
func DefaultCredentials() CredentialsProvider {
	return CredentialsChain(ChainOptions{})
}

// ECSRAMRoleCredentials returns credentials of the RAM role attached to the
// ECS instance, from instance metadata (IMDSv2 session tokens, falling back
// to IMDSv1 unless ALIBABA_CLOUD_IMDSV1_DISABLED=true), renewed within three
// minutes of expiry. An empty roleName means ALIBABA_CLOUD_ECS_METADATA,
// else the role the metadata service names.
func ECSRAMRoleCredentials(roleName string) CredentialsProvider {
	return ecsRAMRole(roleName, chainHooks{})
}

// RAMRoleARNCredentials returns credentials for roleARN, assumed through STS
// with the access key from base, refreshed before they expire. A zero
// duration means the STS default (one hour). STS is reached at
// sts[-vpc].<region>.aliyuncs.com when ALIBABA_CLOUD_STS_REGION (and
// ALIBABA_CLOUD_VPC_ENDPOINT_ENABLED) say so, else sts.aliyuncs.com; use
// [AssumeRoleCredentials] to choose the endpoint.
func RAMRoleARNCredentials(base Credentials, roleARN, sessionName string, duration time.Duration) (CredentialsProvider, error) {
	basep := StaticCredentials(base.AccessKeyID, base.AccessKeySecret)
	if base.SecurityToken != "" {
		basep = STSCredentials(base.AccessKeyID, base.AccessKeySecret, base.SecurityToken)
	}
	p, err := AssumeRoleCredentials(basep, AssumeRoleOptions{RoleARN: roleARN, SessionName: sessionName, Duration: duration})
	if err != nil {
		return nil, errors.New("kmsclient: RAM role credentials: " + strings.TrimPrefix(err.Error(), "kmsclient: assume role: "))
	}
	return p, nil
}

// asyncProvider serialises a credentials fetch, whose sources keep
// unsynchronised state, and makes it honour the caller's context:
// credentials-go's GetCredentials takes none and may block on the network
// (STS, instance metadata) for many seconds. One fetch runs at a time, in
// its own goroutine; callers wait for it or for their context, whichever
// ends first.
type asyncProvider struct {
	fetch func() (Credentials, error)

	mu       sync.Mutex // guards inflight
	inflight *credCall
}

// credCall is one GetCredentials in progress.
type credCall struct {
	done chan struct{}
	c    Credentials
	err  error
}

func (s *asyncProvider) Retrieve(ctx context.Context) (Credentials, error) {
	if err := ctx.Err(); err != nil {
		return Credentials{}, err
	}
	s.mu.Lock()
	call := s.inflight
	if call == nil {
		call = &credCall{done: make(chan struct{})}
		s.inflight = call
		go s.refresh(call)
	}
	s.mu.Unlock()
	select {
	case <-call.done:
		return call.c, call.err
	case <-ctx.Done():
		return Credentials{}, ctx.Err()
	}
}

// refresh runs the fetch once and publishes the result.
func (s *asyncProvider) refresh(call *credCall) {
	defer func() {
		if recover() != nil { // the value may hold credentials: not reported
			call.c, call.err = Credentials{}, &CredentialsError{Err: errors.New("the credentials provider panicked")}
		}
		s.mu.Lock()
		s.inflight = nil
		s.mu.Unlock()
		close(call.done)
	}()
	c, err := s.fetch()
	var ce *CredentialsError
	switch {
	case errors.As(err, &ce):
		call.err = err // already sanitised
	case err != nil:
		call.err = &CredentialsError{Err: errors.New(credentialsErrorText(err))}
	case c.AccessKeyID == "":
		call.err = &CredentialsError{Err: errors.New("provider returned no access key")}
	default:
		call.c = c
	}
}

// credentialsErrorText is an SDK credentials error fit to report. Some
// quote the whole configuration they failed to use (a malformed
// ~/.aliyun/config.json, secret included); those are withheld.
func credentialsErrorText(err error) string {
	msg := err.Error()
	lower := strings.ToLower(msg)
	for _, tell := range []string{"access_key_secret", "accesskeysecret", "sts_token", "securitytoken", "{"} {
		if strings.Contains(lower, tell) {
			return "the credentials configuration could not be used (the SDK's message is withheld: it quotes the configuration)"
		}
	}
	return sanitizeText(msg)
}

// CredentialsError reports that no usable credentials could be obtained.
type CredentialsError struct{ Err error }

func (e *CredentialsError) Error() string { return "kmsclient: credentials: " + e.Err.Error() }
func (e *CredentialsError) Unwrap() error { return e.Err }

// signerCredentials adapts a CredentialsProvider to the SDK's interface for
// one call, carrying the call's context. It remembers the last error so the
// call can report it precisely instead of as an SDK string.
type signerCredentials struct {
	ctx  context.Context
	p    CredentialsProvider
	err  error
	used Credentials // the last credentials handed to the SDK
}

func (s *signerCredentials) GetCredentials() (*sdkcred.Credentials, error) {
	c, err := s.p.Retrieve(s.ctx)
	if err != nil {
		s.err = err
		return nil, err
	}
	if c.AccessKeyID == "" || c.AccessKeySecret == "" {
		s.err = &CredentialsError{Err: errors.New("access key id or secret is empty")}
		return nil, s.err
	}
	s.used = c
	return &sdkcred.Credentials{
		AccessKeyId:     c.AccessKeyID,
		AccessKeySecret: c.AccessKeySecret,
		SecurityToken:   c.SecurityToken,
		ProviderName:    "kmsenvelope",
	}, nil
}

func (s *signerCredentials) GetProviderName() string { return "kmsenvelope" }
