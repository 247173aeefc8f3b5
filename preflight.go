package kmsenvelope

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/kmsenvelope/kmsenvelope/internal/guard"
	"github.com/kmsenvelope/kmsenvelope/kmsclient"
	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// policyState is what New learned about the caller and its permissions.
type policyState struct {
	principal string
	account   string
	keyARN    string                // Config.KeyID's key, when known
	set       *localauthz.PolicySet // nil: no policies to check against
	source    string                // where set came from
	facts     guard.Facts
	context   localauthz.Context
	notes     []string // what could not be learned, and why
	liveErr   error    // reading live policies failed
}

// loadPolicies learns the caller, the policy set and the facts local checks
// need.
func (c *Client) loadPolicies(ctx context.Context) (*policyState, error) {
	cfg := c.cfg
	st := &policyState{
		principal: cfg.Principal,
		facts:     guard.Facts{Aliases: map[string]string{}, SecretKeys: map[string]string{}, InstanceKeys: map[string]bool{}},
	}
	st.context, st.notes = c.requestContext(ctx)
	needPolicy := cfg.PolicyMode != PolicyOff || cfg.LivePolicies
	if st.principal == "" && needPolicy {
		id, err := c.kms.GetCallerIdentity(ctx)
		if err != nil {
			return nil, fmt.Errorf("kmsenvelope: learning the caller (sts:GetCallerIdentity) for policy checks: %w", err)
		}
		st.principal, st.account = id.ARN, id.AccountID
	}
	if st.account == "" {
		st.account = guard.AccountOf(st.principal)
	}
	// Facts serve local checks, preflight and least-privilege reports; a
	// fact that cannot be learned is noted, not fatal.
	c.resolveFacts(ctx, st)

	var err error
	if st.set, err = configuredPolicies(cfg); err != nil {
		return nil, err
	}
	if st.set != nil {
		st.source = "configured policies"
	}
	if cfg.LivePolicies {
		if st.set == nil {
			st.set = &localauthz.PolicySet{}
		}
		st.source = "live policies"
		if err := c.fetchLivePolicies(ctx, st); err != nil {
			st.liveErr = err
			st.notes = append(st.notes, "could not read the caller's own policies: "+err.Error())
			if cfg.PolicyMode == PolicyEnforce {
				return nil, fmt.Errorf("kmsenvelope: enforce mode needs the caller's policies: %w", err)
			}
			// Keep what was configured, without the live policies read
			// before the failure (a partial set would mislead).
			st.set, _ = configuredPolicies(cfg)
			st.source = ""
			if st.set != nil {
				st.source = "configured policies (live policies unreadable)"
			} else if cfg.PolicyMode == PolicyWarn {
				return nil, fmt.Errorf("kmsenvelope: warn mode needs policies to check against, and the caller's own could not be read (give Config.Policies or grant the RAM read actions): %w", err)
			}
		}
	}
	if cfg.PolicyMode != PolicyOff && st.set == nil {
		return nil, errors.New("kmsenvelope: a policy mode needs Config.Policies or Config.LivePolicies")
	}
	return st, nil
}

// configuredPolicies parses Config.Policies into a set, or returns nil when
// there are none.
func configuredPolicies(cfg Config) (*localauthz.PolicySet, error) {
	if len(cfg.Policies) == 0 {
		return nil, nil
	}
	set := &localauthz.PolicySet{}
	for i, p := range cfg.Policies {
		name := p.Name
		if name == "" {
			name = fmt.Sprintf("Config.Policies[%d]", i)
		}
		pol, err := localauthz.ParsePolicy(p.Document, p.Kind, localauthz.WithName(name))
		if err != nil {
			return nil, fmt.Errorf("kmsenvelope: %s: %w", name, err)
		}
		if err := set.Add(pol, p.Target); err != nil {
			return nil, fmt.Errorf("kmsenvelope: %s: %w", name, err)
		}
	}
	return set, nil
}

