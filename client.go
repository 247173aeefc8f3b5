package kmsenvelope

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kmsenvelope/kmsenvelope/envelope"
	"github.com/kmsenvelope/kmsenvelope/internal/guard"
	"github.com/kmsenvelope/kmsenvelope/keycache"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/localauthz"
	"github.com/kmsenvelope/kmsenvelope/otelkms"
	"github.com/kmsenvelope/kmsenvelope/secrets"
)

// PolicyMode says what the Client does with a KMS call that its policy set
// does not allow.
type PolicyMode int

// Policy modes.
const (
	// PolicyOff checks nothing locally; KMS decides.
	PolicyOff PolicyMode = iota
	// PolicyWarn logs the preflight report of a call the policies do not
	// allow, then makes the call.
	PolicyWarn
	// PolicyEnforce refuses such a call before any request leaves the
	// process, with an error carrying the preflight report.
	PolicyEnforce
)

func (m PolicyMode) String() string {
	switch m {
	case PolicyOff, PolicyWarn, PolicyEnforce:
		return guard.Mode(m).String()
	}
	return "PolicyMode(" + strconv.Itoa(int(m)) + ")"
}

// Policy is a policy document the Client checks calls against.
type Policy struct {
	// Kind is localauthz.RAMPolicy, KeyPolicy or SecretPolicy.
	Kind localauthz.PolicyKind
	// Target is, for a RAM policy, the user or role ARN it is attached to
	// ("" means the caller); for a key or secret policy, the key or secret
	// ARN.
	Target string
	// Name identifies the policy in reports (e.g. its file name).
	Name     string
	Document []byte
}

