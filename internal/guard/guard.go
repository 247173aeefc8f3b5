// Package guard authorizes KMS calls locally, with localauthz, before they
// reach kmsclient. It implements the small interfaces envelope and secrets
// depend on, so either can be given a Guard instead of a raw client.
//
// In Enforce mode a call that the configured policies do not allow fails
// with a *DeniedError carrying the preflight report, and no request leaves
// the process. In Warn mode the report is logged and the call proceeds. In
// Off mode nothing is checked. Every mode records the calls made, for
// least-privilege policy generation, in memory bounded whatever resources
// the calls name (see [Guard.Calls]).
package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kmsenvelope/kmsenvelope/internal/safetext"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// Mode says what a Guard does with a call the policies do not allow.
type Mode int

// Modes.
const (
	Off     Mode = iota // check nothing
	Warn                // log the report, make the call
	Enforce             // refuse the call locally
)

func (m Mode) String() string {
	switch m {
	case Off:
		return "off"
	case Warn:
		return "warn"
	case Enforce:
		return "enforce"
	}
	return "mode(" + fmt.Sprint(int(m)) + ")"
}

// KMS is the client a Guard wraps; *kmsclient.Client satisfies it.
type KMS interface {
	GenerateDataKey(ctx context.Context, in *kmsclient.GenerateDataKeyInput) (*kmsclient.GenerateDataKeyOutput, error)
	Encrypt(ctx context.Context, in *kmsclient.EncryptInput) (*kmsclient.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kmsclient.DecryptInput) (*kmsclient.DecryptOutput, error)
	ReEncrypt(ctx context.Context, in *kmsclient.ReEncryptInput) (*kmsclient.EncryptOutput, error)
	DescribeKey(ctx context.Context, keyID string) (*kmsclient.KeyMetadata, error)
	GetSecretValue(ctx context.Context, in *kmsclient.GetSecretValueInput) (*kmsclient.SecretValue, error)
	Region() string
}

// Facts tell the Guard what it cannot see in a request: which key an alias
// names, which key encrypts a secret, which keys are in a KMS instance.
type Facts struct {
	// Aliases maps "alias/<name>" to the key id or ARN it points to.
	Aliases map[string]string
	// SecretKeys maps a secret name to the ARN of the self-managed key that
	// encrypts it; a secret absent here is taken as encrypted with the
	// service-managed key.
	SecretKeys map[string]string
	// InstanceKeys lists key ARNs that are in a KMS instance (their key
	// policies apply).
	InstanceKeys map[string]bool
	// Tags maps a resource ARN to its tags, for kms:tag conditions.
	Tags map[string]map[string]string
}

// Config configures a Guard.
type Config struct {
	Mode Mode
	// Principal is the caller's ARN, as localauthz expects it.
	Principal string
	// Account is the account that owns keys and secrets named by id; it
	// defaults to the Principal's account.
	Account string
	// Policies are the policies to check against; required unless Mode is
	// Off.
	Policies *localauthz.PolicySet
	Facts    Facts
	// Context holds condition keys every request presents (acs:SourceIp,
	// acs:SecureTransport, ...).
	Context localauthz.Context
	Logger  *slog.Logger

	// DeclaredKeys (ids, ARNs or aliases) and DeclaredSecrets (names or
	// ARNs) are the resources the owner uses: calls on them are recorded
	// exactly, each in its own entry, as are calls on every resource named
	// in Facts. Calls on other resources, which may come from untrusted
	// input (a message header's key ARN, a secret name from a request),
	// share at most MaxCalls entries (see [Guard.Calls]).
	DeclaredKeys, DeclaredSecrets []string
	// MaxCalls bounds the entries recorded for undeclared resources. Zero
	// means DefaultMaxCalls (256); negative records none of them (their
	// calls are only counted, per operation, in [Guard.OtherCalls]).
	MaxCalls int

	// OnDisagreement, if set, is called (without locks held, on the
	// caller's goroutine) when KMS decides a call differently from the
	// local check: it denies a call the policies allowed, or allows one
	// they did not (sent in Warn mode, or because the set was stale). The
	// owner refreshes its policies then. It must not block.
	OnDisagreement func(operation string)
	// Stale, if set, reports whether the policy set is older than its
	// owner trusts. In Enforce mode a call the stale set does not allow is
	// then sent to KMS, which decides, instead of being refused locally;
	// each such call is counted ([Guard.StaleDeferrals]) and logged.
	Stale func() bool
	// StrictConditions makes Enforce refuse a call whose local decision is
	// Conditional (it hinges on a request condition key the Context marks
	// unknown), instead of sending it to KMS to decide. Either way such
	// calls are counted ([Guard.ConditionalCalls]).
	StrictConditions bool
}