// resolveFacts learns the key's ARN and instance and the keys that encrypt
// the declared secrets. What cannot be learned is noted, not fatal.
func (c *Client) resolveFacts(ctx context.Context, st *policyState) {
	// One DescribeKey per key: a secret is often under the configured key.
	described := map[string]*kmsclient.KeyMetadata{}
	describe := func(id string) (*kmsclient.KeyMetadata, error) {
		if md, ok := described[id]; ok {
			return md, nil
		}
		md, err := c.kms.DescribeKey(ctx, id)
		if err == nil {
			described[id], described[md.KeyID], described[md.ARN] = md, md, md
		}
		return md, err
	}
	if k := c.cfg.KeyID; k != "" {
		if strings.HasPrefix(k, "acs:kms:") && strings.Contains(k, ":key/") {
			st.keyARN = k
		}
		if md, err := describe(k); err == nil {
			st.keyARN = md.ARN
			if strings.HasPrefix(k, "alias/") || strings.Contains(k, ":alias/") {
				st.facts.Aliases[aliasName(k)] = md.ARN
			}
			if md.InstanceID != "" {
				st.facts.InstanceKeys[md.ARN] = true
			}
		} else {
			st.notes = append(st.notes, "could not describe key "+k+": "+err.Error())
		}
		// The account completes the ARN of a key named by id, so messages
		// name it fully and decryption needs no management call: from the
		// key's ARN, or else from STS.
		if st.account == "" {
			st.account = accountOfARN(st.keyARN)
		}
		if st.account == "" && st.keyARN == "" {
			if id, err := c.kms.GetCallerIdentity(ctx); err == nil {
				st.account = id.AccountID
				if st.principal == "" {
					st.principal = id.ARN
				}
			} else {
				st.notes = append(st.notes, "the account is unknown (sts:GetCallerIdentity failed), so key ARNs in messages have no account: "+err.Error())
			}
		}
	}
	for _, name := range c.cfg.SecretNames {
		md, err := c.kms.DescribeSecret(ctx, name)
		if err != nil {
			st.notes = append(st.notes, "could not describe secret "+name+": "+err.Error())
			continue
		}
		if md.EncryptionKeyID == "" {
			// The service-managed key: known, and needs no kms:Decrypt.
			st.facts.SecretKeys[name] = ""
			continue
		}
		arn := md.EncryptionKeyID
		if kmd, err := describe(md.EncryptionKeyID); err == nil {
			arn = kmd.ARN
			if kmd.InstanceID != "" {
				st.facts.InstanceKeys[arn] = true
			}
		} else if !strings.HasPrefix(arn, "acs:") && st.account != "" {
			arn = "acs:kms:" + c.cfg.Region + ":" + st.account + ":key/" + arn
		}
		st.facts.SecretKeys[name] = arn
	}
}

// fetchLivePolicies reads the caller's RAM policies and the key and secret
// policies that apply.
func (c *Client) fetchLivePolicies(ctx context.Context, st *policyState) error {
	kind, name := principalKind(st.principal)
	var attached []kmsclient.AttachedPolicy
	var holder string
	var err error
	switch kind {
	case "user":
		holder = "acs:ram::" + st.account + ":user/" + name
		attached, err = c.kms.ListUserPolicies(ctx, name)
	case "role":
		holder = "acs:ram::" + st.account + ":role/" + name
		attached, err = c.kms.ListRolePolicies(ctx, name)
	case "root":
		// The account root needs no RAM policy for its own resources.
	default:
		return fmt.Errorf("cannot read the policies of principal %q", st.principal)
	}
	if err != nil {
		return err
	}
	for _, a := range attached {
		doc, err := c.kms.GetPolicyDocument(ctx, a.Name, a.Type)
		if err != nil {
			return err
		}
		if err := c.addLivePolicy(st, doc, localauthz.RAMPolicy, a.Type+" policy "+a.Name, holder); err != nil {
			return err
		}
	}
	for arn := range st.facts.InstanceKeys {
		doc, err := c.kms.GetKeyPolicy(ctx, arn, "")
		if err != nil {
			if c.cfg.PolicyMode == PolicyEnforce {
				// Checking without it could miss a Deny, as a policy that
				// does not parse could.
				return fmt.Errorf("reading the key policy of %s: %w", arn, err)
			}
			st.notes = append(st.notes, "could not read the key policy of "+arn+": "+err.Error())
			continue
		}
		if err := c.addLivePolicy(st, doc, localauthz.KeyPolicy, "key policy of "+arn, arn); err != nil {
			return err
		}
	}
	for name, key := range st.facts.SecretKeys {
		if !st.facts.InstanceKeys[key] {
			continue
		}
		doc, err := c.kms.GetSecretPolicy(ctx, name, "")
		if err != nil {
			if c.cfg.PolicyMode == PolicyEnforce {
				return fmt.Errorf("reading the secret policy of %s: %w", name, err)
			}
			st.notes = append(st.notes, "could not read the secret policy of "+name+": "+err.Error())
			continue
		}
		if err := c.addLivePolicy(st, doc, localauthz.SecretPolicy, "secret policy of "+name, "acs:kms:"+c.cfg.Region+":"+st.account+":secret/"+name); err != nil {
			return err
		}
	}
	return nil
}