// Config configures a [Client]. Zero values are safe defaults; a Config
// must not be modified after New.
type Config struct {
	// Region is the KMS region, e.g. "cn-hangzhou". Required.
	Region string
	// Endpoint, Credentials and RootCAs are as in kmsclient.Config: the
	// public regional endpoint over HTTPS, and the SDK's default credential
	// chain (ALIBABA_CLOUD_* variables, RAM role, ...), when empty.
	// Endpoint may be a KMS 3.0 instance gateway
	// ("<instance-id>.cryptoservice.kms.aliyuncs.com", RootCAs its private
	// CA): Encrypt, Decrypt, streams and Secret need nothing else.
	// ManagementEndpoint (kmsclient.Config.ManagementEndpoint) is the shared
	// gateway for what the instance gateway does not serve: the key and
	// secret facts New learns, live policies, Preflight's DescribeKey, and
	// Rewrap's ReEncrypt (without it Rewrap decrypts and re-encrypts the
	// data key instead).
	ManagementEndpoint string
	Endpoint           string
	Credentials        kmsclient.CredentialsProvider
	RootCAs            *x509.CertPool
	// KMS adjusts the kmsclient.Config further (retries, timeouts, logger,
	// observer) before the client is built.
	KMS func(*kmsclient.Config)

	// KeyID is the KMS key (id, ARN or "alias/<name>") that wraps data keys
	// for Encrypt. Required for Encrypt and NewWriter.
	KeyID string
	// Suite is the algorithm suite of messages Encrypt writes: zero is
	// envelope.SuiteAES256GCMHKDFCommit; envelope.SuiteSM4GCMHKDFSM3Commit
	// gives SM4-GCM with HKDF-SM3 for GM/T compliance. Decryption reads
	// both.
	Suite envelope.Suite
	// EncryptionContext binds the Client, say to a tenant: it is added to
	// every Encrypt's and NewWriter's context (a call may add pairs, but
	// giving a configured key another value fails with
	// envelope.ErrContextConflict), and it is required of every message
	// Decrypt, NewReader, Rewrap and RewrapStream accept, whatever options
	// the caller passes (it becomes envelope.Config.RequiredContext, which
	// options only add to). So a Client bound to {"tenant": "acme"} never
	// decrypts another tenant's message.
	EncryptionContext map[string]string
	// Envelope adjusts the envelope configuration (frame size, extra
	// wrapping keys, AllowedKeys, Discovery, ...). Keys[0] is KeyID. Key
	// trust is strict by default: only messages under Keys and AllowedKeys
	// decrypt (see envelope.Config.AllowedKeys). EncryptionContext stays
	// required whatever this function does to RequiredContext.
	Envelope func(*envelope.Config)
	// Cache bounds the data-key cache.
	Cache keycache.Config

	// Secrets configures the secrets cache; SecretNames are the secrets the
	// application reads. Declaring them lets New learn which key encrypts
	// each (for local policy checks) and lets Preflight check them.
	Secrets     secrets.Config
	SecretNames []string

	// PolicyMode selects local policy checking; PolicyOff by default.
	PolicyMode PolicyMode
	// Policies is the policy set to check against. With LivePolicies, the
	// caller's RAM policies and the key's and secrets' policies are fetched
	// at New instead (needs ram:ListPoliciesFor*, ram:GetPolicy and
	// kms:GetKeyPolicy/GetSecretPolicy; see Preflight).
	Policies     []Policy
	LivePolicies bool
	// PolicyRefresh is how often live policies are read again (jittered by
	// ±10%), so that a grant or revocation reaches the local check. They are
	// also read again, one refresh at a time, when KMS decides a call
	// differently from the local check. Zero means DefaultPolicyRefresh (5
	// minutes); negative refreshes only on such disagreements. A failed
	// refresh keeps the last good set and is reported in Stats.Policies and
	// the Logger.
	PolicyRefresh time.Duration
	// MaxPolicyAge bounds how old a live policy set Enforce acts on: beyond
	// it (say, RAM unreachable for long), a call the set does not allow is
	// sent to KMS, which decides, and counted in
	// Stats.Policies.StaleDeferrals, instead of being refused on old
	// knowledge. Zero means 3 × PolicyRefresh (none when PolicyRefresh is
	// negative).
	MaxPolicyAge time.Duration
	// RequestFacts are the request condition keys (acs:SourceIp,
	// acs:SourceVpc, ...) KMS sees on this Client's calls, for local
	// checks; a decision that hinges on a key not known is Conditional.
	RequestFacts RequestFacts
	// StrictConditions makes Enforce refuse a call whose local decision is
	// Conditional (hinges on a request key the Client does not know),
	// instead of sending it to KMS to decide. Such calls are counted in
	// Stats.Policies.ConditionalCalls either way.
	StrictConditions bool
	// Principal is the caller's ARN; when empty and a policy mode or
	// LivePolicies needs it, New asks STS (GetCallerIdentity).
	Principal string

	// Logger receives warnings (PolicyWarn reports, stale secrets); nil
	// discards them.
	Logger *slog.Logger
}

// Client is the kmsenvelope SDK in one value: envelope encryption with a
// data-key cache, secrets, and local policy checks in front of every KMS
// call. It is safe for concurrent use. Close it when done.
type Client struct {
	kmsStats *kmsCounters
	cfg      Config
	kms      *kmsclient.Client
	guard    *guard.Guard
	env      *envelope.Client
	secrets  *secrets.Client
	cache    *keycache.Cache
	state    *policyState
	refresh  *refresher // nil without live policies
}