// Guard is a KMS client that checks each call against policies first. It is
// safe for concurrent use.
type Guard struct {
	next KMS
	cfg  Config

	mu    sync.Mutex // guards calls
	calls *callTable

	policies       atomic.Pointer[localauthz.PolicySet] // cfg.Policies, then SetPolicies
	disagreements  atomic.Uint64
	staleDeferrals atomic.Uint64
	conditional    atomic.Uint64
	closed         atomic.Bool
}

// SetPolicies replaces the policy set later calls are checked against (a
// refresh of live policies). nil is ignored: a Guard never loses its set.
func (g *Guard) SetPolicies(set *localauthz.PolicySet) {
	if set != nil {
		g.policies.Store(set)
	}
}

// Disagreements counts calls KMS decided differently from the local check.
func (g *Guard) Disagreements() uint64 { return g.disagreements.Load() }

// ConditionalCalls counts calls whose local decision was Conditional: sent
// to KMS to decide, or refused under StrictConditions.
func (g *Guard) ConditionalCalls() uint64 { return g.conditional.Load() }

// StaleDeferrals counts calls a stale policy set did not allow that were
// sent to KMS to decide (see Config.Stale).
func (g *Guard) StaleDeferrals() uint64 { return g.staleDeferrals.Load() }

// ErrClosed is returned for every call after [Guard.Close]. It is
// kmsclient.ErrClosed, the module's one "closed" sentinel.
var ErrClosed = kmsclient.ErrClosed

// Close makes every later call fail with ErrClosed, so that nothing can
// fetch (and cache) a data key or secret after its owner has shut down. It
// does not close the wrapped client.
func (g *Guard) Close() { g.closed.Store(true) }

// Closed reports whether Close has been called.
func (g *Guard) Closed() bool { return g.closed.Load() }

// Call is one (operation, resource) a Guard saw, for least-privilege reports.
type Call struct {
	Operation string
	Resource  string
}

// New returns a Guard in front of next.
func New(next KMS, cfg Config) (*Guard, error) {
	if next == nil {
		return nil, errors.New("guard: nil KMS client")
	}
	if cfg.Mode != Off && cfg.Policies == nil {
		return nil, errors.New("guard: policies are required in " + cfg.Mode.String() + " mode")
	}
	if cfg.Account == "" {
		cfg.Account = AccountOf(cfg.Principal)
	}
	if cfg.Mode != Off && cfg.Account == "" {
		return nil, fmt.Errorf("guard: cannot tell the account from principal %q; set Account", cfg.Principal)
	}
	if cfg.MaxCalls == 0 {
		cfg.MaxCalls = DefaultMaxCalls
	}
	g := &Guard{next: next, cfg: cfg}
	g.policies.Store(cfg.Policies)
	g.calls = newCallTable(g.declared(), cfg.MaxCalls)
	return g, nil
}

// declared returns the resources whose calls are recorded exactly: the
// declared keys and secrets, and every resource the facts name.
func (g *Guard) declared() map[string]bool {
	d := map[string]bool{}
	key := func(k string) {
		if k != "" {
			res, facts := g.keyResource(k)
			d[res] = true
			if facts.AliasTargetKey != "" {
				d[facts.AliasTargetKey] = true
			}
		}
	}
	for _, k := range g.cfg.DeclaredKeys {
		key(k)
	}
	for _, s := range g.cfg.DeclaredSecrets {
		d[g.secretARN(secretName(s))] = true
	}
	for alias, target := range g.cfg.Facts.Aliases {
		key(alias)
		key(target)
	}
	for name, k := range g.cfg.Facts.SecretKeys {
		d[g.secretARN(secretName(name))] = true
		key(k)
	}
	for k := range g.cfg.Facts.InstanceKeys {
		key(k)
	}
	return d
}

// secretName strips the ARN prefix of a secret named by ARN.
func secretName(name string) string {
	if i := strings.Index(name, ":secret/"); strings.HasPrefix(name, "acs:kms:") && i >= 0 {
		return name[i+len(":secret/"):]
	}
	return name
}

// DeniedError reports a call refused locally, before any request was sent.
// It unwraps to kmsclient.ErrAccessDenied, so callers handle local and
// remote denials alike.
type DeniedError struct {
	Report localauthz.Report
}

