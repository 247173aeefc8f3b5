package testkms

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kmsenvelope/kmsenvelope/internal/testkms/refpolicy"
)

// This file enforces RAM identity policies and key and secret policies with
// the emulator's own reference evaluator (package refpolicy), which shares
// no code with localauthz. Which (action, resource) pairs an API needs is
// stated by each handler in its own code, so that the differential test
// between localauthz's preflight and this emulator means something.

// AttachPolicy attaches a RAM identity policy, under name, to a RAM user or
// role (acs:ram::<uid>:user/<name> or acs:ram::<uid>:role/<name>); sessions of
// an assumed role are governed by the role's policies. Attaching a second
// document under the same name replaces the first. The document is parsed
// and validated as RAM would; a malformed one is returned as a
// *refpolicy.Error naming the JSON path of the fault. Policies are
// enforced only after [Server.EnforcePolicies].
//
// The RAM APIs (ListPoliciesForUser, GetPolicy, ...) show the policy as a
// custom policy named name, version "v1", in the target's account; the
// target user or role then exists for them even without an access key.
// RAM custom policies are account-wide entities: attach one name with one
// document. If a name is attached with different documents to different
// targets, each target is still governed by its own document, but GetPolicy
// answers with the most recently attached one.
func (s *Server) AttachPolicy(target, name, document string) error {
	if name == "" {
		return fmt.Errorf("testkms: AttachPolicy: empty policy name")
	}
	p, err := refpolicy.Parse([]byte(document), refpolicy.RAM)
	if err != nil {
		return err
	}
	if !validRAMName(name) {
		return fmt.Errorf("testkms: AttachPolicy: policy name %q has characters RAM does not allow", name)
	}
	kind, account, entity, ok := parseRAMEntityARN(target)
	if !ok || (kind != "user" && kind != "role") || !validRAMName(entity) || !validAccountID(account) {
		return fmt.Errorf("testkms: AttachPolicy: target %q is not a RAM user or role ARN", target)
	}
	now := s.now()
	s.ram.mu.Lock()
	defer s.ram.mu.Unlock()
	s.ram.registerLocked(kind, account, entity, now)
	s.ram.attachLocked(target, name, document, p, now)
	return nil
}

// validAccountID refuses account IDs with wildcards or ARN separators.
func validAccountID(a string) bool { return a != "" && !strings.ContainsAny(a, "*?/:") }

// DetachPolicy removes the policy attached under name from target (a user,
// role or group ARN, acs:ram::<uid>:group/<name>) and reports whether there
// was one.
func (s *Server) DetachPolicy(target, name string) bool {
	s.ram.mu.Lock()
	defer s.ram.mu.Unlock()
	if _, ok := s.ram.attached[target][name]; !ok {
		return false
	}
	delete(s.ram.attached[target], name)
	return true
}

// EnforcePolicies makes the server decide every permission check with the
// attached RAM policies and the key and secret policies, as KMS does: a
// request that no policy allows is answered 403 Forbidden.NoPermission with
// an AccessDeniedDetail. A user's RAM policies are its own and those of the
// groups it belongs to; a role session's are its role's. Decisions follow
// package refpolicy (see its documentation for the seed sentence behind
// each rule); in particular a key's default policy, whose only principal is
// acs:ram::<uid>:*, grants the account root and no RAM user or role. The same
// evaluation decides the ram: actions of the RAM APIs. It replaces any
// Authorizer set with [Server.SetAuthorizer]; forced denials
// ([Server.Deny]) still apply.
// Without it (the default) every check is allowed.
func (s *Server) EnforcePolicies() {
	s.SetAuthorizer(&policyAuthorizer{s: s})
}

// ramPolicies holds the emulated RAM state: the identity policies attached
// with AttachPolicy and AttachGroupPolicy, the groups and their members, and
// the users and roles known to exist. It has its own lock, never held
// together with Server.mu.
type ramPolicies struct {
	mu       sync.Mutex
	attached map[string]map[string]*ramAttachment // target ARN (user, role, group) -> name -> policy
	groups   map[string]*ramGroup                 // group ARN -> group
	entities map[string]time.Time                 // user and role ARNs -> creation time
	seq      uint64                               // attachment counter, for "most recent"
}

// ramAttachment is one policy attached to one user, role or group.
type ramAttachment struct {
	policy   *refpolicy.Policy
	document string
	attached time.Time
	seq      uint64
}

// ramGroup is a RAM user group.
type ramGroup struct {
	account, name string
	created       time.Time
	members       map[string]time.Time // user name -> join time
}

// registerLocked records that a user or role exists. Call with r.mu held.
func (r *ramPolicies) registerLocked(kind, account, name string, now time.Time) {
	arn := ramEntityARN(account, kind, name)
	if r.entities == nil {
		r.entities = map[string]time.Time{}
	}
	if _, ok := r.entities[arn]; !ok {
		r.entities[arn] = now
	}
}

// attachLocked attaches (or replaces) policy name on target. Call with r.mu
// held.
func (r *ramPolicies) attachLocked(target, name, doc string, p *refpolicy.Policy, now time.Time) {
	if r.attached == nil {
		r.attached = map[string]map[string]*ramAttachment{}
	}
	if r.attached[target] == nil {
		r.attached[target] = map[string]*ramAttachment{}
	}
	r.seq++
	r.attached[target][name] = &ramAttachment{policy: p, document: doc, attached: now, seq: r.seq}
}