// New builds a Client. It talks to KMS (and STS/RAM) only when it must:
// to learn the caller or fetch live policies, and to resolve the facts
// local checks need (the key's ARN, the keys that encrypt the declared
// secrets).
func New(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	kcfg := kmsclient.Config{Region: cfg.Region, Endpoint: cfg.Endpoint, ManagementEndpoint: cfg.ManagementEndpoint,
		Credentials: cfg.Credentials, RootCAs: cfg.RootCAs, Logger: cfg.Logger}
	if cfg.KMS != nil {
		cfg.KMS(&kcfg)
	}
	// Spans and metrics through the OpenTelemetry API: no-ops until the
	// program installs a provider (otelkms).
	if kcfg.Tracer == nil {
		kcfg.Tracer = otelkms.NewTracer(otelkms.Options{})
	}
	counters := &kmsCounters{}
	if user := kcfg.Observer; user != nil {
		kcfg.Observer = func(info kmsclient.CallInfo) { counters.observe(info); user(info) }
	} else {
		kcfg.Observer = counters.observe
	}
	kc, err := kmsclient.New(kcfg)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, kms: kc, kmsStats: counters}
	if c.state, err = c.loadPolicies(ctx); err != nil {
		return nil, err
	}
	declaredKeys, declaredSecrets := cfg.declared()
	gcfg := guard.Config{
		Mode: guard.Mode(cfg.PolicyMode), Principal: c.state.principal, Account: c.state.account, Policies: c.state.set,
		Facts: c.state.facts, Context: c.state.context, Logger: cfg.Logger,
		DeclaredKeys: declaredKeys, DeclaredSecrets: declaredSecrets, StrictConditions: cfg.StrictConditions,
	}
	if cfg.LivePolicies && c.state.liveErr == nil && c.state.set != nil {
		c.refresh = newRefresher(c, time.Now())
		gcfg.OnDisagreement, gcfg.Stale = c.refresh.disagreement, c.refresh.stale
	}
	if c.guard, err = guard.New(kc, gcfg); err != nil {
		return nil, err
	}
	kcc := cfg.Cache
	onKC, userKC := otelkms.KeyCacheEvents(otelkms.Options{}), kcc.OnEvent
	kcc.OnEvent = func(ev keycache.Event) {
		onKC(ev)
		if userKC != nil {
			userKC(ev)
		}
	}
	if c.cache, err = keycache.New(kcc); err != nil {
		return nil, err
	}
	if cfg.KeyID != "" {
		// The key's ARN, when New learned it, lets decryption trust an alias
		// with no management call (a KMS instance gateway serves none).
		wk := envelope.WrappingKey{KeyID: cfg.KeyID, KMS: c.guard, ARN: c.state.keyARN}
		ecfg := envelope.Config{Keys: []envelope.WrappingKey{wk}, Cache: c.cache, Account: c.state.account, Suite: cfg.Suite}
		if cfg.Envelope != nil {
			cfg.Envelope(&ecfg)
		}
		if ecfg.RequiredContext, err = bind(ecfg.RequiredContext, cfg.EncryptionContext); err != nil {
			return nil, fmt.Errorf("kmsenvelope: Config.Envelope set RequiredContext against Config.EncryptionContext: %w", err)
		}
		if c.env, err = envelope.New(ecfg); err != nil {
			return nil, err
		}
	}
	scfg := cfg.Secrets
	if scfg.Explain == nil {
		scfg.Explain = c.explain
	}
	if scfg.Logger == nil {
		scfg.Logger = cfg.Logger
	}
	onS, userS := otelkms.SecretsEvents(otelkms.Options{}), scfg.OnEvent
	scfg.OnEvent = func(ev secrets.Event) {
		onS(ev)
		if userS != nil {
			userS(ev)
		}
	}
	if c.secrets, err = secrets.New(c.guard, scfg); err != nil {
		return nil, err
	}
	if c.refresh != nil {
		c.refresh.start()
	}
	return c, nil
}

// ErrClosed is returned by every KMS-backed call after [Client.Close].
var ErrClosed = guard.ErrClosed

// Close shuts the Client down: it refuses new KMS calls, wipes cached data
// keys, cancels the data-key and secret fetches in flight (instead of
// letting them run out their 30-second timeout), stops the secret refresh,
// waits for the goroutines it started, and closes idle HTTP connections.
// Every later call that would reach KMS fails at once, without a request,
// with an error for which errors.Is(err, [ErrClosed]) holds: Encrypt,
// Decrypt, Rewrap, streams (their next KMS call), Secret, and calls through
// [Client.Envelope], [Client.Secrets] (Get, Prefetch, RefreshNow) and
// [Client.KMS]. secrets.ErrClosed and kmsclient.ErrClosed are the same
// value as ErrClosed. Close is idempotent and returns nil.
func (c *Client) Close() error {
	if c.refresh != nil {
		c.refresh.stop() // no policy refresh after Close
	}
	c.guard.Close()                   // no new KMS call through the policy check
	c.cache.CloseWithError(ErrClosed) // wipe data keys; cancel their fetches
	err := c.secrets.Close()          // cancel secret fetches, stop the refresher, wait
	c.kms.Close()                     // cancel what is left, wait, close idle connections
	return err
}