func (e *DeniedError) Error() string {
	var missing []string
	for _, ch := range e.Report.Checks {
		if ch.Decision.Effect != localauthz.Allow {
			s := ch.Action + " on " + safetext.Field(ch.Resource)
			if ch.Decision.Effect == localauthz.ExplicitDeny {
				s = "explicitly denied " + s
			} else {
				s = "missing " + s
			}
			if ch.Why != "" {
				s += " (" + ch.Why + ")"
			}
			missing = append(missing, s)
		}
	}
	if e.Report.Err != nil {
		missing = append(missing, e.Report.Err.Error())
	}
	return "kmsenvelope: " + e.Report.Call.Operation + " refused locally by policy: " + strings.Join(missing, "; ")
}

// Unwrap returns kmsclient.ErrAccessDenied.
func (e *DeniedError) Unwrap() error { return kmsclient.ErrAccessDenied }

// Region returns the wrapped client's region.
func (g *Guard) Region() string { return g.next.Region() }

// CacheIdentity is the wrapped client's, when it has one (see
// envelope.CacheIdentifier): the local check decides nothing KMS would not,
// so it does not change whose data keys these are.
func (g *Guard) CacheIdentity() string {
	if ci, ok := g.next.(interface{ CacheIdentity() string }); ok {
		return ci.CacheIdentity()
	}
	return ""
}

// CallStat is a Call, how often it was made, and the facts it was
// authorized with (enough to expand it into its requirements again).
type CallStat struct {
	Call
	Count int
	Facts localauthz.Facts
}

// Calls returns the calls recorded so far with their counts, most frequent
// first: every (operation, resource) on a declared resource (Config.
// DeclaredKeys, DeclaredSecrets, and those Facts name), and at most
// Config.MaxCalls pairs on other resources, those with the highest counts
// (a new resource displaces the entry with the lowest count). A displaced
// entry's calls are counted in [Guard.OtherCalls] instead, so a policy made
// from Calls alone may miss resources used rarely among many others.
func (g *Guard) Calls() []CallStat {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls.calls()
}

// OtherCalls returns, by operation, how many calls were made on
// undeclared resources whose entries [Guard.Calls] no longer holds (beyond
// Config.MaxCalls). Every call is counted once, in Calls or here.
func (g *Guard) OtherCalls() map[string]int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls.others()
}

// KeyCall is the localauthz call for op on a key named by id, ARN or
// alias, with the facts the Guard knows (alias target, KMS instance).
func (g *Guard) KeyCall(op, keyID string) localauthz.Call { return g.keyCall(op, keyID, nil) }

// keyCall is KeyCall for a call that may carry an encryption context.
func (g *Guard) keyCall(op, keyID string, ec map[string]string) localauthz.Call {
	res, facts := g.keyResource(keyID)
	return localauthz.Call{Operation: op, Resource: res, Facts: facts, Context: g.requestContext(ec)}
}

// requestContext is the Guard's fixed context plus what each request
// supplies to RAM: acs:CurrentTime and, for calls that carry one, the
// encryption context as kms:EncryptionContext:<key>. Without them, a Deny
// conditioned on either would never match locally.
func (g *Guard) requestContext(ec map[string]string) localauthz.Context {
	c := make(localauthz.Context, len(g.cfg.Context)+1+len(ec))
	for k, v := range g.cfg.Context {
		c[k] = v
	}
	c.Set(localauthz.CondKeyCurrentTime, time.Now().UTC().Format(time.RFC3339))
	for k, v := range ec {
		c.Set("kms:EncryptionContext:"+k, v)
	}
	return c
}

// SecretCall is the localauthz call for reading a secret (named by name or
// ARN), with the key that encrypts it when that key is self-managed. A
// secret the Guard has no fact for (not declared, or its key could not be
// described) is checked with its key unknown, which the report records as
// an assumption, rather than as if it used the service-managed key.
func (g *Guard) SecretCall(name string) localauthz.Call {
	facts := g.baseFacts()
	name = secretName(name)
	switch key, known := g.cfg.Facts.SecretKeys[name]; {
	case key != "":
		facts.EncryptionKey = g.keyARN(key)
		facts.EncryptionKeyType = localauthz.KeyTypeSelfManaged
		facts.InKMSInstance = g.cfg.Facts.InstanceKeys[facts.EncryptionKey]
	case known:
		facts.EncryptionKeyType = localauthz.KeyTypeServiceManaged
	}
	return localauthz.Call{Operation: "GetSecretValue", Resource: g.secretARN(name), Facts: facts, Context: g.requestContext(nil)}
}