// addLivePolicy parses a policy read from RAM or KMS and adds it for
// target. One that does not parse is noted, or in Enforce mode is an error:
// dropping it could drop a Deny.
func (c *Client) addLivePolicy(st *policyState, doc string, kind localauthz.PolicyKind, name, target string) error {
	p, err := localauthz.ParsePolicy([]byte(doc), kind, localauthz.WithName(name))
	if err != nil {
		if c.cfg.PolicyMode == PolicyEnforce {
			return fmt.Errorf("the %s does not parse: %w", name, err)
		}
		st.notes = append(st.notes, name+" does not parse (its statements, Deny included, are not checked locally): "+err.Error())
		return nil
	}
	return st.set.Add(p, target)
}

// Preflight checks the declared operations before the application serves:
// against the policy set when there is one, otherwise (or in addition, for
// operations that support it) with KMS DryRun calls, which check
// permissions and key state without acting.
func (c *Client) Preflight(ctx context.Context) (*PreflightReport, error) {
	if err := c.checkOpen("Preflight"); err != nil {
		return nil, err
	}
	st := c.state
	rep := &PreflightReport{Principal: st.principal, Source: st.source, Notes: append([]string(nil), st.notes...)}
	type op struct {
		call  localauthz.Call
		probe func() error // a KMS DryRun of the call, if the API has one
	}
	var ops []op
	if c.cfg.KeyID != "" {
		ops = append(ops,
			op{c.guard.KeyCall("GenerateDataKey", c.cfg.KeyID), func() error {
				_, err := c.kms.GenerateDataKey(ctx, &kmsclient.GenerateDataKeyInput{KeyID: c.cfg.KeyID, DryRun: true})
				return err
			}},
			op{c.guard.KeyCall("Decrypt", c.cfg.KeyID), func() error {
				// Decrypt's DryRun needs a real ciphertext of the key: make
				// one without a plaintext ever leaving KMS.
				w, err := c.kms.GenerateDataKeyWithoutPlaintext(ctx, &kmsclient.GenerateDataKeyInput{KeyID: c.cfg.KeyID})
				if err != nil {
					return &probeSetupError{err: err}
				}
				_, err = c.kms.Decrypt(ctx, &kmsclient.DecryptInput{CiphertextBlob: w.CiphertextBlob, DryRun: true})
				return err
			}})
	}
	for _, name := range c.cfg.SecretNames {
		ops = append(ops, op{c.guard.SecretCall(name), func() error {
			_, err := c.kms.GetSecretValue(ctx, &kmsclient.GetSecretValueInput{SecretName: name, DryRun: true})
			return err
		}})
	}
	if st.set == nil {
		rep.Source = "dry run"
	}
	account := st.account
	if rep.Principal == "" {
		// Nothing needed the caller until now; a report names it.
		if id, err := c.kms.GetCallerIdentity(ctx); err == nil {
			rep.Principal, account = id.ARN, id.AccountID
		} else {
			rep.Notes = append(rep.Notes, "the caller is unknown: sts:GetCallerIdentity failed: "+err.Error())
		}
	}
	for _, o := range ops {
		oc := OperationCheck{Operation: o.call.Operation, Resource: withAccount(o.call.Resource, account)}
		if o.probe != nil {
			oc.DryRun = dryRunResult(o.probe())
		}
		if st.set != nil {
			local := c.guard.Check(o.call)
			oc.Local = &local
		}
		combine(&oc)
		oc.FromDryRun = c.explainDenial(oc.DryRun, o.call)
		rep.Operations = append(rep.Operations, oc)
	}
	return rep, nil
}

// accountOfARN returns the account of an acs:kms ARN, or "".
func accountOfARN(arn string) string {
	parts := strings.SplitN(arn, ":", 5)
	if len(parts) < 5 || parts[0] != "acs" {
		return ""
	}
	return parts[3]
}

// withAccount fills the empty account of a KMS resource ARN the guard built
// before the account was known, or names it as unknown: a report never
// shows a blank where a fact is missing.
func withAccount(arn, account string) string {
	rest, ok := strings.CutPrefix(arn, "acs:kms:")
	if !ok {
		return arn
	}
	region, tail, ok := strings.Cut(rest, ":")
	if !ok || !strings.HasPrefix(tail, ":") {
		return arn
	}
	if account == "" {
		account = "<account unknown>"
	}
	return "acs:kms:" + region + ":" + account + tail
}