// ErrNoKey is returned by the envelope methods (Encrypt, Decrypt, streams,
// Rewrap) of a Client built without Config.KeyID.
var ErrNoKey = errors.New("kmsenvelope: Config.KeyID is not set: no key to encrypt or decrypt with")

// bind returns ec with every pair of bound added; a key of bound that ec
// gives another value is a conflict. ec itself is never written.
func bind(ec, bound map[string]string) (map[string]string, error) {
	if len(bound) == 0 {
		return ec, nil
	}
	if len(ec) == 0 {
		return bound, nil
	}
	out := maps.Clone(ec)
	for k, v := range bound {
		if have, ok := out[k]; ok && have != v {
			return nil, fmt.Errorf("kmsenvelope: encryption context key %q is bound by Config.EncryptionContext to another value: %w", k, envelope.ErrContextConflict)
		}
		out[k] = v
	}
	return out, nil
}

// Encrypt encrypts plaintext into an envelope message bound to the
// Client's configured encryption context plus ec; ec may add pairs but not
// change a configured one (envelope.ErrContextConflict).
func (c *Client) Encrypt(ctx context.Context, plaintext []byte, ec map[string]string) ([]byte, error) {
	if c.env == nil {
		return nil, ErrNoKey
	}
	full, err := bind(ec, c.cfg.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return c.env.Encrypt(ctx, plaintext, full)
}

// Decrypt decrypts a message. The Client's configured encryption context is
// always required; options (envelope.RequireContext, envelope.RequireKeys)
// add requirements and never remove one.
func (c *Client) Decrypt(ctx context.Context, msg []byte, opts ...envelope.DecryptOption) ([]byte, error) {
	if c.env == nil {
		return nil, ErrNoKey
	}
	return c.env.Decrypt(ctx, msg, opts...)
}

// Rewrap moves a message to the KMS key newKeyID; see envelope.Client.Rewrap.
// It accepts only what Decrypt accepts: the configured encryption context
// is required, and options add to it.
func (c *Client) Rewrap(ctx context.Context, msg []byte, newKeyID string, opts ...envelope.DecryptOption) ([]byte, error) {
	if c.env == nil {
		return nil, ErrNoKey
	}
	return c.env.Rewrap(ctx, msg, newKeyID, opts...)
}

// RewrapStream is Rewrap for a stream; see envelope.Client.RewrapStream.
func (c *Client) RewrapStream(ctx context.Context, dst io.Writer, src io.Reader, newKeyID string, opts ...envelope.DecryptOption) (int64, error) {
	if c.env == nil {
		return 0, ErrNoKey
	}
	return c.env.RewrapStream(ctx, dst, src, newKeyID, opts...)
}

// NewWriter encrypts a stream; see envelope.Client.NewWriter.
func (c *Client) NewWriter(ctx context.Context, dst io.Writer, ec map[string]string) (io.WriteCloser, error) {
	if c.env == nil {
		return nil, ErrNoKey
	}
	full, err := bind(ec, c.cfg.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return c.env.NewWriter(ctx, dst, full)
}

// NewReader decrypts a stream; see envelope.Client.NewReader.
func (c *Client) NewReader(ctx context.Context, src io.Reader, opts ...envelope.DecryptOption) (io.Reader, error) {
	if c.env == nil {
		return nil, ErrNoKey
	}
	return c.env.NewReader(ctx, src, opts...)
}

// Envelope returns the envelope client (for AppendEncrypt and
// AppendDecrypt), or nil when Config.KeyID is not set. It requires the
// configured encryption context on every decryption too (it is its
// RequiredContext); Encrypt through it does not add the context for you.
func (c *Client) Envelope() *envelope.Client { return c.env }

// Secrets returns the secrets client.
func (c *Client) Secrets() *secrets.Client { return c.secrets }

// Secret returns the current value of a secret; see secrets.Client.Get.
func (c *Client) Secret(ctx context.Context, name string, opts ...secrets.GetOption) (*secrets.Value, error) {
	return c.secrets.Get(ctx, name, opts...)
}

// KMS returns the underlying KMS client, which bypasses local policy checks.
func (c *Client) KMS() *kmsclient.Client { return c.kms }

// Principal returns the caller's ARN, if known.
func (c *Client) Principal() string { return c.state.principal }

// Stats is a snapshot of the Client's caches and KMS use.
type Stats struct {
	DataKeys keycache.Stats
	Secrets  secrets.Stats
	KMS      KMSStats
	// Policies describes the policy set local checks use and its refresh.
	Policies PolicyStats
	// Calls are the KMS operations made through the policy check (or
	// refused by it), by resource, most frequent first.
	Calls []CallCount
}

// KMSStats counts the requests kmsclient made (STS and RAM included).
type KMSStats struct {
	Calls     uint64 // completed client calls
	Attempts  uint64 // HTTP attempts, retries included
	Errors    uint64 // calls that ended in an error
	Throttled uint64 // calls whose last answer was throttling
}

// CallCount is how often one operation was called on one resource.
type CallCount struct {
	Operation, Resource string
	Count               int
}

// Stats returns the current counters.
//
// Stats.Calls is bounded whatever the input: resources come from message
// headers (the key ARN a message names) and from secret names callers pass,
// so one entry per distinct resource would let crafted input grow it
// without end. Calls on the Client's own resources (Config.KeyID and its
// alias target, the Config.SecretNames, the keys that encrypt them) are
// counted exactly, each in its own entry. Calls on other resources share
// at most 256 entries, those with the highest counts; a resource displaced
// from them is counted, per operation, in an entry with an empty Resource
// ("other"), so the counts of Calls add up to every call made.
// [Client.LeastPrivilegePolicy] reads the same entries: it covers the
// resources listed, not those counted as other.
func (c *Client) Stats() Stats {
	st := Stats{DataKeys: c.cache.Stats(), Secrets: c.secrets.Stats(), KMS: KMSStats{
		Calls: c.kmsStats.calls.Load(), Attempts: c.kmsStats.attempts.Load(),
		Errors: c.kmsStats.errors.Load(), Throttled: c.kmsStats.throttled.Load(),
	}}
	for _, call := range c.guard.Calls() {
		st.Calls = append(st.Calls, CallCount{Operation: call.Operation, Resource: call.Resource, Count: call.Count})
	}
	for op, n := range c.guard.OtherCalls() {
		st.Calls = append(st.Calls, CallCount{Operation: op, Count: n})
	}
	sortCallCounts(st.Calls)
	st.Policies = PolicyStats{Source: c.state.source, Disagreements: c.guard.Disagreements(),
		StaleDeferrals: c.guard.StaleDeferrals(), ConditionalCalls: c.guard.ConditionalCalls()}
	if c.refresh != nil {
		c.refresh.stats(&st.Policies)
	}
	return st
}

// kmsCounters are fed by kmsclient's observer.
type kmsCounters struct {
	calls, attempts, errors, throttled atomic.Uint64
}

func (k *kmsCounters) observe(info kmsclient.CallInfo) {
	k.calls.Add(1)
	k.attempts.Add(uint64(info.Attempts))
	if info.Err != nil {
		k.errors.Add(1)
		if errors.Is(info.Err, kmsclient.ErrThrottled) {
			k.throttled.Add(1)
		}
	}
}

// explain turns a secret fetch error into preflight words: which action on
// which resource is missing, and why it is needed.
func (c *Client) explain(name string, err error) error {
	var de *guard.DeniedError
	if errors.As(err, &de) {
		return err // already in preflight words
	}
	var ae *kmsclient.APIError
	if !errors.As(err, &ae) || ae.AccessDenied == nil {
		return err
	}
	action := ae.AccessDenied.Action
	resource := "the secret"
	why := ""
	if strings.EqualFold(action, "kms:Decrypt") {
		if key := c.state.facts.SecretKeys[name]; key != "" {
			resource, why = key, " (the secret is encrypted with this self-managed key)"
		} else {
			resource = "the secret's encryption key"
		}
	} else if c.state.account != "" {
		resource = "acs:kms:" + c.cfg.Region + ":" + c.state.account + ":secret/" + name
	}
	return fmt.Errorf("missing %s on %s%s: %w", action, resource, why, err)
}