// Check returns the preflight report for one call without making it.
func (g *Guard) Check(call localauthz.Call) localauthz.Report {
	set := g.policies.Load()
	if set == nil {
		return localauthz.Report{Principal: g.cfg.Principal, Call: call, Decision: localauthz.Decision{Effect: localauthz.Allow}}
	}
	return set.Check(g.cfg.Principal, call)
}

// authorize records the call and applies the mode.
func (g *Guard) authorize(ctx context.Context, call localauthz.Call) (verdict, error) {
	if g.closed.Load() {
		return unchecked, ErrClosed
	}
	g.mu.Lock()
	g.calls.record(Call{Operation: call.Operation, Resource: call.Resource}, call.Facts)
	g.mu.Unlock()
	if g.cfg.Mode == Off {
		return unchecked, nil
	}
	rep := g.Check(call)
	if rep.Decision.Effect == localauthz.Allow && rep.Err == nil {
		return locallyAllowed, nil
	}
	err := &DeniedError{Report: rep}
	if rep.Decision.Effect == localauthz.Conditional && rep.Err == nil {
		// The decision hinges on a request key only KMS sees: KMS decides.
		g.conditional.Add(1)
		if g.cfg.Mode == Enforce && g.cfg.StrictConditions {
			return unchecked, err
		}
		return unchecked, nil
	}
	switch {
	case g.cfg.Mode == Warn:
		if g.cfg.Logger != nil {
			g.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "kms call not allowed by local policy; sending anyway (warn mode)",
				slog.String("operation", call.Operation), slog.String("resource", safetext.Field(call.Resource)), slog.String("report", err.Error()))
		}
		return locallyDenied, nil
	case g.cfg.Stale != nil && g.cfg.Stale():
		g.staleDeferrals.Add(1)
		if g.cfg.Logger != nil {
			g.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "kms call not allowed by a stale local policy set; KMS decides (enforce mode)",
				slog.String("operation", call.Operation), slog.String("resource", safetext.Field(call.Resource)))
		}
		return locallyDenied, nil
	}
	return locallyDenied, err
}

// verdict is what the local check said of a call that was sent.
type verdict uint8

const (
	unchecked      verdict = iota // Off mode: nothing was checked
	locallyAllowed                // the policies allow it
	locallyDenied                 // they do not, but it was sent (Warn, or a stale set)
)

// after notes a KMS answer that contradicts the local verdict.
func (g *Guard) after(op string, v verdict, err error) {
	disagree := v == locallyAllowed && errors.Is(err, kmsclient.ErrAccessDenied) ||
		v == locallyDenied && err == nil
	if !disagree {
		return
	}
	g.disagreements.Add(1)
	if f := g.cfg.OnDisagreement; f != nil {
		f(op)
	}
}

// keyResource turns a key id, key ARN or alias into (resource, facts).
func (g *Guard) keyResource(keyID string) (string, localauthz.Facts) {
	facts := g.baseFacts()
	if strings.HasPrefix(keyID, "acs:") {
		if strings.Contains(keyID, ":alias/") {
			name := "alias/" + keyID[strings.Index(keyID, ":alias/")+len(":alias/"):]
			facts.AliasTargetKey = g.keyARN(g.cfg.Facts.Aliases[name])
		}
		facts.InKMSInstance = g.cfg.Facts.InstanceKeys[keyID] || g.cfg.Facts.InstanceKeys[facts.AliasTargetKey]
		return keyID, facts
	}
	if strings.HasPrefix(keyID, "alias/") {
		target := g.keyARN(g.cfg.Facts.Aliases[keyID])
		facts.AliasTargetKey = target
		facts.InKMSInstance = g.cfg.Facts.InstanceKeys[target]
		return "acs:kms:" + g.next.Region() + ":" + g.cfg.Account + ":" + keyID, facts
	}
	arn := g.keyARN(keyID)
	facts.InKMSInstance = g.cfg.Facts.InstanceKeys[arn]
	return arn, facts
}

func (g *Guard) keyARN(keyID string) string {
	if keyID == "" || strings.HasPrefix(keyID, "acs:") {
		return keyID
	}
	return "acs:kms:" + g.next.Region() + ":" + g.cfg.Account + ":key/" + keyID
}

func (g *Guard) baseFacts() localauthz.Facts {
	return localauthz.Facts{Tags: g.cfg.Facts.Tags}
}

