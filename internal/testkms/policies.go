package testkms

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kmsenvelope/kmsenvelope/localauthz"
)

// This file enforces RAM identity policies and key and secret policies with
// localauthz's evaluator. Only the evaluator is used: which (action,
// resource) pairs an API needs is stated by each handler in its own code,
// never taken from localauthz's operation catalogue, so that the
// differential test between the catalogue and this emulator means something.

// AttachPolicy attaches a RAM identity policy, under name, to a RAM user or
// role (acs:ram::<uid>:user/<name> or acs:ram::<uid>:role/<name>); sessions of
// an assumed role are governed by the role's policies. Attaching a second
// document under the same name replaces the first. The document is parsed
// and validated as RAM would; a malformed one is returned as a
// *localauthz.PolicyError. Policies are enforced only after
// [Server.EnforcePolicies].
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
	p, err := localauthz.ParsePolicy([]byte(document), localauthz.RAMPolicy, localauthz.WithName(name))
	if err != nil {
		return err
	}
	// Validate the target now rather than on the first request.
	var probe localauthz.PolicySet
	if err := probe.Add(p, target); err != nil || target == "" {
		return fmt.Errorf("testkms: AttachPolicy: target %q is not a RAM user or role ARN", target)
	}
	if !validRAMName(name) {
		return fmt.Errorf("testkms: AttachPolicy: policy name %q has characters RAM does not allow", name)
	}
	kind, account, entity, ok := parseRAMEntityARN(target)
	if !ok || (kind != "user" && kind != "role") {
		return fmt.Errorf("testkms: AttachPolicy: target %q is not a RAM user or role ARN", target)
	}
	now := s.now()
	s.ram.mu.Lock()
	defer s.ram.mu.Unlock()
	s.ram.registerLocked(kind, account, entity, now)
	s.ram.attachLocked(target, name, document, p, now)
	return nil
}

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
// groups it belongs to; a role session's are its role's. The same
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
	policy   *localauthz.Policy
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
func (r *ramPolicies) attachLocked(target, name, doc string, p *localauthz.Policy, now time.Time) {
	if r.attached == nil {
		r.attached = map[string]map[string]*ramAttachment{}
	}
	if r.attached[target] == nil {
		r.attached[target] = map[string]*ramAttachment{}
	}
	r.seq++
	r.attached[target][name] = &ramAttachment{policy: p, document: doc, attached: now, seq: r.seq}
}

// snapshot returns every attached policy with the user or role it governs,
// in a stable order. A group's policies are listed once per member user: a
// user's effective RAM policies are its own and those of its groups.
func (r *ramPolicies) snapshot() []attachedPolicy {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []attachedPolicy
	for target, byName := range r.attached {
		if g := r.groups[target]; g != nil {
			for member := range g.members {
				user := ramEntityARN(g.account, "user", member)
				for name, a := range byName {
					out = append(out, attachedPolicy{target: user, name: "group/" + g.name + "/" + name, policy: a.policy})
				}
			}
			continue
		}
		for name, a := range byName {
			out = append(out, attachedPolicy{target: target, name: name, policy: a.policy})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].target != out[j].target {
			return out[i].target < out[j].target
		}
		return out[i].name < out[j].name
	})
	return out
}

type attachedPolicy struct {
	target, name string
	policy       *localauthz.Policy
}

// policyAuthorizer evaluates each check against the attached RAM policies
// and the resource's own policy.
type policyAuthorizer struct {
	s     *Server
	cache sync.Map // resource policy document -> *localauthz.Policy or error
}

func (a *policyAuthorizer) Authorize(req AuthzRequest) *Denial {
	var set localauthz.PolicySet
	for _, ap := range a.s.ram.snapshot() {
		_ = set.Add(ap.policy, ap.target) // targets were validated on attach
	}
	if req.ResourcePolicy != "" {
		p, err := a.resourcePolicy(req.Resource, req.ResourcePolicy)
		if err != nil {
			return &Denial{Reason: "the resource policy of " + req.Resource + " is invalid: " + err.Error(), PolicyType: PolicyTypeResource}
		}
		if p != nil {
			_ = set.Add(p, req.Resource)
		}
	}
	ctx := make(localauthz.Context, len(req.Context))
	for k, v := range req.Context {
		ctx.Set(k, v)
	}
	d := set.Evaluate(localauthz.Request{
		Principal:     req.Principal,
		Action:        req.Action,
		Resource:      req.Resource,
		Context:       ctx,
		InKMSInstance: req.InKMSInstance,
	})
	if d.Effect == localauthz.Allow {
		return nil
	}
	den := &Denial{Explicit: d.Effect == localauthz.ExplicitDeny, PolicyType: PolicyTypeIdentity}
	var reason strings.Builder
	switch {
	case d.Err != nil:
		reason.WriteString(d.Err.Error())
	case d.Effect == localauthz.ExplicitDeny && len(d.Denied) > 0:
		reason.WriteString("explicitly denied by " + d.Denied[0].StatementRef.String())
		if d.Denied[0].Kind != localauthz.RAMPolicy {
			den.PolicyType = PolicyTypeResource
		}
	default:
		reason.WriteString("no policy allows " + req.Action + " on " + req.Resource)
	}
	den.Reason = reason.String()
	return den
}

// resourcePolicy parses (once per distinct document) the key or secret
// policy attached to resource. It returns nil for resources that carry none.
func (a *policyAuthorizer) resourcePolicy(resource, doc string) (*localauthz.Policy, error) {
	kind := localauthz.KeyPolicy
	switch {
	case strings.Contains(resource, ":secret/"):
		kind = localauthz.SecretPolicy
	case !strings.Contains(resource, ":key/"):
		return nil, nil
	}
	key := string(kind) + "\x00" + doc
	if v, ok := a.cache.Load(key); ok {
		if err, isErr := v.(error); isErr {
			return nil, err
		}
		return v.(*localauthz.Policy), nil
	}
	p, err := localauthz.ParsePolicy([]byte(doc), kind)
	if err != nil {
		a.cache.Store(key, err)
		return nil, err
	}
	a.cache.Store(key, p)
	return p, nil
}