// identityPolicies returns the RAM policies that govern principal, in a
// stable order: a user's own and those of the groups it belongs to, a role
// session's role's (RAM attaches policies to the role, and every session of
// it acts with them). The account root has none.
func (r *ramPolicies) identityPolicies(principal string) []refpolicy.Named {
	var holder, user, account string
	if acct, role, ok := sessionRole(principal); ok {
		holder = ramEntityARN(acct, "role", role)
	} else if kind, acct, name, ok := parseRAMEntityARN(principal); ok && (kind == "user" || kind == "role") {
		holder = principal
		if kind == "user" {
			user, account = name, acct
		}
	}
	if holder == "" {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []refpolicy.Named
	add := func(prefix string, byName map[string]*ramAttachment) {
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, refpolicy.Named{Name: prefix + n, Policy: byName[n].policy})
		}
	}
	add("", r.attached[holder])
	if user != "" {
		groups := make([]string, 0, len(r.groups))
		for arn, g := range r.groups {
			if _, member := g.members[user]; member && g.account == account {
				groups = append(groups, arn)
			}
		}
		sort.Strings(groups)
		for _, arn := range groups {
			add("group/"+r.groups[arn].name+"/", r.attached[arn])
		}
	}
	return out
}

// sessionRole returns the account and role of a role session's principal,
// acs:ram::<uid>:assumed-role/<role>/<session> (as STS GetCallerIdentity
// spells it) or acs:sts::<uid>:assumed-role/<role>/<session> (the older
// spelling, still accepted).
func sessionRole(principal string) (account, role string, ok bool) {
	rest, ok := strings.CutPrefix(principal, "acs:ram::")
	if !ok {
		if rest, ok = strings.CutPrefix(principal, "acs:sts::"); !ok {
			return "", "", false
		}
	}
	account, rel, _ := strings.Cut(rest, ":")
	r, ok := strings.CutPrefix(rel, "assumed-role/")
	if !ok || account == "" {
		return "", "", false
	}
	role, session, _ := strings.Cut(r, "/")
	if role == "" || session == "" {
		return "", "", false
	}
	return account, role, true
}

// canonicalPrincipal returns p with a role session's older spelling
// acs:sts::<uid>:assumed-role/... rewritten as acs:ram::<uid>:assumed-role/...,
// the form the emulator's credentials carry.
func canonicalPrincipal(p string) string {
	if rest, ok := strings.CutPrefix(p, "acs:sts::"); ok {
		if _, _, ok := sessionRole(p); ok {
			return "acs:ram::" + rest
		}
	}
	return p
}

// policyAuthorizer evaluates each check against the caller's RAM policies
// and the resource's own policy with refpolicy.
type policyAuthorizer struct {
	s *Server

	mu    sync.Mutex
	cache map[string]parsedPolicy // kind + "\x00" + document -> parse result
}

type parsedPolicy struct {
	p   *refpolicy.Policy
	err error
}

// maxCachedPolicies bounds the parse cache: a long-lived server seeing
// many distinct key policies must not grow without bound.
const maxCachedPolicies = 256

func (a *policyAuthorizer) Authorize(req AuthzRequest) *Denial {
	in := refpolicy.Request{
		Principal:     req.Principal,
		Action:        req.Action,
		Resource:      req.Resource,
		Context:       req.Context,
		Identity:      a.s.ram.identityPolicies(req.Principal),
		InKMSInstance: req.InKMSInstance,
	}
	if req.ResourcePolicy != "" {
		p, err := a.resourcePolicy(req.Resource, req.ResourcePolicy)
		if err != nil {
			return &Denial{Reason: "the resource policy of " + req.Resource + " is invalid: " + err.Error(), PolicyType: PolicyTypeResource}
		}
		if p != nil {
			in.ResourcePolicy = &refpolicy.Named{Name: "default", Policy: p}
		}
	}
	d := refpolicy.Evaluate(in)
	if d.Effect == refpolicy.Allow {
		return nil
	}
	den := &Denial{Explicit: d.Effect == refpolicy.ExplicitDeny, PolicyType: PolicyTypeIdentity, Reason: d.Reason}
	if d.ByResourcePolicy {
		den.PolicyType = PolicyTypeResource
	}
	return den
}

// resourcePolicy parses (once per distinct document, while the cache has
// room) the key or secret policy attached to resource. It returns nil for
// resources that carry none.
func (a *policyAuthorizer) resourcePolicy(resource, doc string) (*refpolicy.Policy, error) {
	kind := refpolicy.Key
	switch {
	case strings.Contains(resource, ":secret/"):
		kind = refpolicy.Secret
	case !strings.Contains(resource, ":key/"):
		return nil, nil
	}
	key := kind.String() + "\x00" + doc
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.cache[key]; ok {
		return c.p, c.err
	}
	p, err := refpolicy.Parse([]byte(doc), kind)
	if a.cache == nil || len(a.cache) >= maxCachedPolicies {
		a.cache = make(map[string]parsedPolicy)
	}
	a.cache[key] = parsedPolicy{p: p, err: err}
	return p, err
}