// GenerateDataKey checks kms:GenerateDataKey, then calls KMS.
func (g *Guard) GenerateDataKey(ctx context.Context, in *kmsclient.GenerateDataKeyInput) (*kmsclient.GenerateDataKeyOutput, error) {
	v, err := g.authorize(ctx, g.keyCall("GenerateDataKey", in.KeyID, in.EncryptionContext))
	if err != nil {
		return nil, err
	}
	out, err := g.next.GenerateDataKey(ctx, in)
	g.after("GenerateDataKey", v, err)
	return out, err
}

// Encrypt checks kms:Encrypt, then calls KMS.
func (g *Guard) Encrypt(ctx context.Context, in *kmsclient.EncryptInput) (*kmsclient.EncryptOutput, error) {
	v, err := g.authorize(ctx, g.keyCall("Encrypt", in.KeyID, in.EncryptionContext))
	if err != nil {
		return nil, err
	}
	out, err := g.next.Encrypt(ctx, in)
	g.after("Encrypt", v, err)
	return out, err
}

// Decrypt checks kms:Decrypt on the key the input names (KeyARN), then
// calls KMS. A blob without a KeyARN cannot be checked locally: in Enforce
// mode it is refused. KeyARN is what the message header claims, not what
// the blob is under; the check is advisory for that key (KMS decides on the
// real one, and envelope rejects an answer from any other key).
func (g *Guard) Decrypt(ctx context.Context, in *kmsclient.DecryptInput) (*kmsclient.DecryptOutput, error) {
	call := g.keyCall("Decrypt", in.KeyARN, in.EncryptionContext)
	if in.KeyARN == "" {
		call.Resource = "*"
	}
	v, err := g.authorize(ctx, call)
	if err != nil {
		return nil, err
	}
	out, err := g.next.Decrypt(ctx, in)
	g.after("Decrypt", v, err)
	return out, err
}

// ReEncrypt checks kms:ReEncryptFrom on the source key (KeyARN of the
// input) and kms:ReEncryptTo on the destination.
func (g *Guard) ReEncrypt(ctx context.Context, in *kmsclient.ReEncryptInput) (*kmsclient.EncryptOutput, error) {
	call := g.KeyCall("ReEncrypt", in.SourceKeyARN)
	dst, dfacts := g.keyResource(in.DestinationKeyID)
	call.Facts.DestinationKey = dst // an alias stays an alias: it needs ReEncryptTo too
	call.Facts.DestinationAliasTargetKey = dfacts.AliasTargetKey
	// Source and destination may differ in being in a KMS instance.
	ir := map[string]bool{call.Resource: call.Facts.InKMSInstance, dst: dfacts.InKMSInstance}
	for _, target := range []string{call.Facts.AliasTargetKey, dfacts.AliasTargetKey} {
		if target != "" {
			ir[target] = g.cfg.Facts.InstanceKeys[target]
		}
	}
	call.Facts.InstanceResources = ir
	v, err := g.authorize(ctx, call)
	if err != nil {
		return nil, err
	}
	out, err := g.next.ReEncrypt(ctx, in)
	g.after("ReEncrypt", v, err)
	return out, err
}

// DescribeKey checks kms:DescribeKey.
func (g *Guard) DescribeKey(ctx context.Context, keyID string) (*kmsclient.KeyMetadata, error) {
	v, err := g.authorize(ctx, g.KeyCall("DescribeKey", keyID))
	if err != nil {
		return nil, err
	}
	out, err := g.next.DescribeKey(ctx, keyID)
	g.after("DescribeKey", v, err)
	return out, err
}

// GetSecretValue checks kms:GetSecretValue on the secret and, for a secret
// under a self-managed key, kms:Decrypt on that key.
func (g *Guard) GetSecretValue(ctx context.Context, in *kmsclient.GetSecretValueInput) (*kmsclient.SecretValue, error) {
	v, err := g.authorize(ctx, g.SecretCall(in.SecretName))
	if err != nil {
		return nil, err
	}
	out, err := g.next.GetSecretValue(ctx, in)
	g.after("GetSecretValue", v, err)
	return out, err
}

func (g *Guard) secretARN(name string) string {
	if strings.HasPrefix(name, "acs:") {
		return name
	}
	return "acs:kms:" + g.next.Region() + ":" + g.cfg.Account + ":secret/" + name
}

// AccountOf returns the account id of a principal ARN (acs:ram::<uid>:...
// or acs:sts::<uid>:...), or "".
func AccountOf(principal string) string {
	parts := strings.SplitN(principal, ":", 5)
	if len(parts) < 5 || parts[0] != "acs" {
		return ""
	}
	return parts[3]
}