// explainDenial turns a DryRun access denial into preflight words: the
// missing (action, resource) and the statement that would grant it. A
// secret's missing kms:Decrypt is about the key that encrypts it, so that
// key is named. nil when d is not an access denial.
func (c *Client) explainDenial(d *DryRunResult, call localauthz.Call) *localauthz.Report {
	var ae *kmsclient.APIError
	if d == nil || !errors.As(d.err, &ae) || ae.AccessDenied == nil {
		return nil
	}
	ad := ae.AccessDenied
	resource := call.Resource
	if strings.EqualFold(ad.Action, "kms:Decrypt") && call.Facts.EncryptionKey != "" {
		resource = call.Facts.EncryptionKey
	}
	r := localauthz.FromAccessDenied(localauthz.AccessDeniedDetail{
		AuthAction: ad.Action, AuthPrincipalType: ad.PrincipalType, AuthPrincipalOwnerId: ad.PrincipalOwnerID,
		AuthPrincipalDisplayName: ad.PrincipalDisplayName, NoPermissionType: ad.NoPermissionType, PolicyType: ad.PolicyType,
	}, resource)
	if r.Principal == "" {
		r.Principal = c.state.principal
	}
	return &r
}

// ErrIncompletePolicy: LeastPrivilegePolicy could not cover every call,
// because the bounded call table dropped some resources (see Stats.Calls).
var ErrIncompletePolicy = errors.New("kmsenvelope: least-privilege policy does not cover every call")

// probeSetupError is a failure to prepare a DryRun probe (the ciphertext a
// Decrypt probe needs), as opposed to the probe's own answer.
type probeSetupError struct{ err error }

func (e *probeSetupError) Error() string {
	return "could not make a ciphertext to probe Decrypt with (kms:GenerateDataKeyWithoutPlaintext): " + e.err.Error()
}
func (e *probeSetupError) Unwrap() error { return e.err }

// LeastPrivilegePolicy returns the minimal RAM policy that allows exactly
// the KMS calls this Client has made (or had refused locally) so far. It
// covers the resources Stats.Calls lists: every declared resource (KeyID,
// SecretNames) and, of the others, those the bounded call table kept. When
// calls on resources it did not keep were made, it says so in an error
// that still carries the policy (errors.Is(err, ErrIncompletePolicy)).
func (c *Client) LeastPrivilegePolicy() (string, error) {
	st := c.state
	var missing []localauthz.Missing
	seen := map[[2]string]bool{}
	for _, call := range c.guard.Calls() {
		reqs, err := localauthz.Expand(call.Operation, call.Resource, call.Facts)
		if err != nil {
			return "", err
		}
		for _, r := range reqs {
			k := [2]string{r.Action, r.Resource}
			if !seen[k] {
				seen[k] = true
				missing = append(missing, localauthz.Missing{Action: r.Action, Resource: r.Resource, Where: localauthz.WhereRAM})
			}
		}
	}
	grants := localauthz.SuggestGrants(st.principal, missing)
	if len(grants) == 0 {
		return "", errors.New("kmsenvelope: no KMS calls recorded yet")
	}
	if other := c.guard.OtherCalls(); len(other) > 0 {
		var n int
		for _, k := range other {
			n += k
		}
		return string(grants[0].Policy), fmt.Errorf("kmsenvelope: %d calls on resources beyond the call table's bound are not covered: %w", n, ErrIncompletePolicy)
	}
	return string(grants[0].Policy), nil
}

func aliasName(k string) string {
	if i := strings.Index(k, ":alias/"); i >= 0 {
		return k[i+1:]
	}
	return k
}

// principalKind classifies a principal ARN: "user", "role" (an assumed-role
// session or a role), "root", or "".
func principalKind(p string) (kind, name string) {
	parts := strings.SplitN(p, ":", 5)
	if len(parts) != 5 {
		return "", ""
	}
	rest := parts[4]
	switch {
	case rest == "root":
		return "root", ""
	case strings.HasPrefix(rest, "user/"):
		return "user", strings.TrimPrefix(rest, "user/")
	case strings.HasPrefix(rest, "assumed-role/"):
		role := strings.TrimPrefix(rest, "assumed-role/")
		if i := strings.Index(role, "/"); i >= 0 {
			role = role[:i]
		}
		return "role", role
	case strings.HasPrefix(rest, "role/"):
		return "role", strings.TrimPrefix(rest, "role/")
	}
	return "", ""
}
